import { createHash, createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { Aes, Formatter, Rsa, Wechatpay } from "wechatpay-axios-plugin";
import type { ChannelOutcome } from "../../domain/payment.ts";
import {
  type ChannelAccount,
  ChannelRefusedError,
  ChannelUnavailableError,
  type NotifyRequest,
  type OpenOrder,
  type PaymentChannel,
  type RefundOutcome,
  type RefundRequest,
  type StatementLine,
  type VerifiedNotify,
  yuanStringToFen,
} from "../channel.ts";

/** How far a notify's Wechatpay-Timestamp may be from our clock (the SDK's rule for answers too). */
const MAX_CLOCK_OFFSET_S = 300;

/**
 * WeChat Pay API v3 (微信支付 APIv3, 直连商户) through `wechatpay-axios-plugin`, the Node SDK WeChat
 * Pay's documentation lists: every request signed `WECHATPAY2-SHA256-RSA2048` with the merchant's
 * API key over `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, every answer verified with the platform
 * key named by `Wechatpay-Serial` over `TIMESTAMP\nNONCE\nBODY\n` (±5 min). Every answer, refusals
 * included (`validateStatus` lets all statuses through the SDK's verifier): an unsigned or
 * forged answer is "nothing is known", never a refusal. Notifies are verified the same way, then
 * their `resource` is decrypted with AEAD_AES_256_GCM under the APIv3 key.
 *
 * Account config (all strings): `appId` (the 公众号/应用 appid bound to the mchid), `serialNo` (the
 * merchant API certificate's serial), `privateKey` (its key, PEM), `platformSerial` and
 * `platformPublicKey` (微信支付公钥 ID and PEM, or a platform certificate's serial and PEM),
 * `apiV3Key` (32 characters), `baseUrl` (https://api.mch.weixin.qq.com/ in production; the
 * simulator's address in tests). The account id is the mchid.
 */
export class WechatChannel implements PaymentChannel {
  readonly name = "wechat";
  readonly notifyPerAccount = true;
  readonly wapNeedsPayerIp = true;
  readonly notifyAnswer = {
    // 200 or 204 is taken; anything else and WeChat Pay sends the notify again.
    taken: { status: 204, contentType: "application/json", body: "" },
    refused: {
      status: 401,
      contentType: "application/json",
      body: JSON.stringify({ code: "FAIL", message: "验签失败或订单不符" }),
    },
  };
  private readonly clients = new Map<string, { fingerprint: string; keys: Keys; client: WechatClient }>();

  constructor(private readonly options: { timeoutMs: number }) {}

  private keysFor(account: ChannelAccount): { keys: Keys; client: WechatClient } {
    const c = account.config;
    const fingerprint = [
      c.appId,
      c.serialNo,
      c.privateKey,
      c.platformSerial,
      c.platformPublicKey,
      c.apiV3Key,
      c.baseUrl,
    ].join("|");
    const cached = this.clients.get(account.accountId);
    if (cached?.fingerprint === fingerprint) return cached;
    const keys = readKeys(account);
    const client = new Wechatpay({
      mchid: account.accountId,
      serial: keys.serialNo,
      // KeyObjects, never strings: the SDK would read a "file://…" string from disk. It takes
      // them (Rsa.isKeyObject) though its typings name strings and Buffers only.
      privateKey: keys.privateKey as unknown as string,
      certs: { [keys.platformSerial]: keys.platformKey },
      baseURL: keys.baseUrl,
      timeout: this.options.timeoutMs,
      // Every status through the verifier: a 4xx refusal must be WeChat Pay's signed word too.
      validateStatus: () => true,
    }) as unknown as WechatClient;
    const entry = { fingerprint, keys, client };
    this.clients.set(account.accountId, entry);
    return entry;
  }

  /** One signed call; the answer verified. A time-out, a 5xx, a bad signature: unavailable. */
  private async call(
    account: ChannelAccount,
    method: "get" | "post",
    path: string,
    data?: Record<string, unknown>,
    config: Record<string, unknown> = {},
  ): Promise<{ status: number; data: Record<string, unknown> }> {
    let res: { status: number; data: unknown };
    try {
      res = await this.keysFor(account).client.client.request(path, method, data, config);
    } catch (error) {
      throw new ChannelUnavailableError(this.name, error);
    }
    if (res.status >= 500) {
      throw new ChannelUnavailableError(this.name, new Error(`WeChat Pay answered ${res.status}`));
    }
    const body =
      typeof res.data === "object" && res.data !== null ? (res.data as Record<string, unknown>) : {};
    return { status: res.status, data: body };
  }

  async openOrder(account: ChannelAccount, order: OpenOrder): Promise<{ payTarget: string }> {
    const { keys } = this.keysFor(account);
    const body: Record<string, unknown> = {
      appid: keys.appId,
      mchid: account.accountId,
      description: order.subject.slice(0, 127),
      out_trade_no: order.orderId,
      time_expire: rfc3339Shanghai(order.expiresAt),
      notify_url: order.notifyUrl,
      amount: { total: order.amountFen, currency: "CNY" },
    };
    if (order.scene === "wap") {
      if (!order.payerIp) {
        throw new ChannelRefusedError(this.name, "PAYER_IP", "an H5 order needs the payer's address");
      }
      body.scene_info = { payer_client_ip: order.payerIp, h5_info: { type: "Wap" } };
    }
    const path = order.scene === "wap" ? "/v3/pay/transactions/h5" : "/v3/pay/transactions/native";
    const res = await this.call(account, "post", path, body);
    const target = order.scene === "wap" ? res.data.h5_url : res.data.code_url;
    if (res.status !== 200 || typeof target !== "string") throw refused(res);
    if (order.scene === "wap" && order.returnUrl) {
      // H5 支付: the payer comes back to redirect_url once the pay page is left.
      return { payTarget: `${target}&redirect_url=${encodeURIComponent(order.returnUrl)}` };
    }
    return { payTarget: target };
  }

  async query(account: ChannelAccount, orderId: string): Promise<ChannelOutcome> {
    const res = await this.call(
      account,
      "get",
      "/v3/pay/transactions/out-trade-no/{out_trade_no}",
      undefined,
      {
        out_trade_no: encodeURIComponent(orderId),
        params: { mchid: account.accountId },
      },
    );
    if (res.status === 404 && res.data.code === "ORDER_NOT_EXIST") return { kind: "unknown" };
    if (res.status !== 200) throw refused(res);
    if (res.data.mchid !== account.accountId || res.data.out_trade_no !== orderId) {
      throw new ChannelUnavailableError(this.name, new Error("the answer is for another order"));
    }
    return outcomeOf(res.data);
  }

  async close(account: ChannelAccount, orderId: string): Promise<"closed" | "paid"> {
    const res = await this.call(
      account,
      "post",
      "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
      { mchid: account.accountId },
      { out_trade_no: encodeURIComponent(orderId) },
    );
    if (res.status === 204) return "closed";
    if (res.status === 404 && res.data.code === "ORDER_NOT_EXIST") return "closed";
    // A paid order cannot be closed (ORDERPAID): ask what it is, the query's answer settles it.
    if (res.status === 400) {
      const outcome = await this.query(account, orderId);
      if (outcome.kind === "paid") return "paid";
      if (outcome.kind === "closed") return "closed";
    }
    throw refused(res);
  }

  notifyAccountId(notify: NotifyRequest): string | undefined {
    return notify.pathAccountId;
  }

  verifyNotify(account: ChannelAccount, notify: NotifyRequest): VerifiedNotify | undefined {
    const { keys } = this.keysFor(account);
    const h = notify.headers;
    const [timestamp, nonce, serial, signature] = [
      h["wechatpay-timestamp"],
      h["wechatpay-nonce"],
      h["wechatpay-serial"],
      h["wechatpay-signature"],
    ];
    if (!timestamp || !nonce || !serial || !signature) return undefined;
    if (serial !== keys.platformSerial) return undefined;
    if (!/^\d{1,12}$/.test(timestamp)) return undefined;
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > MAX_CLOCK_OFFSET_S) return undefined;
    let verified = false;
    try {
      verified = Rsa.verify(Formatter.response(timestamp, nonce, notify.body), signature, keys.platformKey);
    } catch {
      verified = false;
    }
    if (!verified) return undefined;
    const envelope = parseJson(notify.body);
    const resource = envelope?.resource as Record<string, unknown> | undefined;
    const event = envelope?.event_type;
    const refundEvent = typeof event === "string" && REFUND_EVENTS.has(event);
    if ((event !== "TRANSACTION.SUCCESS" && !refundEvent) || !resource) return undefined;
    if (resource.algorithm !== "AEAD_AES_256_GCM") return undefined;
    let plain: Record<string, unknown> | undefined;
    try {
      plain = parseJson(
        Aes.AesGcm.decrypt(
          String(resource.ciphertext),
          keys.apiV3Key,
          String(resource.nonce),
          String(resource.associated_data ?? ""),
        ),
      );
    } catch {
      return undefined;
    }
    if (!plain || plain.mchid !== account.accountId || typeof plain.out_trade_no !== "string")
      return undefined;
    if (refundEvent) return refundNotifyOf(account.accountId, String(event), plain);
    if (plain.appid !== keys.appId) return undefined;
    return { accountId: account.accountId, orderId: plain.out_trade_no, outcome: outcomeOf(plain) };
  }

  async refund(account: ChannelAccount, r: RefundRequest): Promise<RefundOutcome> {
    const res = await this.call(account, "post", "/v3/refund/domestic/refunds", {
      out_trade_no: r.orderId,
      out_refund_no: r.refundId,
      reason: r.reason.slice(0, 80),
      // 退款结果通知 (REFUND.SUCCESS / ABNORMAL / CLOSED) goes there; the query settles it without.
      ...(r.notifyUrl ? { notify_url: r.notifyUrl } : {}),
      amount: { refund: r.amountFen, total: r.paidFen, currency: "CNY" },
    });
    if (res.status !== 200) throw refused(res);
    return refundOutcomeOf(res.data, r.refundId);
  }

  async queryRefund(
    account: ChannelAccount,
    r: { orderId: string; refundId: string },
  ): Promise<RefundOutcome> {
    const res = await this.call(account, "get", "/v3/refund/domestic/refunds/{out_refund_no}", undefined, {
      out_refund_no: encodeURIComponent(r.refundId),
    });
    if (res.status === 404) return { kind: "none" };
    if (res.status !== 200) throw refused(res);
    if (res.data.out_trade_no !== r.orderId) {
      throw new ChannelUnavailableError(this.name, new Error("the refund is for another order"));
    }
    return refundOutcomeOf(res.data, r.refundId);
  }

  /** 申请交易账单: the day's bill (all trades and refunds) as WeChat Pay's download URL. */
  async statementUrl(account: ChannelAccount, businessDay: string): Promise<string> {
    return (await this.billTicket(account, businessDay)).url;
  }

  private async billTicket(
    account: ChannelAccount,
    businessDay: string,
  ): Promise<{ url: string; hashType: string; hashValue: string }> {
    const res = await this.call(account, "get", "/v3/bill/tradebill", undefined, {
      params: { bill_date: businessDay, bill_type: "ALL" },
    });
    if (res.status !== 200 || typeof res.data.download_url !== "string") throw refused(res);
    return {
      url: res.data.download_url,
      hashType: String(res.data.hash_type ?? ""),
      hashValue: String(res.data.hash_value ?? ""),
    };
  }

  /**
   * Downloads the bill (a signed GET of the download URL; its answer is not signed, its digest is
   * the one the signed tradebill answer gave) and reads it: one line per SUCCESS and REFUND row.
   */
  async statement(account: ChannelAccount, businessDay: string): Promise<StatementLine[]> {
    const ticket = await this.billTicket(account, businessDay);
    const { keys, client } = this.keysFor(account);
    const at = new URL(ticket.url);
    // Signed requests go to WeChat Pay's own address only; the SDK then skips verifying the file
    // (not signed: its digest is in the signed tradebill answer) by its path, /v3/billdownload/file.
    if (at.origin !== new URL(keys.baseUrl).origin || at.pathname !== "/v3/billdownload/file") {
      throw new ChannelRefusedError(this.name, "BILL_URL", "the bill is not at WeChat Pay's address");
    }
    let res: { status: number; data: unknown };
    try {
      res = await client.client.request(at.pathname, "get", undefined, {
        params: Object.fromEntries(at.searchParams),
        responseType: "arraybuffer",
      });
    } catch (error) {
      throw new ChannelUnavailableError(this.name, error);
    }
    if (res.status !== 200) {
      throw new ChannelUnavailableError(this.name, new Error(`the bill download answered ${res.status}`));
    }
    const bytes = Buffer.from(res.data as ArrayBuffer);
    const digest = createHash(ticket.hashType === "SHA1" ? "sha1" : "sha256")
      .update(bytes)
      .digest("hex");
    if (digest.toLowerCase() !== ticket.hashValue.toLowerCase()) {
      throw new ChannelUnavailableError(
        this.name,
        new Error("the bill's digest is not the one WeChat Pay gave"),
      );
    }
    return readWechatBill(bytes.toString("utf8"));
  }
}

/**
 * WeChat Pay's 交易账单 (bill_type ALL): a CSV header row, one row per trade or refund whose
 * every value starts with a backquote (so spreadsheets keep long numbers), then the totals' two
 * rows. Columns by header name; amounts in yuan.
 */
export function readWechatBill(text: string): StatementLine[] {
  const rows = text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .filter((l) => l.length > 0);
  const header = (rows.shift() ?? "").split(",").map((h) => h.trim());
  const col = (h: string) => {
    const i = header.indexOf(h);
    if (i < 0) throw new Error(`the bill has no column ${h}`);
    return i;
  };
  const [at, tradeNo, outTradeNo, state, settled, refundNo, outRefundNo, refundAmount] = [
    col("交易时间"),
    col("微信订单号"),
    col("商户订单号"),
    col("交易状态"),
    col("应结订单金额"),
    col("微信退款单号"),
    col("商户退款单号"),
    col("退款金额"),
  ];
  const lines: StatementLine[] = [];
  for (const row of rows) {
    if (!row.startsWith("`")) break; // the totals follow the last row
    const v = row.split(",").map((x) => x.replace(/^`/, "").trim());
    const completedAt = new Date(`${String(v[at]).replace(" ", "T")}+08:00`);
    if (v[state] === "REFUND") {
      const fen = yuanStringToFen(String(v[refundAmount]));
      if (Number.isNaN(fen)) throw new Error(`the bill has an amount that is not one: ${v[refundAmount]}`);
      lines.push({
        kind: "refund",
        orderId: String(v[outTradeNo]),
        channelTradeNo: String(v[refundNo] || v[tradeNo]),
        amountFen: fen,
        refundId: String(v[outRefundNo]),
        completedAt,
      });
    } else if (v[state] === "SUCCESS") {
      const fen = yuanStringToFen(String(v[settled]));
      if (Number.isNaN(fen)) throw new Error(`the bill has an amount that is not one: ${v[settled]}`);
      lines.push({
        kind: "payment",
        orderId: String(v[outTradeNo]),
        channelTradeNo: String(v[tradeNo]),
        amountFen: fen,
        completedAt,
      });
    }
  }
  return lines;
}

interface Keys {
  appId: string;
  serialNo: string;
  privateKey: KeyObject;
  platformSerial: string;
  platformKey: KeyObject;
  apiV3Key: Buffer;
  baseUrl: string;
}

/** The SDK's client as this adapter calls it (its typings type the chained form only). */
interface WechatClient {
  client: {
    request(
      path: string,
      method: string,
      data: Record<string, unknown> | undefined,
      config: Record<string, unknown>,
    ): Promise<{ status: number; data: unknown }>;
  };
}

function readKeys(account: ChannelAccount): Keys {
  const c = account.config;
  const need = (k: string) => {
    const v = c[k];
    if (typeof v !== "string" || v.length === 0) {
      throw new ChannelRefusedError("wechat", "CONFIG", `the account has no ${k}`);
    }
    return v;
  };
  const pem = need("privateKey");
  const platform = need("platformPublicKey");
  if (!pem.startsWith("-----BEGIN") || !platform.startsWith("-----BEGIN")) {
    throw new ChannelRefusedError("wechat", "CONFIG", "keys are PEM text");
  }
  const apiV3Key = Buffer.from(need("apiV3Key"), "utf8");
  if (apiV3Key.length !== 32) throw new ChannelRefusedError("wechat", "CONFIG", "the APIv3 key is 32 bytes");
  const baseUrl = need("baseUrl");
  return {
    appId: need("appId"),
    serialNo: need("serialNo"),
    privateKey: createPrivateKey(pem),
    platformSerial: need("platformSerial"),
    platformKey: platform.includes("BEGIN CERTIFICATE")
      ? new X509Certificate(platform).publicKey
      : createPublicKey(platform),
    apiV3Key,
    baseUrl: baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`,
  };
}

function refused(res: { status: number; data: Record<string, unknown> }): ChannelRefusedError {
  return new ChannelRefusedError(
    "wechat",
    String(res.data.code ?? res.status),
    String(res.data.message ?? ""),
  );
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A transaction (query answer or decrypted notify) in our words; amounts are integer fen already. */
function outcomeOf(t: Record<string, unknown>): ChannelOutcome {
  const amount = (t.amount ?? {}) as Record<string, unknown>;
  switch (t.trade_state) {
    // REFUND: paid, then (partly) refunded: the money was taken.
    case "SUCCESS":
    case "REFUND": {
      const total = Number(amount.total);
      return {
        kind: "paid",
        channelTradeNo: String(t.transaction_id ?? ""),
        amountFen: Number.isSafeInteger(total) ? total : Number.NaN,
        paidAt: typeof t.success_time === "string" ? new Date(t.success_time) : new Date(),
      };
    }
    case "NOTPAY":
    case "USERPAYING":
    case "PAYERROR":
      return { kind: "waiting" };
    case "CLOSED":
    case "REVOKED":
      return { kind: "closed" };
    default:
      return { kind: "unknown" };
  }
}

/** 退款结果通知's event types, each with the refund_status its resource must carry. */
const REFUND_EVENTS = new Map([
  ["REFUND.SUCCESS", "SUCCESS"],
  ["REFUND.ABNORMAL", "ABNORMAL"],
  ["REFUND.CLOSED", "CLOSED"],
]);

/**
 * A decrypted refund notify (resource original_type "refund": mchid, out_trade_no, out_refund_no,
 * refund_id, refund_status, success_time, amount.refund in fen) in our words; undefined when the
 * signed event type and the encrypted status disagree or a field is missing.
 */
function refundNotifyOf(
  accountId: string,
  event: string,
  r: Record<string, unknown>,
): VerifiedNotify | undefined {
  const status = REFUND_EVENTS.get(event);
  if (r.refund_status !== status || typeof r.out_refund_no !== "string" || r.out_refund_no.length === 0)
    return undefined;
  const base = { accountId, refundId: r.out_refund_no, orderId: String(r.out_trade_no) };
  if (status === "ABNORMAL") return { ...base, refund: { kind: "abnormal" } };
  if (status === "CLOSED") return { ...base, refund: { kind: "closed" } };
  const amount = (r.amount ?? {}) as Record<string, unknown>;
  const refund = amount.refund;
  // Integer fen, a JSON number (never a yuan string).
  if (typeof refund !== "number" || !Number.isSafeInteger(refund) || refund <= 0) return undefined;
  if (typeof r.success_time !== "string") return undefined;
  const refundedAt = new Date(r.success_time);
  if (Number.isNaN(refundedAt.getTime())) return undefined;
  return {
    ...base,
    refund: { kind: "refunded", channelRefundNo: String(r.refund_id ?? ""), amountFen: refund, refundedAt },
  };
}

function refundOutcomeOf(r: Record<string, unknown>, refundId: string): RefundOutcome {
  if (r.out_refund_no !== refundId) {
    throw new ChannelUnavailableError("wechat", new Error("the answer is for another refund"));
  }
  const amount = (r.amount ?? {}) as Record<string, unknown>;
  switch (r.status) {
    case "SUCCESS":
      return {
        kind: "refunded",
        channelRefundNo: String(r.refund_id ?? ""),
        amountFen: Number(amount.refund),
        refundedAt: typeof r.success_time === "string" ? new Date(r.success_time) : new Date(),
      };
    // PROCESSING: taken, being paid back. ABNORMAL (退款异常, e.g. the payer's card is gone): taken,
    // stuck until the merchant acts at WeChat Pay; asked again, never sent twice.
    case "PROCESSING":
    case "ABNORMAL":
      return { kind: "pending" };
    // 退款关闭: nothing was paid back (the refunder frees the reserved amount).
    case "CLOSED":
      return { kind: "closed" };
    default:
      return { kind: "pending" };
  }
}

/** WeChat Pay's times: RFC 3339 with the offset, in Beijing time ("2026-01-01T10:00:00+08:00"). */
export function rfc3339Shanghai(at: Date): string {
  return `${new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 19)}+08:00`;
}
