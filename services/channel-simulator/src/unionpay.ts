import {
  createHash,
  createPublicKey,
  createSign,
  createVerify,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { deflateSync } from "node:zlib";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { zipSync } from "fflate";
import type { NotifyMode } from "./alipay.ts";
import { type IssuedCert, issueCert } from "./rsa-certs.ts";
import { escapeHtml, sleep } from "./text.ts";

/**
 * UnionPay online payments (银联全渠道, ACP 5.1.0) as a peer on loopback, written from the protocol
 * with node:crypto (and pkijs for its certificates), independently of the merchant's adapter:
 * - at start it makes its own chain, root → middle → UnionPay's signing certificate (CN
 *   `041@…@中国银联股份有限公司@…`), as the acp root and middle certificates a merchant installs;
 * - every request (form POST) is checked: version 5.1.0, signMethod 01, the registered merchant's
 *   certId, and signature = base64(SHA256withRSA(hex SHA-256 of the sorted `key=value&…` of every
 *   other field)) with that merchant's public key; anything else is respCode 11 (验证签名失败);
 * - every answer (`key=value&…`, not percent-encoded) and every backUrl notify (a form POST) is
 *   signed the same way with UnionPay's key, its certificate in signPubKeyCert; a notify is sent
 *   again until the merchant answers HTTP 200;
 * - backTransReq: 申请消费二维码 (01/07) and 退货 (04/00); frontTransReq: the gateway's pay page
 *   (01/01); queryTrans (00) by orderId and txnTime; fileTransfer (76): the settleDate's zip with
 *   the INN<yyMMdd>88ZM_<merId> file in its fixed-width layout, zlib-deflated and base64'd.
 * The payer goes back to frontUrl by a form POST of the signed result (前台通知). Settlement
 * days cut at 23:00 Beijing time, as UnionPay's do. Faults for tests: drop, duplicate
 * or delay notifies, notifies with another amount, forged ones, stalled paths, held answers.
 */
export interface UnionpayRefund {
  orderId: string;
  txnTime: string;
  amount: number;
  queryId: string;
  traceNo: string;
  createdAt: Date;
  successAt: Date;
  backUrl: string;
}

export interface UnionpayTrade {
  merId: string;
  orderId: string;
  /** The consume's txnTime (yyyyMMddHHmmss): the query names the order by it. */
  txnTime: string;
  txnAmt: number;
  bizType: string;
  /** 07 申请消费二维码 (qr) or 01 gateway (wap). */
  txnSubType: "07" | "01";
  backUrl: string;
  frontUrl: string | undefined;
  payTimeout: Date | undefined;
  state: "WAITING" | "PAID";
  queryId: string;
  traceNo: string;
  paidAt: Date | undefined;
  refunds: Map<string, UnionpayRefund>;
  /** Every refund request for the trade, repeats included. */
  refundCalls: number;
  notifiesSent: number;
  notifiesTaken: number;
}

export type UnionpayTamper = "signature" | "body" | "cert" | "owner" | "expired";

export interface UnionpaySimulator {
  readonly url: string;
  /** https://gateway.95516.com/gateway/api/ in production. */
  readonly gatewayUrl: string;
  /** https://filedownload.95516.com/ in production. */
  readonly fileUrl: string;
  /** UnionPay's acp root and middle certificates (PEM): the merchant trusts signPubKeyCert by them. */
  readonly rootCert: string;
  readonly middleCert: string;
  /** The merchant's signing certificate as UnionPay registered it: its public key; answers its certId. */
  registerMerchant(merId: string, publicKeyPem: string): { certId: string };
  trade(orderId: string): UnionpayTrade | undefined;
  /** The payer pays (scans the code, or on the gateway's page). Refused once paid or lapsed. */
  pay(orderId: string, at?: Date): Promise<UnionpayTrade>;
  /** Money taken although the merchant gave the order up (UnionPay has no close). */
  payDespiteClose(orderId: string): Promise<UnionpayTrade>;
  /** A consume the merchant never opened, paid at `at` (for the reconciliation file). */
  plantTrade(merId: string, orderId: string, txnAmt: number, at: Date): UnionpayTrade;
  renotify(orderId: string): Promise<void>;
  /**
   * One notify now, once: `txnAmt`, `orderId` or `merId` another value in a correctly signed
   * notify; `tamper` a forgery (another key's signature; a field changed after signing; a whole
   * other chain; a certificate the real middle issued to another company; an expired one).
   */
  notifyOnce(
    orderId: string,
    options?: { txnAmt?: number; orderId?: string; merId?: string; tamper?: UnionpayTamper },
  ): Promise<{ status: number; body: string }>;
  /** MMDD of the settlement day an instant falls in (23:00 Beijing cut-off). */
  settleDateOf(at: Date): string;
  faults: {
    notify: NotifyMode;
    notifyDelayMs: number;
    stallMs: number;
    stallPaths: Set<string>;
    answerDelayMs: number;
    answerDelayPaths: Set<string>;
    /** How long a refund stays 05 (accepted) before it is 00. */
    refundProcessingMs: number;
  };
  /** Requests refused for a bad signature. */
  readonly badSignatures: number;
  idle(): Promise<void>;
  close(): Promise<void>;
}

type Fields = Record<string, string>;

const CN = "中国银联股份有限公司";
const SUBJECT = (cn: string): Array<[string, string]> => [
  ["2.5.4.6", "CN"],
  ["2.5.4.10", "China Financial Certification Authority"],
  ["2.5.4.11", "Enterprises"],
  ["2.5.4.3", cn],
];
/** 《文件接口》 ZM layout: byte widths, one space between fields. */
const ZM_WIDTHS = [
  3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4, 32, 1, 21, 15, 1, 15, 32,
  13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98,
];

export async function startUnionpaySimulator(
  options: { notifyRetryMs?: readonly number[]; host?: string } = {},
): Promise<UnionpaySimulator> {
  const retries = options.notifyRetryMs ?? [200, 400, 800, 1600];
  const root = await issueCert({ subject: SUBJECT("CFCA ACS TEST ROOT"), ca: true });
  const middle = await issueCert({ subject: SUBJECT("CFCA ACS TEST OCA31"), ca: true, issuer: root.signer });
  const signing = await issueCert({
    subject: SUBJECT(`041@Z20260101@${CN}@00000001`),
    ca: false,
    issuer: middle.signer,
  });
  // Forgers' certificates, made once: another chain with UnionPay's name; another company's under
  // the real middle; UnionPay's name under the real middle, expired.
  const otherRoot = await issueCert({ subject: SUBJECT("CFCA ACS TEST ROOT"), ca: true });
  const otherMiddle = await issueCert({
    subject: SUBJECT("CFCA ACS TEST OCA31"),
    ca: true,
    issuer: otherRoot.signer,
  });
  const forged: Record<"cert" | "owner" | "expired", IssuedCert> = {
    cert: await issueCert({
      subject: SUBJECT(`041@Z20260101@${CN}@00000001`),
      ca: false,
      issuer: otherMiddle.signer,
    }),
    owner: await issueCert({
      subject: SUBJECT("041@Z20260101@某某科技有限公司@00000002"),
      ca: false,
      issuer: middle.signer,
    }),
    expired: await issueCert({
      subject: SUBJECT(`041@Z20200101@${CN}@00000003`),
      ca: false,
      issuer: middle.signer,
      notBefore: new Date(Date.now() - 3 * 365 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    }),
  };
  const merchants = new Map<string, { certId: string; key: KeyObject }>();
  const trades = new Map<string, UnionpayTrade>();
  const inFlight = new Set<Promise<void>>();
  let badSignatures = 0;
  let seq = 0;
  const faults: UnionpaySimulator["faults"] = {
    notify: "deliver",
    notifyDelayMs: 1000,
    stallMs: 0,
    stallPaths: new Set(),
    answerDelayMs: 0,
    answerDelayPaths: new Set(),
    refundProcessingMs: 150,
  };

  const beijing = (at: Date) => new Date(at.getTime() + 8 * 3_600_000).toISOString();
  const acpTime = (at: Date) => beijing(at).slice(0, 19).replace(/[-T:]/g, "");
  const traceTime = (at: Date) => acpTime(at).slice(4);
  const fromAcp = (t: string) => {
    const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(t);
    return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`) : undefined;
  };
  const settleDay = (at: Date) => beijing(new Date(at.getTime() + 3_600_000)).slice(0, 10);
  const settleDateOf = (at: Date) => settleDay(at).slice(5).replace("-", "");
  const queryId = () => `${acpTime(new Date()).slice(2)}${String(++seq).padStart(9, "0")}`.slice(0, 21);
  const traceNo = () => String(100000 + (seq % 900000));

  const stringToSign = (f: Fields) =>
    Object.keys(f)
      .filter((k) => k !== "signature")
      .sort()
      .map((k) => `${k}=${f[k]}`)
      .join("&");
  const digest = (f: Fields) => createHash("sha256").update(stringToSign(f), "utf8").digest("hex");
  /** UnionPay's signature over the fields, its certificate (or a forger's) in signPubKeyCert. */
  const signAs = (f: Fields, cert: IssuedCert = signing, key: KeyObject = cert.privateKey): Fields => {
    const withCert = { ...f, signPubKeyCert: cert.certificatePem.replace(/\n/g, "\r\n") };
    const signature = createSign("RSA-SHA256").update(digest(withCert), "utf8").sign(key, "base64");
    return { ...withCert, signature };
  };
  const verifyMerchant = (f: Fields) => {
    const m = merchants.get(f.merId ?? "");
    if (!m || f.version !== "5.1.0" || f.signMethod !== "01" || f.certId !== m.certId || !f.signature)
      return false;
    try {
      return createVerify("RSA-SHA256").update(digest(f), "utf8").verify(m.key, f.signature, "base64");
    } catch {
      return false;
    }
  };
  /** Answers are `key=value&…`, not percent-encoded, as UnionPay's are. */
  const answer = (reply: FastifyReply, f: Fields) =>
    reply.type("text/plain; charset=utf-8").send(
      Object.entries(signAs({ version: "5.1.0", encoding: "UTF-8", signMethod: "01", ...f }))
        .map(([k, v]) => `${k}=${v}`)
        .join("&"),
    );
  const echo = (f: Fields) => ({
    merId: f.merId ?? "",
    accessType: f.accessType ?? "0",
    txnType: f.txnType ?? "",
    txnSubType: f.txnSubType ?? "",
    bizType: f.bizType ?? "",
    ...(f.orderId ? { orderId: f.orderId } : {}),
    ...(f.txnTime ? { txnTime: f.txnTime } : {}),
  });
  const refuse = (reply: FastifyReply, f: Fields, respCode: string, respMsg: string) =>
    answer(reply, { ...echo(f), respCode, respMsg });

  const key = (merId: string, orderId: string) => `${merId}/${orderId}`;
  const find = (orderId: string) => [...trades.values()].find((t) => t.orderId === orderId);
  const lapsed = (t: UnionpayTrade) =>
    t.state === "WAITING" && !!t.payTimeout && t.payTimeout.getTime() <= Date.now();
  const refundedFen = (t: UnionpayTrade) => [...t.refunds.values()].reduce((s, r) => s + r.amount, 0);

  function consumeNotify(
    t: UnionpayTrade,
    o: { txnAmt?: number; orderId?: string; merId?: string } = {},
  ): Fields {
    const paidAt = t.paidAt ?? new Date();
    return {
      version: "5.1.0",
      encoding: "UTF-8",
      signMethod: "01",
      accessType: "0",
      bizType: t.bizType,
      txnType: "01",
      txnSubType: t.txnSubType,
      merId: o.merId ?? t.merId,
      orderId: o.orderId ?? t.orderId,
      txnTime: t.txnTime,
      txnAmt: String(o.txnAmt ?? t.txnAmt),
      currencyCode: "156",
      queryId: t.queryId,
      traceNo: t.traceNo,
      traceTime: traceTime(paidAt),
      settleAmt: String(o.txnAmt ?? t.txnAmt),
      settleCurrencyCode: "156",
      settleDate: settleDateOf(paidAt),
      accNo: "6216***********0018",
      payCardType: "01",
      payType: "0001",
      respCode: "00",
      respMsg: "成功[0000000]",
    };
  }

  async function postNotify(url: string, f: Fields) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8" },
      body: new URLSearchParams(f).toString(),
      signal: AbortSignal.timeout(5_000),
    });
    return { status: res.status, body: await res.text() };
  }

  /** One notify's life: tries until HTTP 200, on UnionPay's schedule (scaled down for tests). */
  function sendNotify(
    url: string,
    fields: () => Fields,
    count: { sent: () => void; taken: () => void },
    delayMs = 0,
  ) {
    const run = (async () => {
      if (delayMs > 0) await sleep(delayMs);
      for (let attempt = 0; attempt <= retries.length; attempt++) {
        if (attempt > 0) await sleep(retries[attempt - 1] ?? 1000);
        count.sent();
        try {
          const res = await postNotify(url, signAs(fields()));
          if (res.status === 200) {
            count.taken();
            return;
          }
        } catch {
          // sent again
        }
      }
    })();
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
  }

  const counters = (t: UnionpayTrade) => ({
    sent: () => void t.notifiesSent++,
    taken: () => void t.notifiesTaken++,
  });

  function notifyPaid(t: UnionpayTrade): void {
    if (!t.backUrl) return;
    const send = (delay = 0) => sendNotify(t.backUrl, () => consumeNotify(t), counters(t), delay);
    switch (faults.notify) {
      case "drop":
        return;
      case "duplicate":
        send();
        send();
        send(300);
        return;
      case "delay":
        send(faults.notifyDelayMs);
        return;
      default:
        send();
    }
  }

  function settle(t: UnionpayTrade, at = new Date()): UnionpayTrade {
    t.state = "PAID";
    t.paidAt = at;
    notifyPaid(t);
    return t;
  }

  function newTrade(f: Fields, subType: "07" | "01"): UnionpayTrade {
    return {
      merId: f.merId ?? "",
      orderId: f.orderId ?? "",
      txnTime: f.txnTime ?? "",
      txnAmt: Number(f.txnAmt),
      bizType: f.bizType ?? "",
      txnSubType: subType,
      backUrl: f.backUrl ?? "",
      frontUrl: f.frontUrl,
      payTimeout: f.payTimeout ? fromAcp(f.payTimeout) : undefined,
      state: "WAITING",
      queryId: queryId(),
      traceNo: traceNo(),
      paidAt: undefined,
      refunds: new Map(),
      refundCalls: 0,
      notifiesSent: 0,
      notifiesTaken: 0,
    };
  }

  /** The consume's fields a new order must carry; a message naming what is wrong, or undefined. */
  function consumeProblem(f: Fields): string | undefined {
    if (!/^[0-9A-Za-z]{8,40}$/.test(f.orderId ?? "")) return "orderId";
    if (!fromAcp(f.txnTime ?? "")) return "txnTime";
    if (!/^[1-9]\d{0,11}$/.test(f.txnAmt ?? "")) return "txnAmt";
    if (f.currencyCode !== "156") return "currencyCode";
    if (!/^https?:\/\//.test(f.backUrl ?? "")) return "backUrl";
    if (f.payTimeout && !fromAcp(f.payTimeout)) return "payTimeout";
    return undefined;
  }

  const app: FastifyInstance = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, String(body)));
  app.addHook("preHandler", async (req) => {
    const path = req.url.split("?")[0] ?? "";
    if (faults.stallMs > 0 && [...faults.stallPaths].some((p) => path.startsWith(p)))
      await sleep(faults.stallMs);
  });
  app.addHook("onSend", async (req, _reply, payload) => {
    const path = req.url.split("?")[0] ?? "";
    if (faults.answerDelayMs > 0 && [...faults.answerDelayPaths].some((p) => path.startsWith(p))) {
      await sleep(faults.answerDelayMs);
    }
    return payload;
  });

  const formOf = (body: unknown): Fields | undefined => {
    const out: Fields = {};
    for (const [k, v] of new URLSearchParams(typeof body === "string" ? body : "")) {
      if (Object.hasOwn(out, k)) return undefined;
      out[k] = v;
    }
    return out;
  };

  /** A back-end API route: the form read, the signature checked (respCode 11), then the handler. */
  const api = (path: string, handler: (f: Fields, reply: FastifyReply) => unknown) =>
    app.post(path, async (req, reply) => {
      const f = formOf(req.body);
      if (!f) return refuse(reply, {}, "10", "报文格式错误");
      if (!verifyMerchant(f)) {
        badSignatures++;
        return refuse(reply, f, "11", "验证签名失败");
      }
      return handler(f, reply);
    });

  api("/gateway/api/backTransReq.do", (f, reply) => {
    if (f.txnType === "01" && f.txnSubType === "07") {
      const problem = consumeProblem(f);
      if (problem) return refuse(reply, f, "13", `报文交易要素缺失或格式错误[${problem}]`);
      const existing = trades.get(key(f.merId ?? "", f.orderId ?? ""));
      if (existing) return refuse(reply, f, "12", "重复交易");
      const t = newTrade(f, "07");
      trades.set(key(t.merId, t.orderId), t);
      const token = Buffer.from(key(t.merId, t.orderId)).toString("base64url");
      return answer(reply, {
        ...echo(f),
        respCode: "00",
        respMsg: "成功[0000000]",
        qrCode: `${sim.url}/qr/00010000/${token}`,
      });
    }
    if (f.txnType === "04" && f.txnSubType === "00") {
      const t = [...trades.values()].find((x) => x.merId === f.merId && x.queryId === f.origQryId);
      if (t?.state !== "PAID") return refuse(reply, f, "35", "原交易不存在或状态不正确");
      t.refundCalls++;
      if (!/^[0-9A-Za-z]{8,40}$/.test(f.orderId ?? "") || !fromAcp(f.txnTime ?? "")) {
        return refuse(reply, f, "13", "报文交易要素缺失[orderId,txnTime]");
      }
      const amount = Number(f.txnAmt);
      const again = t.refunds.get(f.orderId ?? "");
      if (again) return refuse(reply, f, "12", "重复交易");
      if (find(f.orderId ?? "")) return refuse(reply, f, "12", "重复交易");
      if (!Number.isSafeInteger(amount) || amount <= 0) return refuse(reply, f, "13", "txnAmt");
      if (refundedFen(t) + amount > t.txnAmt) return refuse(reply, f, "36", "与原交易信息不符[退货金额超限]");
      const now = new Date();
      const r: UnionpayRefund = {
        orderId: f.orderId ?? "",
        txnTime: f.txnTime ?? "",
        amount,
        queryId: queryId(),
        traceNo: traceNo(),
        createdAt: now,
        successAt: new Date(now.getTime() + faults.refundProcessingMs),
        backUrl: f.backUrl ?? "",
      };
      t.refunds.set(r.orderId, r);
      if (r.backUrl) {
        const refundFields = (): Fields => ({
          version: "5.1.0",
          encoding: "UTF-8",
          signMethod: "01",
          accessType: "0",
          bizType: f.bizType ?? "000201",
          txnType: "04",
          txnSubType: "00",
          merId: t.merId,
          orderId: r.orderId,
          origQryId: t.queryId,
          txnTime: r.txnTime,
          txnAmt: String(r.amount),
          currencyCode: "156",
          queryId: r.queryId,
          traceNo: r.traceNo,
          traceTime: traceTime(r.successAt),
          settleAmt: String(r.amount),
          settleCurrencyCode: "156",
          settleDate: settleDateOf(r.successAt),
          respCode: "00",
          respMsg: "成功[0000000]",
        });
        sendNotify(r.backUrl, refundFields, { sent: () => {}, taken: () => {} }, faults.refundProcessingMs);
      }
      return answer(reply, { ...echo(f), respCode: "00", respMsg: "成功[0000000]", queryId: r.queryId });
    }
    return refuse(reply, f, "32", "无此交易权限");
  });

  api("/gateway/api/queryTrans.do", (f, reply) => {
    const t = trades.get(key(f.merId ?? "", f.orderId ?? ""));
    if (t && t.txnTime === f.txnTime) {
      const state =
        t.state === "PAID"
          ? ["00", "成功[0000000]"]
          : lapsed(t)
            ? ["01", "交易失败[支付超时]"]
            : ["05", "交易已受理"];
      return answer(reply, {
        ...echo(f),
        respCode: "00",
        respMsg: "成功[0000000]",
        origRespCode: state[0] as string,
        origRespMsg: state[1] as string,
        queryId: t.queryId,
        traceNo: t.traceNo,
        txnAmt: String(t.txnAmt),
        currencyCode: "156",
        ...(t.paidAt ? { traceTime: traceTime(t.paidAt), settleDate: settleDateOf(t.paidAt) } : {}),
      });
    }
    for (const owner of trades.values()) {
      if (owner.merId !== f.merId) continue;
      const r = owner.refunds.get(f.orderId ?? "");
      if (!r || r.txnTime !== f.txnTime) continue;
      const done = r.successAt.getTime() <= Date.now();
      return answer(reply, {
        ...echo(f),
        respCode: "00",
        respMsg: "成功[0000000]",
        origRespCode: done ? "00" : "05",
        origRespMsg: done ? "成功[0000000]" : "交易已受理",
        queryId: r.queryId,
        origQryId: owner.queryId,
        traceNo: r.traceNo,
        txnAmt: String(r.amount),
        ...(done ? { traceTime: traceTime(r.successAt), settleDate: settleDateOf(r.successAt) } : {}),
      });
    }
    return refuse(reply, f, "34", "查无此交易");
  });

  api("/filedownload/", (f, reply) => {
    if (f.txnType !== "76" || f.fileType !== "00" || !/^\d{4}$/.test(f.settleDate ?? "")) {
      return refuse(reply, f, "13", "报文交易要素缺失[settleDate,fileType]");
    }
    const rows = zmLines(f.merId ?? "", f.settleDate ?? "");
    if (rows.length === 0)
      return refuse(reply, { ...echo(f), settleDate: f.settleDate ?? "" }, "98", "文件不存在");
    const year = yearOf(f.settleDate ?? "");
    const day = `${year}${f.settleDate}`;
    const zm = Buffer.from(`${rows.join("\r\n")}\r\n`, "latin1");
    const zip = zipSync({ [`INN${day.slice(2)}88ZM_${f.merId}`]: new Uint8Array(zm) });
    return answer(reply, {
      ...echo(f),
      settleDate: f.settleDate ?? "",
      fileType: "00",
      fileName: `${f.merId}_${day}.zip`,
      fileContent: deflateSync(zip).toString("base64"),
      respCode: "00",
      respMsg: "成功[0000000]",
    });
  });

  /** The settleDate's year: the one that puts MMDD nearest today. */
  function yearOf(mmdd: string): number {
    const now = new Date();
    const y = Number(beijing(now).slice(0, 4));
    const candidates = [y - 1, y, y + 1].map((yy) => ({
      yy,
      gap: Math.abs(
        new Date(`${yy}-${mmdd.slice(0, 2)}-${mmdd.slice(2)}T12:00:00+08:00`).getTime() - now.getTime(),
      ),
    }));
    candidates.sort((a, b) => a.gap - b.gap);
    return candidates[0]?.yy ?? y;
  }

  function zmLine(values: Record<number, string>): string {
    return ZM_WIDTHS.map((w, i) => {
      const v = values[i + 1] ?? "";
      return /^\d+$/.test(v) && [7].includes(i + 1) ? v.padStart(w, "0") : v.padEnd(w, " ").slice(0, w);
    }).join(" ");
  }

  function zmLines(merId: string, settleDate: string): string[] {
    const out: string[] = [];
    const twelve = (n: number) => String(n).padStart(12, "0");
    for (const t of trades.values()) {
      if (t.merId !== merId) continue;
      if (t.paidAt && settleDateOf(t.paidAt) === settleDate) {
        out.push(
          zmLine({
            1: "S22",
            2: "00010000",
            3: "00010000",
            4: t.traceNo,
            5: traceTime(t.paidAt),
            6: "6216***********0018",
            7: twelve(t.txnAmt),
            8: "9399",
            9: "08",
            10: t.queryId,
            12: t.orderId,
            13: "01",
            16: `D${twelve(0)}`,
            17: `C${twelve(t.txnAmt)}`,
            18: "0001",
            20: "01",
            21: t.txnSubType,
            22: t.bizType,
            28: t.merId,
            33: `C${twelve(t.txnAmt)}`,
          }),
        );
      }
      for (const r of t.refunds.values()) {
        if (r.successAt.getTime() > Date.now() || settleDateOf(r.successAt) !== settleDate) continue;
        out.push(
          zmLine({
            1: "S30",
            2: "00010000",
            3: "00010000",
            4: r.traceNo,
            5: traceTime(r.successAt),
            6: "6216***********0018",
            7: twelve(r.amount),
            8: "9399",
            9: "07",
            10: r.queryId,
            12: r.orderId,
            13: "01",
            14: t.traceNo,
            15: t.paidAt ? traceTime(t.paidAt) : "",
            16: `C${twelve(0)}`,
            17: `D${twelve(r.amount)}`,
            20: "04",
            21: "00",
            22: t.bizType,
            27: t.queryId,
            28: t.merId,
            33: `D${twelve(r.amount)}`,
            41: t.orderId,
          }),
        );
      }
    }
    return out;
  }

  // The gateway's pay page (frontTransReq: the browser posts the signed form), the QR's page, the pay button.
  app.post("/gateway/api/frontTransReq.do", async (req, reply) => {
    const f = formOf(req.body);
    const page = (status: number, text: string) =>
      reply
        .status(status)
        .type("text/html; charset=utf-8")
        .send(`<!doctype html><p id=result>${escapeHtml(text)}</p>`);
    if (!f) return page(400, "报文格式错误");
    if (!verifyMerchant(f)) {
      badSignatures++;
      return page(200, "验证签名失败 [11]");
    }
    if (f.txnType !== "01" || f.txnSubType !== "01") return page(200, "无此交易权限 [32]");
    const problem = consumeProblem(f);
    if (problem) return page(200, `报文交易要素缺失 [13] ${problem}`);
    let t = trades.get(key(f.merId ?? "", f.orderId ?? ""));
    if (t && (t.txnTime !== f.txnTime || t.txnAmt !== Number(f.txnAmt))) return page(200, "重复交易 [12]");
    if (!t) {
      t = newTrade(f, "01");
      trades.set(key(t.merId, t.orderId), t);
    }
    return reply.type("text/html; charset=utf-8").send(payPage(t));
  });
  app.get("/qr/00010000/:token", async (req, reply) => {
    const t = trades.get(Buffer.from((req.params as { token: string }).token, "base64url").toString("utf8"));
    if (!t) return reply.status(404).send("no such order");
    return reply.type("text/html; charset=utf-8").send(payPage(t));
  });
  app.post("/sim/pay/:merId/:orderId", async (req, reply) => {
    const { merId, orderId } = req.params as { merId: string; orderId: string };
    const t = trades.get(key(merId, orderId));
    const refused = !t
      ? "no such order"
      : t.state === "PAID"
        ? "already paid"
        : lapsed(t)
          ? "order lapsed"
          : undefined;
    if (!t || refused) {
      return reply
        .status(409)
        .type("text/html; charset=utf-8")
        .send(`<!doctype html><p id=result>${escapeHtml(String(refused))}</p>`);
    }
    settle(t);
    if (!t.frontUrl || !/^https?:\/\//.test(t.frontUrl)) {
      return reply.type("text/html; charset=utf-8").send("<!doctype html><p id=result>支付成功</p>");
    }
    // 前台通知: the payer goes back to frontUrl by a form POST of the signed result.
    const inputs = Object.entries(signAs(consumeNotify(t)))
      .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
      .join("");
    return reply
      .type("text/html; charset=utf-8")
      .send(
        `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><p id=result>支付成功</p><form method="post" action="${escapeHtml(t.frontUrl)}">${inputs}<button id="back" type="submit">返回商户</button></form></html>`,
      );
  });

  function payPage(t: UnionpayTrade): string {
    const action = `/sim/pay/${encodeURIComponent(t.merId)}/${encodeURIComponent(t.orderId)}`;
    return `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>银联在线支付（模拟）</title>
<h1>银联在线支付（模拟）</h1><p id="order">${escapeHtml(t.orderId)}</p><p id="amount">￥${(t.txnAmt / 100).toFixed(2)}</p>
<form method="post" action="${escapeHtml(action)}"><button id="pay" type="submit">确认付款</button></form></html>`;
  }

  await app.listen({ host: options.host ?? "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;

  const sim: UnionpaySimulator = {
    url,
    gatewayUrl: `${url}/gateway/api/`,
    fileUrl: `${url}/filedownload/`,
    rootCert: root.certificatePem,
    middleCert: middle.certificatePem,
    faults,
    get badSignatures() {
      return badSignatures;
    },
    registerMerchant(merId, publicKeyPem) {
      const certId = BigInt(`0x1${randomBytes(7).toString("hex")}`).toString(10);
      merchants.set(merId, { certId, key: createPublicKey(publicKeyPem) });
      return { certId };
    },
    trade: find,
    async pay(orderId, at) {
      const t = find(orderId);
      if (!t) throw new Error(`no order ${orderId}`);
      if (t.state === "PAID") throw new Error("already paid");
      if (lapsed(t)) throw new Error("order lapsed");
      return settle(t, at);
    },
    async payDespiteClose(orderId) {
      const t = find(orderId);
      if (!t) throw new Error(`no order ${orderId}`);
      return settle(t);
    },
    plantTrade(merId, orderId, txnAmt, at) {
      const t = newTrade(
        { merId, orderId, txnTime: acpTime(at), txnAmt: String(txnAmt), bizType: "000000", backUrl: "" },
        "07",
      );
      t.state = "PAID";
      t.paidAt = at;
      trades.set(key(merId, orderId), t);
      return t;
    },
    async renotify(orderId) {
      const t = find(orderId);
      if (t?.backUrl) sendNotify(t.backUrl, () => consumeNotify(t), counters(t));
    },
    async notifyOnce(orderId, o = {}) {
      const t = find(orderId);
      if (!t) throw new Error(`no order ${orderId}`);
      t.notifiesSent++;
      const fields = consumeNotify(t, o);
      let sent: Fields;
      switch (o.tamper) {
        case "signature":
          sent = signAs(fields, signing, otherRoot.privateKey);
          break;
        case "body":
          sent = { ...signAs(fields), txnAmt: String(t.txnAmt + 1) };
          break;
        case "cert":
        case "owner":
        case "expired":
          sent = signAs(fields, forged[o.tamper]);
          break;
        default:
          sent = signAs(fields);
      }
      const res = await postNotify(t.backUrl, sent);
      if (res.status === 200) t.notifiesTaken++;
      return res;
    },
    settleDateOf,
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    async close() {
      await app.close();
    },
  };
  return sim;
}
