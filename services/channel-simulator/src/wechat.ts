import {
  createCipheriv,
  createHash,
  createPublicKey,
  createSign,
  createVerify,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { NotifyMode } from "./alipay.ts";
import { escapeHtml, sleep } from "./text.ts";

/**
 * WeChat Pay API v3 (微信支付 APIv3, 直连商户) as a peer on loopback, written from the protocol with
 * node:crypto only (so the merchant's SDK is checked against an independent implementation):
 * - every request's `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",
 *   signature="…",timestamp="…",serial_no="…"` is checked: SHA256withRSA over
 *   `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n` with the registered merchant's API public key, its
 *   serial, a timestamp within 5 minutes; anything else is `401 SIGN_ERROR`;
 * - every answer (errors too) is signed with the platform key made at start (微信支付公钥, its ID in
 *   `Wechatpay-Serial`) over `TIMESTAMP\nNONCE\nBODY\n`, in `Wechatpay-Signature`;
 * - a paid order's notify (`TRANSACTION.SUCCESS`) is POSTed to its notify_url signed the same way,
 *   its `resource` the transaction encrypted AEAD_AES_256_GCM with the merchant's APIv3 key,
 *   sent again until the merchant answers 200 or 204;
 * - a refund asked with a notify_url gets its 退款结果通知 there once it ends (`REFUND.SUCCESS`,
 *   `REFUND.ABNORMAL` or `REFUND.CLOSED`), signed and encrypted the same way (resource
 *   original_type `refund`), sent again the same way.
 * Orders live in memory. Faults for tests: drop, duplicate or delay notifies, a notify for another
 * amount, forged or tampered notifies, stall a path, hold an answer.
 */
export interface WechatTrade {
  mchid: string;
  appid: string;
  outTradeNo: string;
  transactionId: string;
  total: number;
  description: string;
  tradeType: "NATIVE" | "MWEB";
  notifyUrl: string;
  /** scene_info.payer_client_ip of an H5 order. */
  payerClientIp: string | undefined;
  state: "NOTPAY" | "SUCCESS" | "CLOSED" | "REFUND";
  timeExpire: Date | undefined;
  createdAt: Date;
  paidAt: Date | undefined;
  /** Refunds by out_refund_no: amount, when asked, when it ends (PROCESSING until then), how. */
  refunds: Map<string, WechatRefund>;
  /** Every refund call for the trade, repeats included. */
  refundCalls: number;
  notifiesSent: number;
  notifiesTaken: number;
}

export interface WechatRefund {
  refundId: string;
  amount: number;
  createdAt: Date;
  /** When PROCESSING ends, in `status`. */
  successAt: Date;
  /** What it ends in: paid back, stuck (退款异常), or closed. */
  status: "SUCCESS" | "ABNORMAL" | "CLOSED";
  reason: string;
  /** Where its 退款结果通知 goes (the refund request's notify_url); none: settled by query only. */
  notifyUrl: string | undefined;
  notifiesSent: number;
  notifiesTaken: number;
}

export interface WechatMerchant {
  mchid: string;
  appid: string;
  /** The merchant API certificate's serial (serial_no in Authorization). */
  serialNo: string;
  publicKeyPem: string;
  /** The APIv3 key (32 characters) the merchant set at WeChat Pay: notifies are encrypted with it. */
  apiV3Key: string;
}

export type NotifyTamper = "signature" | "body" | "key" | "serial" | "stale";

export interface WechatSimulator {
  readonly url: string;
  /** The SDK's baseURL. */
  readonly baseUrl: string;
  /** 微信支付公钥 and its ID: the merchant verifies answers and notifies with them. */
  readonly platformPublicKey: string;
  readonly platformSerial: string;
  registerMerchant(m: WechatMerchant): void;
  trade(outTradeNo: string): WechatTrade | undefined;
  /** The payer scans the code (or opens the H5 page) and pays. Refused once closed, paid or expired. */
  pay(outTradeNo: string, at?: Date): Promise<WechatTrade>;
  /** Money taken even though the merchant closed the order a moment before (the race a close can lose). */
  payDespiteClose(outTradeNo: string): Promise<WechatTrade>;
  /** A trade the merchant never opened (for the bill). */
  plantTrade(mchid: string, outTradeNo: string, total: number, at: Date): WechatTrade;
  /** Sends the trade's notify again now, as WeChat Pay's retries would. */
  renotify(outTradeNo: string): Promise<void>;
  /** A refund by out_refund_no, with its trade. */
  refund(outRefundNo: string): { trade: WechatTrade; refund: WechatRefund } | undefined;
  /** Sends the refund's 退款结果通知 again now (it must have ended), as the retries would. */
  renotifyRefund(outRefundNo: string): Promise<void>;
  /**
   * One refund notify now, once, saying the refund ended as it did (or as `status` says), with an
   * optional fault: `amountRefund` another amount in a correctly signed and encrypted resource;
   * `tamper` a forgery as for notifyOnce. Answers the merchant's HTTP status and body.
   */
  refundNotifyOnce(
    outRefundNo: string,
    options?: { amountRefund?: number; status?: WechatRefund["status"]; tamper?: NotifyTamper },
  ): Promise<{ status: number; body: string }>;
  /**
   * One notify now, once, with an optional fault: `amountTotal` another amount in a correctly
   * signed and encrypted transaction; `tamper` a forgery (another key's signature, the body changed
   * after signing, encrypted under another APIv3 key, an unknown serial, a timestamp 10 min old).
   * Answers the merchant's HTTP status and body.
   */
  notifyOnce(
    outTradeNo: string,
    options?: { amountTotal?: number; outTradeNo?: string; tamper?: NotifyTamper },
  ): Promise<{ status: number; body: string }>;
  faults: {
    notify: NotifyMode;
    notifyDelayMs: number;
    /** Requests whose path starts with one of these wait stallMs before being read. */
    stallMs: number;
    stallPaths: Set<string>;
    /** The request is carried out, then its answer held this long (lost, for a short client timeout). */
    answerDelayMs: number;
    answerDelayPaths: Set<string>;
    /** How long a refund stays PROCESSING before it ends. */
    refundProcessingMs: number;
    /** How refunds asked from now on end (SUCCESS; ABNORMAL: 退款异常; CLOSED: 退款关闭). */
    refundResult: WechatRefund["status"];
    /** What happens to refund notifies: delivered, dropped (lost), duplicated, delayed. */
    refundNotify: NotifyMode;
  };
  /**
   * Faults of the day's trade bill (交易账单): a day not published yet (STATEMENT_CREATING, as
   * WeChat Pay answers until about 10:00 the next day), a trade booked for another amount (fen).
   */
  billFaults: { notReady: Set<string>; amount: Map<string, number> };
  /** Requests refused for a bad signature. */
  readonly badSignatures: number;
  /** Waits until every notify in flight has been answered or given up. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const MAX_CLOCK_OFFSET_S = 300;

export async function startWechatSimulator(
  options: { notifyRetryMs?: readonly number[]; host?: string } = {},
): Promise<WechatSimulator> {
  const retries = options.notifyRetryMs ?? [200, 400, 800, 1600];
  const platform = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const platformPublicKey = platform.publicKey.export({ type: "spki", format: "pem" }).toString();
  const platformSerial = `PUB_KEY_ID_01${randomBytes(14).toString("hex").toUpperCase()}`;
  const merchants = new Map<string, WechatMerchant & { key: KeyObject }>();
  const trades = new Map<string, WechatTrade>();
  const bills = new Map<string, { mchid: string; day: string }>();
  const inFlight = new Set<Promise<void>>();
  let badSignatures = 0;
  let seq = 0;
  const faults: WechatSimulator["faults"] = {
    notify: "deliver",
    notifyDelayMs: 1000,
    stallMs: 0,
    stallPaths: new Set(),
    answerDelayMs: 0,
    answerDelayPaths: new Set(),
    refundProcessingMs: 150,
    refundResult: "SUCCESS",
    refundNotify: "deliver",
  };

  const billFaults: WechatSimulator["billFaults"] = { notReady: new Set(), amount: new Map() };

  const nonce = () => randomBytes(16).toString("hex").toUpperCase();
  const sign = (text: string, key: KeyObject = platform.privateKey) =>
    createSign("RSA-SHA256").update(text, "utf8").sign(key, "base64");
  const rfc3339 = (at: Date) => `${new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 19)}+08:00`;
  const key = (mchid: string, outTradeNo: string) => `${mchid}/${outTradeNo}`;

  /** The platform's signature headers over an answer's or a notify's exact body. */
  const signedHeaders = (body: string, at = Math.floor(Date.now() / 1000)) => {
    const n = nonce();
    const timestamp = String(at);
    return {
      "Wechatpay-Timestamp": timestamp,
      "Wechatpay-Nonce": n,
      "Wechatpay-Serial": platformSerial,
      "Wechatpay-Signature": sign(`${timestamp}\n${n}\n${body}\n`),
      "Request-ID": randomBytes(12).toString("hex"),
    };
  };

  const send = (reply: FastifyReply, status: number, payload?: unknown) => {
    const body = payload === undefined ? "" : JSON.stringify(payload);
    reply.headers(signedHeaders(body)).status(status);
    if (status === 204) return reply.send();
    return reply.type("application/json; charset=utf-8").send(body);
  };
  const fail = (reply: FastifyReply, status: number, code: string, message: string) =>
    send(reply, status, { code, message });

  /** Checks Authorization; answers the merchant, or undefined (and the 401 was sent). */
  function authenticate(
    req: FastifyRequest,
    body: string,
  ): (WechatMerchant & { key: KeyObject }) | undefined {
    const header = String(req.headers.authorization ?? "");
    if (!header.startsWith("WECHATPAY2-SHA256-RSA2048 ")) return undefined;
    const fields = Object.fromEntries(
      [...header.slice(26).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]] as const),
    );
    const m = merchants.get(fields.mchid ?? "");
    if (!m || fields.serial_no !== m.serialNo || !fields.signature || !fields.nonce_str) return undefined;
    const ts = Number(fields.timestamp);
    if (!Number.isSafeInteger(ts) || Math.abs(Date.now() / 1000 - ts) > MAX_CLOCK_OFFSET_S) return undefined;
    const message = `${req.method}\n${req.url}\n${fields.timestamp}\n${fields.nonce_str}\n${body}\n`;
    const ok = createVerify("RSA-SHA256").update(message, "utf8").verify(m.key, fields.signature, "base64");
    return ok ? m : undefined;
  }

  function payable(t: WechatTrade): string | undefined {
    if (t.state === "SUCCESS" || t.state === "REFUND") return "already paid";
    if (t.state === "CLOSED") return "order closed";
    if (t.timeExpire && t.timeExpire.getTime() <= Date.now()) return "order expired";
    return undefined;
  }

  const refundedFen = (t: WechatTrade) =>
    [...t.refunds.values()].filter((r) => r.status !== "CLOSED").reduce((s, r) => s + r.amount, 0);

  function transactionOf(t: WechatTrade, amountTotal = t.total, outTradeNo = t.outTradeNo, asPaid = false) {
    const paid = asPaid || t.state === "SUCCESS" || t.state === "REFUND";
    const state = asPaid && t.state === "NOTPAY" ? "SUCCESS" : t.state;
    const paidAt = t.paidAt ?? (asPaid ? new Date() : undefined);
    return {
      appid: t.appid,
      mchid: t.mchid,
      out_trade_no: outTradeNo,
      ...(paid ? { transaction_id: t.transactionId } : {}),
      trade_type: t.tradeType,
      trade_state: state,
      trade_state_desc: {
        NOTPAY: "订单未支付",
        SUCCESS: "支付成功",
        CLOSED: "订单已关闭",
        REFUND: "转入退款",
      }[state],
      bank_type: paid ? "OTHERS" : "",
      attach: "",
      ...(paid && paidAt ? { success_time: rfc3339(paidAt) } : {}),
      payer: { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
      amount: {
        total: amountTotal,
        payer_total: paid ? amountTotal : 0,
        currency: "CNY",
        payer_currency: "CNY",
      },
    };
  }

  /** A notify's body: the resource encrypted with the APIv3 key (AEAD_AES_256_GCM). */
  function encryptedNotify(
    mchid: string,
    resource: Record<string, unknown>,
    o: {
      originalType: "transaction" | "refund";
      eventType: string;
      summary: string;
      apiV3Key?: string | undefined;
    },
  ) {
    const m = merchants.get(mchid);
    const iv = randomBytes(6).toString("hex"); // 12 characters, as WeChat Pay's nonces are
    const aad = o.originalType;
    const cipher = createCipheriv("aes-256-gcm", Buffer.from(o.apiV3Key ?? m?.apiV3Key ?? "", "utf8"), iv);
    cipher.setAAD(Buffer.from(aad));
    const ciphertext = Buffer.concat([
      cipher.update(JSON.stringify(resource), "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return JSON.stringify({
      id: randomBytes(18).toString("hex"),
      create_time: rfc3339(new Date()),
      resource_type: "encrypt-resource",
      event_type: o.eventType,
      summary: o.summary,
      resource: {
        original_type: o.originalType,
        algorithm: "AEAD_AES_256_GCM",
        ciphertext: ciphertext.toString("base64"),
        associated_data: aad,
        nonce: iv,
      },
    });
  }

  /** The payment notify's body: the transaction, encrypted. */
  function notifyBody(
    t: WechatTrade,
    o: { amountTotal?: number; outTradeNo?: string; apiV3Key?: string; asPaid?: boolean } = {},
  ) {
    return encryptedNotify(t.mchid, transactionOf(t, o.amountTotal, o.outTradeNo, o.asPaid), {
      originalType: "transaction",
      eventType: "TRANSACTION.SUCCESS",
      summary: "支付成功",
      apiV3Key: o.apiV3Key,
    });
  }

  /** 退款结果通知's body: the refund as it ended (or as `status` says), encrypted. */
  function refundNotifyBody(
    t: WechatTrade,
    outRefundNo: string,
    r: WechatRefund,
    o: { amountRefund?: number; status?: WechatRefund["status"]; apiV3Key?: string } = {},
  ) {
    const status = o.status ?? r.status;
    const resource = {
      mchid: t.mchid,
      out_trade_no: t.outTradeNo,
      transaction_id: t.transactionId,
      out_refund_no: outRefundNo,
      refund_id: r.refundId,
      refund_status: status,
      ...(status === "SUCCESS" ? { success_time: rfc3339(r.successAt) } : {}),
      user_received_account: "支付用户零钱",
      amount: {
        total: t.total,
        refund: o.amountRefund ?? r.amount,
        payer_total: t.total,
        payer_refund: o.amountRefund ?? r.amount,
      },
    };
    return encryptedNotify(t.mchid, resource, {
      originalType: "refund",
      eventType: `REFUND.${status}`,
      summary: { SUCCESS: "退款成功", ABNORMAL: "退款异常", CLOSED: "退款关闭" }[status],
      apiV3Key: o.apiV3Key,
    });
  }

  /** One refund notify's life: once the refund ended, tried until 200/204 on the same schedule. */
  function sendRefundNotify(t: WechatTrade, outRefundNo: string, r: WechatRefund, delayMs: number): void {
    const url = r.notifyUrl;
    if (!url) return;
    const run = (async () => {
      if (delayMs > 0) await sleep(delayMs);
      for (let attempt = 0; attempt <= retries.length; attempt++) {
        if (attempt > 0) await sleep(retries[attempt - 1] ?? 1000);
        r.notifiesSent++;
        try {
          const body = refundNotifyBody(t, outRefundNo, r);
          const res = await postNotify(url, body, signedHeaders(body));
          if (res.status === 200 || res.status === 204) {
            r.notifiesTaken++;
            return;
          }
        } catch {
          // retried
        }
      }
    })();
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
  }

  /** When a refund ends, its notify (if it named a notify_url), as faults.refundNotify says. */
  function notifyRefundEnded(t: WechatTrade, outRefundNo: string, r: WechatRefund): void {
    const ends = Math.max(0, r.successAt.getTime() - Date.now());
    switch (faults.refundNotify) {
      case "drop":
        return;
      case "duplicate":
        sendRefundNotify(t, outRefundNo, r, ends);
        sendRefundNotify(t, outRefundNo, r, ends);
        sendRefundNotify(t, outRefundNo, r, ends + 300);
        return;
      case "delay":
        sendRefundNotify(t, outRefundNo, r, ends + faults.notifyDelayMs);
        return;
      default:
        sendRefundNotify(t, outRefundNo, r, ends);
    }
  }

  async function postNotify(url: string, body: string, headers: Record<string, string>) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      signal: AbortSignal.timeout(5_000),
    });
    return { status: res.status, body: await res.text() };
  }

  /** One notify's life: tries until 200/204, on WeChat Pay's schedule (scaled down for tests). */
  function sendNotify(t: WechatTrade, delayMs = 0): void {
    const run = (async () => {
      if (delayMs > 0) await sleep(delayMs);
      for (let attempt = 0; attempt <= retries.length; attempt++) {
        if (attempt > 0) await sleep(retries[attempt - 1] ?? 1000);
        t.notifiesSent++;
        try {
          const body = notifyBody(t);
          const res = await postNotify(t.notifyUrl, body, signedHeaders(body));
          if (res.status === 200 || res.status === 204) {
            t.notifiesTaken++;
            return;
          }
        } catch {
          // retried
        }
      }
    })();
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
  }

  function notifyPaid(t: WechatTrade): void {
    switch (faults.notify) {
      case "drop":
        return;
      case "duplicate":
        sendNotify(t);
        sendNotify(t);
        sendNotify(t, 300);
        return;
      case "delay":
        sendNotify(t, faults.notifyDelayMs);
        return;
      default:
        sendNotify(t);
    }
  }

  function settle(t: WechatTrade, at = new Date()): WechatTrade {
    t.state = "SUCCESS";
    t.paidAt = at;
    notifyPaid(t);
    return t;
  }

  /** A refund's status now: PROCESSING until refundProcessingMs passed, then SUCCESS. */
  function refundOf(t: WechatTrade, outRefundNo: string) {
    const r = t.refunds.get(outRefundNo);
    if (!r) return undefined;
    const done = r.successAt.getTime() <= Date.now();
    const status = done ? r.status : "PROCESSING";
    return {
      refund_id: r.refundId,
      out_refund_no: outRefundNo,
      transaction_id: t.transactionId,
      out_trade_no: t.outTradeNo,
      channel: "ORIGINAL",
      user_received_account: "支付用户零钱",
      ...(status === "SUCCESS" ? { success_time: rfc3339(r.successAt) } : {}),
      create_time: rfc3339(r.createdAt),
      status,
      funds_account: "AVAILABLE",
      amount: {
        total: t.total,
        refund: r.amount,
        payer_total: t.total,
        payer_refund: r.amount,
        settlement_total: t.total,
        settlement_refund: r.amount,
        discount_refund: 0,
        currency: "CNY",
      },
    };
  }

  const app: FastifyInstance = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, String(body)));

  const outTradeNoRule = /^[0-9A-Za-z_\-|*]{6,32}$/;

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

  /** The API's routes: authenticated, then the handler with the merchant and the parsed body. */
  const api = (
    method: "GET" | "POST",
    path: string,
    handler: (
      m: WechatMerchant,
      body: Record<string, unknown>,
      req: FastifyRequest,
      reply: FastifyReply,
    ) => unknown,
  ) =>
    app.route({
      method,
      url: path,
      handler: async (req, reply) => {
        const raw = typeof req.body === "string" ? req.body : "";
        const m = authenticate(req, raw);
        if (!m) {
          badSignatures++;
          return fail(reply, 401, "SIGN_ERROR", "签名错误");
        }
        let body: Record<string, unknown> = {};
        if (raw) {
          try {
            body = JSON.parse(raw) as Record<string, unknown>;
          } catch {
            return fail(reply, 400, "PARAM_ERROR", "请求体不是JSON");
          }
        }
        return handler(m, body, req, reply);
      },
    });

  const openOrder =
    (type: WechatTrade["tradeType"]) =>
    (m: WechatMerchant, b: Record<string, unknown>, _req: FastifyRequest, reply: FastifyReply) => {
      const amount = (b.amount ?? {}) as Record<string, unknown>;
      const total = Number(amount.total);
      const outTradeNo = String(b.out_trade_no ?? "");
      if (b.mchid !== m.mchid) return fail(reply, 400, "PARAM_ERROR", "mchid与请求方不一致");
      if (b.appid !== m.appid) return fail(reply, 400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配");
      if (!outTradeNoRule.test(outTradeNo)) return fail(reply, 400, "PARAM_ERROR", "out_trade_no 格式不正确");
      if (!Number.isSafeInteger(total) || total <= 0) return fail(reply, 400, "PARAM_ERROR", "amount.total");
      if (typeof b.notify_url !== "string" || !/^https?:\/\//.test(b.notify_url)) {
        return fail(reply, 400, "PARAM_ERROR", "notify_url");
      }
      if (type === "MWEB") {
        const scene = (b.scene_info ?? {}) as Record<string, unknown>;
        const h5 = (scene.h5_info ?? {}) as Record<string, unknown>;
        if (typeof scene.payer_client_ip !== "string" || typeof h5.type !== "string") {
          return fail(reply, 400, "PARAM_ERROR", "scene_info.payer_client_ip, scene_info.h5_info.type");
        }
      }
      const existing = trades.get(key(m.mchid, outTradeNo));
      if (existing) {
        if (existing.state !== "NOTPAY") return fail(reply, 400, "ORDERPAID", "订单已支付或已关闭");
        if (existing.total !== total || existing.tradeType !== type) {
          return fail(reply, 400, "INVALID_REQUEST", "201 商户订单号重复");
        }
      }
      const t: WechatTrade = existing ?? {
        mchid: m.mchid,
        appid: m.appid,
        outTradeNo,
        transactionId: `42000${String(Date.now()).slice(-10)}${String(++seq).padStart(13, "0")}`,
        total,
        description: String(b.description ?? ""),
        tradeType: type,
        notifyUrl: b.notify_url,
        payerClientIp:
          String(((b.scene_info ?? {}) as Record<string, unknown>).payer_client_ip ?? "") || undefined,
        state: "NOTPAY",
        timeExpire: typeof b.time_expire === "string" ? new Date(b.time_expire) : undefined,
        createdAt: new Date(),
        paidAt: undefined,
        refunds: new Map(),
        refundCalls: 0,
        notifiesSent: 0,
        notifiesTaken: 0,
      };
      trades.set(key(m.mchid, outTradeNo), t);
      const token = Buffer.from(key(m.mchid, outTradeNo)).toString("base64url");
      if (type === "NATIVE") return send(reply, 200, { code_url: `weixin://wxpay/bizpayurl?pr=${token}` });
      return send(reply, 200, {
        h5_url: `${sim.url}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx${token}&package=${seq}`,
      });
    };
  api("POST", "/v3/pay/transactions/native", openOrder("NATIVE"));
  api("POST", "/v3/pay/transactions/h5", openOrder("MWEB"));

  api("GET", "/v3/pay/transactions/out-trade-no/:outTradeNo", (m, _b, req, reply) => {
    const { outTradeNo } = req.params as { outTradeNo: string };
    if ((req.query as Record<string, string>).mchid !== m.mchid)
      return fail(reply, 400, "PARAM_ERROR", "mchid");
    const t = trades.get(key(m.mchid, outTradeNo));
    if (!t) return fail(reply, 404, "ORDER_NOT_EXIST", "订单不存在");
    return send(reply, 200, transactionOf(t));
  });

  api("POST", "/v3/pay/transactions/out-trade-no/:outTradeNo/close", (m, b, req, reply) => {
    const { outTradeNo } = req.params as { outTradeNo: string };
    if (b.mchid !== m.mchid) return fail(reply, 400, "PARAM_ERROR", "mchid");
    const t = trades.get(key(m.mchid, outTradeNo));
    if (!t) return fail(reply, 404, "ORDER_NOT_EXIST", "订单不存在");
    if (t.state === "SUCCESS" || t.state === "REFUND") return fail(reply, 400, "ORDERPAID", "订单已支付");
    t.state = "CLOSED";
    return send(reply, 204);
  });

  api("POST", "/v3/refund/domestic/refunds", (m, b, _req, reply) => {
    const t = trades.get(key(m.mchid, String(b.out_trade_no ?? "")));
    if (!t || (t.state !== "SUCCESS" && t.state !== "REFUND")) {
      return fail(reply, 404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付");
    }
    t.refundCalls++;
    const outRefundNo = String(b.out_refund_no ?? "");
    if (!/^[0-9A-Za-z_\-|*@]{1,64}$/.test(outRefundNo))
      return fail(reply, 400, "PARAM_ERROR", "out_refund_no");
    const amount = (b.amount ?? {}) as Record<string, unknown>;
    const refund = Number(amount.refund);
    if (Number(amount.total) !== t.total) return fail(reply, 400, "PARAM_ERROR", "订单金额与原订单不一致");
    const again = t.refunds.get(outRefundNo);
    if (again && again.amount !== refund) {
      return fail(reply, 400, "INVALID_REQUEST", "退款金额与之前请求不一致");
    }
    if (!again) {
      if (!Number.isSafeInteger(refund) || refund <= 0)
        return fail(reply, 400, "PARAM_ERROR", "amount.refund");
      if (refundedFen(t) + refund > t.total)
        return fail(reply, 400, "NOT_ENOUGH", "申请退款金额超过订单可退金额");
      if (
        b.notify_url !== undefined &&
        (typeof b.notify_url !== "string" || !/^https?:\/\//.test(b.notify_url))
      )
        return fail(reply, 400, "PARAM_ERROR", "notify_url");
      const now = new Date();
      const r: WechatRefund = {
        refundId: `50300${String(Date.now()).slice(-10)}${String(++seq).padStart(14, "0")}`,
        amount: refund,
        createdAt: now,
        successAt: new Date(now.getTime() + faults.refundProcessingMs),
        status: faults.refundResult,
        reason: String(b.reason ?? ""),
        notifyUrl: typeof b.notify_url === "string" ? b.notify_url : undefined,
        notifiesSent: 0,
        notifiesTaken: 0,
      };
      t.refunds.set(outRefundNo, r);
      t.state = "REFUND";
      notifyRefundEnded(t, outRefundNo, r);
    }
    return send(reply, 200, refundOf(t, outRefundNo));
  });

  api("GET", "/v3/refund/domestic/refunds/:outRefundNo", (m, _b, req, reply) => {
    const { outRefundNo } = req.params as { outRefundNo: string };
    for (const t of trades.values()) {
      if (t.mchid !== m.mchid) continue;
      const r = refundOf(t, outRefundNo);
      if (r) return send(reply, 200, r);
    }
    return fail(reply, 404, "RESOURCE_NOT_EXISTS", "退款单不存在");
  });

  // 申请交易账单 and its download: the bill of a Beijing day, every paid trade and every refund.
  api("GET", "/v3/bill/tradebill", (m, _b, req, reply) => {
    const q = req.query as Record<string, string>;
    const day = q.bill_date ?? "";
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return fail(reply, 400, "PARAM_ERROR", "bill_date");
    if (billFaults.notReady.has(day)) return fail(reply, 400, "STATEMENT_CREATING", "账单生成中");
    const token = randomBytes(12).toString("hex");
    const csv = billCsv(m.mchid, day);
    bills.set(token, { mchid: m.mchid, day });
    return send(reply, 200, {
      hash_type: "SHA1",
      hash_value: createHash("sha1").update(csv, "utf8").digest("hex"),
      download_url: `${sim.url}/v3/billdownload/file?token=${token}`,
    });
  });
  api("GET", "/v3/billdownload/file", (m, _b, req, reply) => {
    const bill = bills.get((req.query as Record<string, string>).token ?? "");
    if (!bill || bill.mchid !== m.mchid) return fail(reply, 404, "RESOURCE_NOT_EXISTS", "账单不存在");
    // The file itself is not signed: its digest was in the signed tradebill answer.
    return reply.type("text/plain; charset=utf-8").send(billCsv(bill.mchid, bill.day));
  });

  function billCsv(mchid: string, day: string): string {
    const shanghai = (at: Date) =>
      new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace("T", " ");
    const yuan = (fen: number) => `${Math.trunc(fen / 100)}.${String(fen % 100).padStart(2, "0")}`;
    const header =
      "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
    const rows: string[][] = [];
    let paidFen = 0;
    let refundFen = 0;
    for (const t of trades.values()) {
      if (t.mchid !== mchid || !t.paidAt) continue;
      if (shanghai(t.paidAt).slice(0, 10) === day) {
        const booked = billFaults.amount.get(t.outTradeNo) ?? t.total;
        paidFen += booked;
        rows.push([
          shanghai(t.paidAt),
          t.appid,
          t.mchid,
          "0",
          "",
          t.transactionId,
          t.outTradeNo,
          "oUpF8u",
          t.tradeType,
          "SUCCESS",
          "OTHERS",
          "CNY",
          yuan(booked),
          "0.00",
          "0",
          "0",
          "0.00",
          "0.00",
          "",
          "",
          t.description,
          "",
          "0.00000",
          "0.00%",
          yuan(t.total),
          "0.00",
          "",
        ]);
      }
      for (const [outRefundNo, r] of t.refunds) {
        if (r.status !== "SUCCESS" || shanghai(r.successAt).slice(0, 10) !== day) continue;
        refundFen += r.amount;
        rows.push([
          shanghai(r.successAt),
          t.appid,
          t.mchid,
          "0",
          "",
          t.transactionId,
          t.outTradeNo,
          "oUpF8u",
          t.tradeType,
          "REFUND",
          "OTHERS",
          "CNY",
          "0.00",
          "0.00",
          r.refundId,
          outRefundNo,
          yuan(r.amount),
          "0.00",
          "ORIGINAL",
          "SUCCESS",
          t.description,
          "",
          "0.00000",
          "0.00%",
          "0.00",
          yuan(r.amount),
          "",
        ]);
      }
    }
    return [
      header,
      ...rows.map((r) => r.map((v) => `\`${v}`).join(",")),
      "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
      [String(rows.length), yuan(paidFen), yuan(refundFen), "0.00", "0.00000", yuan(paidFen), yuan(refundFen)]
        .map((v) => `\`${v}`)
        .join(","),
      "",
    ].join("\r\n");
  }

  // The payer's side: the Native code's page (the test's "scan"), the H5 pay page, the pay button.
  const byToken = (token: string) => trades.get(Buffer.from(token, "base64url").toString("utf8"));
  app.get("/cgi-bin/mmpayweb-bin/checkmweb", async (req, reply) => {
    const q = req.query as Record<string, string>;
    const t = byToken(String(q.prepay_id ?? "").replace(/^wx/, ""));
    if (!t) return reply.status(404).send("no such order");
    return reply.type("text/html; charset=utf-8").send(payPage(t, q.redirect_url));
  });
  app.get("/pay/:token", async (req, reply) => {
    const t = byToken((req.params as { token: string }).token);
    if (!t) return reply.status(404).send("no such order");
    return reply.type("text/html; charset=utf-8").send(payPage(t, undefined));
  });
  app.post("/sim/pay/:mchid/:outTradeNo", async (req, reply) => {
    const { mchid, outTradeNo } = req.params as { mchid: string; outTradeNo: string };
    const redirect = (req.query as Record<string, string>).redirect_url;
    const t = trades.get(key(mchid, outTradeNo));
    const refused = t ? payable(t) : "no such order";
    if (!t || refused) {
      return reply
        .status(409)
        .type("text/html; charset=utf-8")
        .send(`<!doctype html><p id=result>${escapeHtml(String(refused))}</p>`);
    }
    settle(t);
    if (redirect && /^https?:\/\//.test(redirect)) return reply.redirect(redirect);
    return reply.type("text/html; charset=utf-8").send("<!doctype html><p id=result>支付成功</p>");
  });

  function payPage(t: WechatTrade, redirect: string | undefined): string {
    const action = `/sim/pay/${encodeURIComponent(t.mchid)}/${encodeURIComponent(t.outTradeNo)}${
      redirect ? `?redirect_url=${encodeURIComponent(redirect)}` : ""
    }`;
    return `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>微信支付（模拟）</title>
<h1>微信支付（模拟）</h1><p id="subject">${escapeHtml(t.description)}</p><p id="amount">￥${(t.total / 100).toFixed(2)}</p>
<form method="post" action="${escapeHtml(action)}"><button id="pay" type="submit">确认支付</button></form></html>`;
  }

  await app.listen({ host: options.host ?? "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;

  const find = (outTradeNo: string) => [...trades.values()].find((t) => t.outTradeNo === outTradeNo);

  const sim: WechatSimulator = {
    url,
    baseUrl: `${url}/`,
    platformPublicKey,
    platformSerial,
    faults,
    billFaults,
    get badSignatures() {
      return badSignatures;
    },
    registerMerchant(m) {
      merchants.set(m.mchid, { ...m, key: createPublicKey(m.publicKeyPem) });
    },
    trade: find,
    async pay(no, at) {
      const t = find(no);
      if (!t) throw new Error(`no order ${no}`);
      const refused = payable(t);
      if (refused) throw new Error(refused);
      return settle(t, at);
    },
    async payDespiteClose(no) {
      const t = find(no);
      if (!t) throw new Error(`no order ${no}`);
      return settle(t);
    },
    plantTrade(mchid, outTradeNo, total, at) {
      const m = merchants.get(mchid);
      const t: WechatTrade = {
        mchid,
        appid: m?.appid ?? "",
        outTradeNo,
        transactionId: `42000${String(Date.now()).slice(-10)}${String(++seq).padStart(13, "0")}`,
        total,
        description: "?",
        tradeType: "NATIVE",
        notifyUrl: "",
        payerClientIp: undefined,
        state: "SUCCESS",
        timeExpire: undefined,
        createdAt: at,
        paidAt: at,
        refunds: new Map(),
        refundCalls: 0,
        notifiesSent: 0,
        notifiesTaken: 0,
      };
      trades.set(key(mchid, outTradeNo), t);
      return t;
    },
    async renotify(no) {
      const t = find(no);
      if (t) sendNotify(t);
    },
    async notifyOnce(no, o = {}) {
      const t = find(no);
      if (!t) throw new Error(`no order ${no}`);
      t.notifiesSent++;
      // A notify says the order was paid (TRANSACTION.SUCCESS), whatever the order is at WeChat Pay.
      const body = notifyBody(t, {
        asPaid: true,
        ...(o.amountTotal !== undefined ? { amountTotal: o.amountTotal } : {}),
        ...(o.outTradeNo !== undefined ? { outTradeNo: o.outTradeNo } : {}),
        ...(o.tamper === "key" ? { apiV3Key: randomBytes(16).toString("hex") } : {}),
      });
      const res = await postTampered(t.notifyUrl, body, o.tamper);
      if (res.status === 200 || res.status === 204) t.notifiesTaken++;
      return res;
    },
    refund: findRefund,
    async renotifyRefund(no) {
      const found = findRefund(no);
      if (found) sendRefundNotify(found.trade, no, found.refund, 0);
    },
    async refundNotifyOnce(no, o = {}) {
      const found = findRefund(no);
      if (!found?.refund.notifyUrl) throw new Error(`no refund ${no} with a notify_url`);
      found.refund.notifiesSent++;
      const body = refundNotifyBody(found.trade, no, found.refund, {
        ...(o.amountRefund !== undefined ? { amountRefund: o.amountRefund } : {}),
        ...(o.status !== undefined ? { status: o.status } : {}),
        ...(o.tamper === "key" ? { apiV3Key: randomBytes(16).toString("hex") } : {}),
      });
      const res = await postTampered(found.refund.notifyUrl, body, o.tamper);
      if (res.status === 200 || res.status === 204) found.refund.notifiesTaken++;
      return res;
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    async close() {
      await app.close();
    },
  };

  function findRefund(no: string): { trade: WechatTrade; refund: WechatRefund } | undefined {
    for (const trade of trades.values()) {
      const refund = trade.refunds.get(no);
      if (refund) return { trade, refund };
    }
    return undefined;
  }

  /** A notify posted once, signed as WeChat Pay signs, or forged as `tamper` says. */
  async function postTampered(url: string, body: string, tamper: NotifyTamper | undefined) {
    let headers = signedHeaders(body);
    let sent = body;
    switch (tamper) {
      case "signature": {
        const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
        const ts = headers["Wechatpay-Timestamp"];
        const n = headers["Wechatpay-Nonce"];
        headers = { ...headers, "Wechatpay-Signature": sign(`${ts}\n${n}\n${body}\n`, other) };
        break;
      }
      case "body":
        // Signed, then changed on the way: another transaction's ciphertext in the same envelope.
        sent = body.replace(/"summary":"[^"]*"/, '"summary":"支付成功 "');
        break;
      case "serial":
        headers = { ...headers, "Wechatpay-Serial": `PUB_KEY_ID_01${"0".repeat(28)}` };
        break;
      case "stale":
        headers = signedHeaders(body, Math.floor(Date.now() / 1000) - 600);
        break;
      default:
    }
    return postNotify(url, sent, headers);
  }
  return sim;
}
