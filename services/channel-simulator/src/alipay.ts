import { createSign, createVerify, generateKeyPairSync, randomBytes } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import { zipSync } from "fflate";
import iconv from "iconv-lite";
import { escapeHtml, sleep } from "./text.ts";

/**
 * Alipay's open platform (支付宝开放平台, OpenAPI 2.0 gateway) as a peer on loopback, speaking the
 * protocol the official SDK speaks: common parameters in the query string, `biz_content` in the
 * form body, the request's RSA2 signature (SHA256withRSA over the sorted `key=value&…` of every
 * parameter but `sign`) checked with the app's public key; answers
 * `{"<method>_response": {...}, "sign": "..."}` signed over the inner object's exact text with
 * Alipay's key; asynchronous notifies as form POSTs signed over the sorted parameters without
 * `sign` and `sign_type`, retried until the merchant answers the literal `success`.
 * Trades live in memory. Faults for tests: drop, duplicate or delay notifies, stall the gateway.
 */
export type NotifyMode = "deliver" | "drop" | "duplicate" | "delay";

export interface AlipayTrade {
  appId: string;
  outTradeNo: string;
  tradeNo: string;
  totalAmount: string;
  subject: string;
  notifyUrl: string | undefined;
  returnUrl: string | undefined;
  /** CREATED: precreated, not scanned yet (Alipay's query says TRADE_NOT_EXIST). */
  status: "CREATED" | "WAIT_BUYER_PAY" | "TRADE_SUCCESS" | "TRADE_CLOSED";
  timeExpire: Date | undefined;
  createdAt: Date;
  paidAt: Date | undefined;
  /** Refunds by out_request_no (the merchant's idempotency key): amount and when it was paid back. */
  refunds: Map<string, { amount: string; at: Date; reason: string }>;
  /** Every alipay.trade.refund call for the trade, repeats included. */
  refundCalls: number;
  notifiesSent: number;
  notifiesTaken: number;
}

export interface AlipaySimulator {
  readonly url: string;
  readonly gatewayUrl: string;
  /** Alipay's public key (PEM): the merchant verifies answers and notifies with it. */
  readonly alipayPublicKey: string;
  registerApp(appId: string, appPublicKeyPem: string): void;
  trade(outTradeNo: string): AlipayTrade | undefined;
  /** The payer scans the QR code (or opens the H5 page) and pays. Refused once closed or expired. */
  pay(outTradeNo: string, at?: Date): Promise<AlipayTrade>;
  /** Faults of the day's statement (对账单): a trade booked on another day, or for another amount. */
  billFaults: {
    bookedOn: Map<string, string>;
    amount: Map<string, string>;
    refundAt: Date | undefined;
    /** Days whose bill is not published yet: bill.downloadurl.query answers isp.bill_not_exist. */
    notReady: Set<string>;
  };
  /** A trade the merchant never opened (paid at Alipay, e.g. by a code the merchant printed long ago). */
  plantTrade(appId: string, outTradeNo: string, totalAmount: string, at: Date): AlipayTrade;
  /** Money taken even though the merchant closed the trade a moment before (the race a close can lose). */
  payDespiteClose(outTradeNo: string): Promise<AlipayTrade>;
  /** Sends the trade's notify again now, as Alipay's retries would. */
  renotify(outTradeNo: string): Promise<void>;
  faults: {
    notify: NotifyMode;
    notifyDelayMs: number;
    stallMs: number;
    stallMethods: Set<string>;
    /** The request is carried out, then its answer held this long (lost, for a short client timeout). */
    answerDelayMs: number;
    answerDelayMethods: Set<string>;
  };
  /** Requests the gateway refused for a bad signature. */
  readonly badSignatures: number;
  /** Waits until every notify in flight has been answered or given up. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const RESPONSE_KEYS: Record<string, string> = {};
const responseKey = (method: string) => (RESPONSE_KEYS[method] ??= `${method.replaceAll(".", "_")}_response`);

export async function startAlipaySimulator(
  options: {
    notifyRetryMs?: readonly number[];
    host?: string;
    /** 服务费 Alipay keeps per mille of each payment (and gives back in proportion on a refund); 0 by default. */
    serviceFeePermille?: number;
  } = {},
): Promise<AlipaySimulator> {
  const feeOf = (fen: number) => Math.round((fen * (options.serviceFeePermille ?? 0)) / 1000);
  const retries = options.notifyRetryMs ?? [200, 400, 800, 1600];
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const alipayPrivate = keys.privateKey;
  const alipayPublicKey = keys.publicKey.export({ type: "spki", format: "pem" }).toString();
  const apps = new Map<string, string>();
  const trades = new Map<string, AlipayTrade>();
  const inFlight = new Set<Promise<void>>();
  let badSignatures = 0;
  let tradeSeq = 0;
  const billFaults = {
    bookedOn: new Map<string, string>(),
    amount: new Map<string, string>(),
    /** When refunds are booked (a planted day's); unset: now. */
    refundAt: undefined as Date | undefined,
    notReady: new Set<string>(),
  };
  const faults = {
    notify: "deliver" as NotifyMode,
    notifyDelayMs: 1000,
    stallMs: 0,
    stallMethods: new Set<string>(),
    answerDelayMs: 0,
    answerDelayMethods: new Set<string>(),
  };

  const signText = (text: string) =>
    createSign("RSA-SHA256").update(text, "utf8").sign(alipayPrivate, "base64");
  const sortedContent = (params: Record<string, string>, leave: readonly string[]) =>
    Object.keys(params)
      .filter((k) => !leave.includes(k) && params[k] !== undefined && params[k] !== "")
      .sort()
      .map((k) => `${k}=${params[k]}`)
      .join("&");

  const answer = (method: string, inner: Record<string, unknown>) => {
    const text = JSON.stringify(inner);
    return `{"${responseKey(method)}":${text},"sign":"${signText(text)}"}`;
  };
  const error = (method: string, code: string, msg: string, subCode: string, subMsg: string) =>
    answer(method, { code, msg, sub_code: subCode, sub_msg: subMsg });
  const notExist = (method: string) =>
    error(method, "40004", "Business Failed", "ACQ.TRADE_NOT_EXIST", "交易不存在");

  const shanghai = (at: Date) =>
    new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace("T", " ");
  const parseShanghai = (text: string | undefined) =>
    text ? new Date(`${text.replace(" ", "T")}+08:00`) : undefined;

  function verifyRequest(params: Record<string, string>): boolean {
    const appKey = apps.get(params.app_id ?? "");
    if (!appKey || !params.sign) return false;
    return createVerify("RSA-SHA256")
      .update(sortedContent(params, ["sign"]), "utf8")
      .verify(appKey, params.sign, "base64");
  }

  function notifyParams(t: AlipayTrade): Record<string, string> {
    const params: Record<string, string> = {
      notify_time: shanghai(new Date()),
      notify_type: "trade_status_sync",
      notify_id: randomBytes(16).toString("hex"),
      app_id: t.appId,
      charset: "utf-8",
      version: "1.0",
      sign_type: "RSA2",
      trade_no: t.tradeNo,
      out_trade_no: t.outTradeNo,
      trade_status: t.status,
      total_amount: t.totalAmount,
      receipt_amount: t.totalAmount,
      buyer_pay_amount: t.totalAmount,
      subject: t.subject,
      gmt_create: shanghai(t.createdAt),
      ...(t.paidAt ? { gmt_payment: shanghai(t.paidAt) } : {}),
      buyer_logon_id: "138****8000",
    };
    params.sign = signText(sortedContent(params, ["sign", "sign_type"]));
    return params;
  }

  /** One notify's life: tries until "success", on Alipay's schedule (scaled down for tests). */
  function sendNotify(t: AlipayTrade, delayMs = 0): void {
    if (!t.notifyUrl) return;
    const url = t.notifyUrl;
    const run = (async () => {
      if (delayMs > 0) await sleep(delayMs);
      for (let attempt = 0; attempt <= retries.length; attempt++) {
        if (attempt > 0) await sleep(retries[attempt - 1] ?? 1000);
        t.notifiesSent++;
        try {
          const res = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
            body: new URLSearchParams(notifyParams(t)).toString(),
            signal: AbortSignal.timeout(5_000),
          });
          if ((await res.text()).trim() === "success") {
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

  function notifyPaid(t: AlipayTrade): void {
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

  function createTrade(
    params: Record<string, string>,
    biz: Record<string, string>,
    status: AlipayTrade["status"],
  ) {
    const existing = trades.get(biz.out_trade_no ?? "");
    if (existing) return existing;
    const t: AlipayTrade = {
      appId: params.app_id ?? "",
      outTradeNo: biz.out_trade_no ?? "",
      tradeNo: `${new Date().toISOString().slice(0, 10).replaceAll("-", "")}22001${String(++tradeSeq).padStart(10, "0")}`,
      totalAmount: biz.total_amount ?? "0.00",
      subject: biz.subject ?? "",
      notifyUrl: params.notify_url,
      returnUrl: params.return_url,
      status,
      timeExpire: parseShanghai(biz.time_expire),
      createdAt: new Date(),
      paidAt: undefined,
      refunds: new Map(),
      refundCalls: 0,
      notifiesSent: 0,
      notifiesTaken: 0,
    };
    trades.set(t.outTradeNo, t);
    return t;
  }

  function payable(t: AlipayTrade): string | undefined {
    if (t.status === "TRADE_SUCCESS") return "already paid";
    if (t.status === "TRADE_CLOSED") return "trade closed";
    if (t.timeExpire && t.timeExpire.getTime() <= Date.now()) return "trade expired";
    return undefined;
  }

  function settle(t: AlipayTrade, at = new Date()): AlipayTrade {
    t.status = "TRADE_SUCCESS";
    t.paidAt = at;
    notifyPaid(t);
    return t;
  }

  const app: FastifyInstance = Fastify({ logger: false });
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  const gateway = async (params: Record<string, string>): Promise<{ page?: string; json?: string }> => {
    const method = params.method ?? "";
    if (faults.stallMs > 0 && (faults.stallMethods.size === 0 || faults.stallMethods.has(method))) {
      await sleep(faults.stallMs);
    }
    if (!verifyRequest(params)) {
      badSignatures++;
      return { json: error(method, "40002", "Invalid Arguments", "isv.invalid-signature", "验签出错") };
    }
    let biz: Record<string, string>;
    try {
      biz = JSON.parse(params.biz_content ?? "{}") as Record<string, string>;
    } catch {
      return { json: error(method, "40002", "Invalid Arguments", "isv.invalid-parameter", "biz_content") };
    }
    const t = trades.get(biz.out_trade_no ?? "");
    switch (method) {
      case "alipay.trade.precreate": {
        if (!/^\d{1,12}\.\d{2}$/.test(biz.total_amount ?? "")) {
          return { json: error(method, "40004", "Business Failed", "ACQ.INVALID_PARAMETER", "total_amount") };
        }
        const trade = createTrade(params, biz, "CREATED");
        return {
          json: answer(method, {
            code: "10000",
            msg: "Success",
            out_trade_no: trade.outTradeNo,
            qr_code: `${sim.url}/qr/${trade.outTradeNo}`,
          }),
        };
      }
      case "alipay.trade.wap.pay": {
        const trade = createTrade(params, biz, "WAIT_BUYER_PAY");
        return { page: payPage(trade) };
      }
      case "alipay.trade.query":
        if (!t || t.status === "CREATED") return { json: notExist(method) };
        return {
          json: answer(method, {
            code: "10000",
            msg: "Success",
            trade_no: t.tradeNo,
            out_trade_no: t.outTradeNo,
            trade_status: t.status,
            total_amount: t.totalAmount,
            buyer_logon_id: "138****8000",
            ...(t.paidAt ? { send_pay_date: shanghai(t.paidAt) } : {}),
          }),
        };
      case "alipay.trade.close":
        if (!t) return { json: notExist(method) };
        if (t.status === "TRADE_SUCCESS") {
          return {
            json: error(method, "40004", "Business Failed", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"),
          };
        }
        if (t.status === "CREATED") {
          t.status = "TRADE_CLOSED";
          return { json: notExist(method) };
        }
        t.status = "TRADE_CLOSED";
        return {
          json: answer(method, {
            code: "10000",
            msg: "Success",
            trade_no: t.tradeNo,
            out_trade_no: t.outTradeNo,
          }),
        };
      case "alipay.trade.refund": {
        // A fully refunded trade is TRADE_CLOSED at Alipay, and its refunds still answer.
        if (!t || (t.status !== "TRADE_SUCCESS" && t.refunds.size === 0)) return { json: notExist(method) };
        t.refundCalls++;
        const requestNo = biz.out_request_no ?? t.outTradeNo;
        const again = t.refunds.get(requestNo);
        if (again && again.amount !== biz.refund_amount) {
          return {
            json: error(
              method,
              "40004",
              "Business Failed",
              "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
              "退款金额与退款请求号不一致",
            ),
          };
        }
        if (!again) {
          if (!/^\d{1,12}\.\d{2}$/.test(biz.refund_amount ?? "") || toFen(biz.refund_amount ?? "0") <= 0) {
            return {
              json: error(method, "40004", "Business Failed", "ACQ.INVALID_PARAMETER", "refund_amount"),
            };
          }
          if (refundedFen(t) + toFen(biz.refund_amount ?? "0") > toFen(t.totalAmount)) {
            return {
              json: error(
                method,
                "40004",
                "Business Failed",
                "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                "退款金额超限",
              ),
            };
          }
          t.refunds.set(requestNo, {
            amount: biz.refund_amount ?? "0",
            at: billFaults.refundAt ?? new Date(),
            reason: biz.refund_reason ?? "",
          });
          if (refundedFen(t) === toFen(t.totalAmount)) t.status = "TRADE_CLOSED";
        }
        const refund = t.refunds.get(requestNo);
        return {
          json: answer(method, {
            code: "10000",
            msg: "Success",
            trade_no: t.tradeNo,
            out_trade_no: t.outTradeNo,
            buyer_logon_id: "138****8000",
            // Alipay answers the trade's refunded total so far, and whether this call moved money.
            refund_fee: fenToYuan(refundedFen(t)),
            gmt_refund_pay: shanghai(refund?.at ?? new Date()),
            fund_change: again ? "N" : "Y",
          }),
        };
      }
      case "alipay.trade.fastpay.refund.query": {
        if (!t) return { json: notExist(method) };
        const refund = t.refunds.get(biz.out_request_no ?? t.outTradeNo);
        // Alipay answers 10000 either way; only a refund it made carries refund_amount.
        return {
          json: answer(method, {
            code: "10000",
            msg: "Success",
            trade_no: t.tradeNo,
            out_trade_no: t.outTradeNo,
            out_request_no: biz.out_request_no,
            ...(refund
              ? {
                  total_amount: t.totalAmount,
                  refund_amount: refund.amount,
                  refund_status: "REFUND_SUCCESS",
                  refund_reason: refund.reason,
                  gmt_refund_pay: shanghai(refund.at),
                }
              : {}),
          }),
        };
      }
      case "alipay.data.dataservice.bill.downloadurl.query":
        if (billFaults.notReady.has(String(biz.bill_date)))
          return { json: error(method, "40004", "Business Failed", "isp.bill_not_exist", "账单不存在") };
        return {
          json: answer(method, {
            code: "10000",
            msg: "Success",
            bill_download_url: `${sim.url}/bills/${params.app_id}/${biz.bill_type}/${biz.bill_date}.csv.zip`,
          }),
        };
      default:
        return { json: error(method, "40004", "Business Failed", "isv.invalid-method", "不存在的方法名") };
    }
  };

  const handle = async (
    params: Record<string, string>,
    reply: { type: (t: string) => { send: (b: string) => unknown } },
  ) => {
    const out = await gateway(params);
    if (faults.answerDelayMs > 0 && faults.answerDelayMethods.has(params.method ?? "")) {
      await sleep(faults.answerDelayMs);
    }
    if (out.page) return reply.type("text/html; charset=utf-8").send(out.page);
    return reply.type("application/json; charset=utf-8").send(out.json ?? "{}");
  };
  app.post("/gateway.do", async (req, reply) =>
    handle(
      { ...(req.query as Record<string, string>), ...((req.body as Record<string, string>) ?? {}) },
      reply,
    ),
  );
  app.get("/gateway.do", async (req, reply) => handle(req.query as Record<string, string>, reply));

  // The payer's side: the H5 pay page's button, and a QR code's target.
  app.post("/sim/pay/:outTradeNo", async (req, reply) => {
    const { outTradeNo } = req.params as { outTradeNo: string };
    try {
      const t = await sim.pay(outTradeNo);
      if (t.returnUrl) {
        const ret: Record<string, string> = {
          app_id: t.appId,
          out_trade_no: t.outTradeNo,
          trade_no: t.tradeNo,
          total_amount: t.totalAmount,
          method: "alipay.trade.wap.pay.return",
          timestamp: shanghai(new Date()),
          charset: "utf-8",
          sign_type: "RSA2",
        };
        ret.sign = signText(sortedContent(ret, ["sign", "sign_type"]));
        return reply.redirect(
          `${t.returnUrl}${t.returnUrl.includes("?") ? "&" : "?"}${new URLSearchParams(ret)}`,
        );
      }
      return reply.type("text/html; charset=utf-8").send("<!doctype html><p id=result>支付成功</p>");
    } catch (e) {
      return reply
        .status(409)
        .type("text/html; charset=utf-8")
        .send(`<!doctype html><p id=result>${String((e as Error).message)}</p>`);
    }
  });
  // 账单下载: the URL bill.downloadurl.query answered; a zip of the day's 业务明细 CSV in GBK, as
  // Alipay serves it: '#' comment lines, the column header, one row per payment and per refund
  // (退款: negative amounts and the 退款批次号/请求号), then the totals.
  app.get("/bills/:appId/:billType/:file", async (req, reply) => {
    const { appId, file } = req.params as { appId: string; billType: string; file: string };
    const day = /^(\d{4}-\d{2}-\d{2})\.csv\.zip$/.exec(file)?.[1];
    if (!day) return reply.status(404).send("no such bill");
    const compact = day.replaceAll("-", "");
    const bookedOn = (t: AlipayTrade, at: Date) =>
      billFaults.bookedOn.get(t.outTradeNo) ?? shanghai(at).slice(0, 10);
    const rows: string[][] = [];
    let tradeCount = 0;
    let tradeFen = 0;
    let refundCount = 0;
    let refundFen = 0;
    let feeFen = 0;
    let refundFeeFen = 0;
    for (const t of trades.values()) {
      if (t.appId !== appId || !t.paidAt) continue;
      if (bookedOn(t, t.paidAt) === day) {
        const amount = billFaults.amount.get(t.outTradeNo) ?? t.totalAmount;
        tradeCount++;
        tradeFen += toFen(amount);
        rows.push([
          t.tradeNo,
          t.outTradeNo,
          "交易",
          t.subject,
          shanghai(t.createdAt),
          shanghai(t.paidAt),
          "",
          "",
          "",
          "",
          "138****8000",
          amount,
          amount,
          "0.00",
          "0.00",
          "0.00",
          "0.00",
          "0.00",
          "",
          "0.00",
          "0.00",
          "",
          feeOf(toFen(amount)) ? `-${fenToYuan(feeOf(toFen(amount)))}` : "0.00",
          "0.00",
          "",
        ]);
        feeFen += feeOf(toFen(amount));
      }
      for (const [requestNo, r] of t.refunds) {
        if (shanghai(r.at).slice(0, 10) !== day) continue;
        refundCount++;
        refundFen += toFen(r.amount);
        rows.push([
          t.tradeNo,
          t.outTradeNo,
          "退款",
          t.subject,
          shanghai(t.createdAt),
          shanghai(r.at),
          "",
          "",
          "",
          "",
          "138****8000",
          `-${r.amount}`,
          `-${r.amount}`,
          "0.00",
          "0.00",
          "0.00",
          "0.00",
          "0.00",
          "",
          "0.00",
          "0.00",
          requestNo,
          fenToYuan(feeOf(toFen(r.amount))),
          "0.00",
          r.reason,
        ]);
        refundFeeFen += feeOf(toFen(r.amount));
      }
    }
    const lines = [
      "#支付宝业务明细查询",
      `#账号：[${appId}]`,
      `#起始日期：[${day} 00:00:00]   终止日期：[${day} 23:59:59]`,
      "#-----------------------------------------业务明细列表----------------------------------------",
      "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注",
      ...rows.map((r) => r.map((v) => `${v}\t`).join(",")),
      "#-----------------------------------------业务明细列表结束------------------------------------",
      `#交易合计：${tradeCount}笔，商家实收共${fenToYuan(tradeFen)}元，服务费共${feeFen ? "-" : ""}${fenToYuan(feeFen)}元`,
      `#退款合计：${refundCount}笔，商家实收退款共-${fenToYuan(refundFen)}元，服务费共${fenToYuan(refundFeeFen)}元`,
      `#导出时间：[${shanghai(new Date())}]`,
    ];
    const csv = iconv.encode(lines.join("\r\n"), "gbk");
    const zip = zipSync({ [`${appId}_${compact}_业务明细.csv`]: new Uint8Array(csv) });
    return reply.type("application/zip").send(Buffer.from(zip));
  });

  app.get("/qr/:outTradeNo", async (req, reply) => {
    const t = trades.get((req.params as { outTradeNo: string }).outTradeNo);
    if (!t) return reply.status(404).send("no such trade");
    return reply.type("text/html; charset=utf-8").send(payPage(t));
  });

  function payPage(t: AlipayTrade): string {
    return `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>支付宝 收银台（模拟）</title>
<h1>支付宝（模拟）</h1><p id="subject">${escapeHtml(t.subject)}</p><p id="amount">￥${escapeHtml(t.totalAmount)}</p>
<form method="post" action="/sim/pay/${encodeURIComponent(t.outTradeNo)}"><button id="pay" type="submit">确认付款</button></form></html>`;
  }

  await app.listen({ host: options.host ?? "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;

  const sim: AlipaySimulator = {
    url,
    gatewayUrl: `${url}/gateway.do`,
    alipayPublicKey,
    faults,
    get badSignatures() {
      return badSignatures;
    },
    registerApp(appId, pem) {
      apps.set(appId, pem);
    },
    trade: (no) => trades.get(no),
    async pay(no, at) {
      const t = trades.get(no);
      if (!t) throw new Error(`no trade ${no}`);
      const refused = payable(t);
      if (refused) throw new Error(refused);
      return settle(t, at);
    },
    billFaults,
    plantTrade(appId, outTradeNo, totalAmount, at) {
      const t = createTrade(
        { app_id: appId },
        { out_trade_no: outTradeNo, total_amount: totalAmount, subject: "?" },
        "TRADE_SUCCESS",
      );
      t.paidAt = at;
      t.createdAt = at;
      return t;
    },
    async payDespiteClose(no) {
      const t = trades.get(no);
      if (!t) throw new Error(`no trade ${no}`);
      return settle(t);
    },
    async renotify(no) {
      const t = trades.get(no);
      if (t) sendNotify(t);
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    async close() {
      await app.close();
    },
  };
  return sim;
}

function refundedFen(t: AlipayTrade): number {
  return [...t.refunds.values()].reduce((s, r) => s + toFen(r.amount), 0);
}

function fenToYuan(fen: number): string {
  return `${Math.trunc(fen / 100)}.${String(fen % 100).padStart(2, "0")}`;
}

function toFen(yuan: string): number {
  const [y, f = ""] = yuan.split(".");
  return Number(y) * 100 + Number(f.padEnd(2, "0").slice(0, 2));
}
