import { AlipayRequestError, AlipaySdk } from "alipay-sdk";
import { unzipSync } from "fflate";
import type { ChannelOutcome } from "../../domain/payment.ts";
import {
  type ChannelAccount,
  ChannelRefusedError,
  ChannelUnavailableError,
  fenToYuanString,
  type NotifyRequest,
  type OpenOrder,
  type PaymentChannel,
  type RefundOutcome,
  type RefundRequest,
  type StatementLine,
  type VerifiedNotify,
  yuanStringToFen,
} from "../channel.ts";

/**
 * Alipay (支付宝开放平台) through the official SDK, `alipay-sdk`: requests signed RSA2 with the
 * merchant's private key, answers verified with Alipay's public key (`validateSign`), notifies
 * verified with the same key (`checkNotifySignV2`). Account config: `privateKey` (PEM, PKCS#1 or
 * PKCS#8), `alipayPublicKey` (PEM), `gateway` (https://openapi.alipay.com/gateway.do in
 * production; the simulator's address in tests).
 */
export class AlipayChannel implements PaymentChannel {
  readonly name = "alipay";
  readonly notifyAnswer = {
    taken: { status: 200, contentType: "text/plain", body: "success" },
    refused: { status: 200, contentType: "text/plain", body: "failure" },
  };
  readonly notifyPerAccount = false;
  readonly wapNeedsPayerIp = false;
  private readonly sdks = new Map<string, { fingerprint: string; sdk: AlipaySdk }>();

  constructor(private readonly options: { timeoutMs: number }) {}

  private sdkFor(account: ChannelAccount): AlipaySdk {
    const c = account.config;
    const fingerprint = `${c.privateKey}|${c.alipayPublicKey}|${c.gateway}`;
    const cached = this.sdks.get(account.accountId);
    if (cached?.fingerprint === fingerprint) return cached.sdk;
    const sdk = new AlipaySdk({
      appId: account.accountId,
      privateKey: String(c.privateKey),
      alipayPublicKey: String(c.alipayPublicKey),
      keyType: String(c.privateKey).includes("BEGIN PRIVATE KEY") ? "PKCS8" : "PKCS1",
      gateway: String(c.gateway),
      timeout: this.options.timeoutMs,
      camelcase: true,
    });
    this.sdks.set(account.accountId, { fingerprint, sdk });
    return sdk;
  }

  private async call(
    account: ChannelAccount,
    method: string,
    params: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    try {
      return (await this.sdkFor(account).exec(method, params, { validateSign: true })) as Record<
        string,
        unknown
      >;
    } catch (error) {
      // A timeout, a refused connection, a 5xx, and an answer whose signature does not hold are
      // all "nothing is known": the order is settled by query later.
      if (error instanceof AlipayRequestError || error instanceof Error) {
        throw new ChannelUnavailableError(this.name, error);
      }
      throw error;
    }
  }

  async openOrder(account: ChannelAccount, order: OpenOrder): Promise<{ payTarget: string }> {
    const bizContent = {
      outTradeNo: order.orderId,
      totalAmount: fenToYuanString(order.amountFen),
      subject: order.subject,
      timeExpire: shanghaiDateTime(order.expiresAt),
    };
    if (order.scene === "wap") {
      // A page method: the SDK signs the request into a URL that the payer's browser opens.
      const url = this.sdkFor(account).pageExec("alipay.trade.wap.pay", "GET", {
        notifyUrl: order.notifyUrl,
        ...(order.returnUrl ? { returnUrl: order.returnUrl } : {}),
        bizContent: {
          ...bizContent,
          productCode: "QUICK_WAP_WAY",
          ...(order.returnUrl ? { quitUrl: order.returnUrl } : {}),
        },
      });
      return { payTarget: url };
    }
    const res = await this.call(account, "alipay.trade.precreate", {
      notifyUrl: order.notifyUrl,
      bizContent,
    });
    if (res.code !== "10000" || typeof res.qrCode !== "string") throw refused(res);
    return { payTarget: res.qrCode };
  }

  async query(account: ChannelAccount, orderId: string): Promise<ChannelOutcome> {
    const res = await this.call(account, "alipay.trade.query", { bizContent: { outTradeNo: orderId } });
    if (res.code === "40004" && res.subCode === "ACQ.TRADE_NOT_EXIST") return { kind: "unknown" };
    if (res.code !== "10000") throw refused(res);
    return outcomeOf({
      tradeStatus: String(res.tradeStatus),
      tradeNo: String(res.tradeNo ?? ""),
      totalAmount: String(res.totalAmount ?? ""),
      paidAt: typeof res.sendPayDate === "string" ? res.sendPayDate : undefined,
    });
  }

  async close(account: ChannelAccount, orderId: string): Promise<"closed" | "paid"> {
    const res = await this.call(account, "alipay.trade.close", { bizContent: { outTradeNo: orderId } });
    if (res.code === "10000") return "closed";
    // Never scanned: Alipay has no trade to close, and none can be paid any more once ours expired.
    if (res.code === "40004" && res.subCode === "ACQ.TRADE_NOT_EXIST") return "closed";
    if (res.code === "40004" && res.subCode === "ACQ.TRADE_STATUS_ERROR") return "paid";
    throw refused(res);
  }

  notifyAccountId(notify: NotifyRequest): string | undefined {
    const appId = formOf(notify).app_id;
    return typeof appId === "string" ? appId : undefined;
  }

  verifyNotify(account: ChannelAccount, notify: NotifyRequest): VerifiedNotify | undefined {
    const form = formOf(notify);
    if (form.app_id !== account.accountId) return undefined;
    if (!this.sdkFor(account).checkNotifySignV2(form)) return undefined;
    if (typeof form.out_trade_no !== "string") return undefined;
    return {
      accountId: account.accountId,
      orderId: form.out_trade_no,
      outcome: outcomeOf({
        tradeStatus: String(form.trade_status),
        tradeNo: String(form.trade_no ?? ""),
        totalAmount: String(form.total_amount ?? ""),
        paidAt: form.gmt_payment,
      }),
    };
  }

  async refund(account: ChannelAccount, r: RefundRequest): Promise<RefundOutcome> {
    const res = await this.call(account, "alipay.trade.refund", {
      bizContent: {
        outTradeNo: r.orderId,
        refundAmount: fenToYuanString(r.amountFen),
        outRequestNo: r.refundId,
        refundReason: r.reason,
      },
    });
    if (res.code !== "10000") throw refused(res);
    // 10000 means the refund under this out_request_no stands (fund_change "N": an earlier call
    // of ours already moved the money). Alipay has no refund number: the trade's number and ours.
    return {
      kind: "refunded",
      channelRefundNo: String(res.tradeNo ?? ""),
      amountFen: r.amountFen,
      refundedAt: typeof res.gmtRefundPay === "string" ? fromShanghaiDateTime(res.gmtRefundPay) : new Date(),
    };
  }

  async queryRefund(
    account: ChannelAccount,
    r: { orderId: string; refundId: string },
  ): Promise<RefundOutcome> {
    const res = await this.call(account, "alipay.trade.fastpay.refund.query", {
      bizContent: { outTradeNo: r.orderId, outRequestNo: r.refundId },
    });
    if (res.code === "40004" && res.subCode === "ACQ.TRADE_NOT_EXIST") return { kind: "none" };
    if (res.code !== "10000") throw refused(res);
    // Alipay: refund_amount present and refund_status empty or REFUND_SUCCESS means refunded.
    if (typeof res.refundAmount !== "string") return { kind: "none" };
    if (res.refundStatus !== undefined && res.refundStatus !== "REFUND_SUCCESS") return { kind: "none" };
    return {
      kind: "refunded",
      channelRefundNo: String(res.tradeNo ?? ""),
      amountFen: yuanStringToFen(res.refundAmount),
      refundedAt: typeof res.gmtRefundPay === "string" ? fromShanghaiDateTime(res.gmtRefundPay) : new Date(),
    };
  }

  async statementUrl(account: ChannelAccount, businessDay: string): Promise<string> {
    const res = await this.call(account, "alipay.data.dataservice.bill.downloadurl.query", {
      bizContent: { billType: "trade", billDate: businessDay },
    });
    if (res.code !== "10000" || typeof res.billDownloadUrl !== "string") throw refused(res);
    return res.billDownloadUrl;
  }

  async statement(account: ChannelAccount, businessDay: string): Promise<StatementLine[]> {
    const url = await this.statementUrl(account, businessDay);
    let bytes: Uint8Array;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs) });
      if (!res.ok) throw new Error(`the bill download answered ${res.status}`);
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (error) {
      throw new ChannelUnavailableError(this.name, error);
    }
    return readAlipayBill(bytes);
  }
}

/**
 * Alipay's 业务明细 bill: a zip holding a GBK CSV, '#' comment lines around a header row and one
 * row per 交易 (payment) or 退款 (refund, negative amounts, the 退款批次号/请求号). Values may end
 * with a tab (Alipay adds one so spreadsheets keep long numbers): trimmed. Columns by header name.
 */
export function readAlipayBill(zip: Uint8Array): StatementLine[] {
  const files = unzipSync(zip);
  const name = Object.keys(files).find((n) => n.endsWith("业务明细.csv") || n.endsWith(".csv"));
  if (!name) throw new Error("the bill holds no CSV");
  const text = new TextDecoder("gbk").decode(files[name]);
  const rows = text.split(/\r?\n/).filter((l) => l.length > 0 && !l.startsWith("#"));
  const header = (rows.shift() ?? "").split(",").map((h) => h.trim());
  const col = (h: string) => {
    const i = header.indexOf(h);
    if (i < 0) throw new Error(`the bill has no column ${h}`);
    return i;
  };
  const [tradeNo, outTradeNo, kind, completed, amount, requestNo] = [
    col("支付宝交易号"),
    col("商户订单号"),
    col("业务类型"),
    col("完成时间"),
    col("订单金额（元）"),
    col("退款批次号/请求号"),
  ];
  // 服务费（元）: negative on a payment (what Alipay kept), positive on a refund (the part given back).
  const feeCol = header.indexOf("服务费（元）");
  return rows.map((line) => {
    const v = line.split(",").map((x) => x.trim());
    const isRefund = v[kind] === "退款";
    const fen = yuanStringToFen(String(v[amount]).replace(/^-/, ""));
    if (Number.isNaN(fen)) throw new Error(`the bill has an amount that is not one: ${v[amount]}`);
    return {
      kind: isRefund ? "refund" : "payment",
      orderId: String(v[outTradeNo]),
      channelTradeNo: String(v[tradeNo]),
      amountFen: fen,
      ...(isRefund && v[requestNo] ? { refundId: String(v[requestNo]) } : {}),
      ...feeOf(feeCol < 0 ? "" : String(v[feeCol] ?? "")),
      completedAt: fromShanghaiDateTime(String(v[completed])),
    } satisfies StatementLine;
  });
}

/** The bill's 服务费 as what Alipay kept (a payment's fee positive, a refund's returned fee negative). */
function feeOf(text: string): { feeFen?: number } {
  const fen = yuanStringToFen(text.replace(/^[-+]/, ""));
  if (!text || Number.isNaN(fen) || fen === 0) return {};
  return { feeFen: text.startsWith("-") ? fen : -fen };
}

/** Alipay's notify is a form POST (application/x-www-form-urlencoded, UTF-8). */
function formOf(notify: NotifyRequest): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(notify.body));
}

function refused(res: Record<string, unknown>): ChannelRefusedError {
  return new ChannelRefusedError(
    "alipay",
    String(res.subCode ?? res.code ?? "?"),
    String(res.subMsg ?? res.msg ?? ""),
  );
}

function outcomeOf(t: {
  tradeStatus: string;
  tradeNo: string;
  totalAmount: string;
  paidAt: string | undefined;
}): ChannelOutcome {
  switch (t.tradeStatus) {
    case "TRADE_SUCCESS":
    case "TRADE_FINISHED":
      return {
        kind: "paid",
        channelTradeNo: t.tradeNo,
        amountFen: yuanStringToFen(t.totalAmount),
        paidAt: t.paidAt ? fromShanghaiDateTime(t.paidAt) : new Date(),
      };
    case "WAIT_BUYER_PAY":
      return { kind: "waiting" };
    case "TRADE_CLOSED":
      return { kind: "closed" };
    default:
      return { kind: "unknown" };
  }
}

/** Alipay's times are "yyyy-MM-dd HH:mm:ss" in Beijing time. */
export function shanghaiDateTime(at: Date): string {
  return new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace("T", " ");
}

export function fromShanghaiDateTime(text: string): Date {
  const d = new Date(`${text.replace(" ", "T")}+08:00`);
  return Number.isNaN(d.getTime()) ? new Date() : d;
}
