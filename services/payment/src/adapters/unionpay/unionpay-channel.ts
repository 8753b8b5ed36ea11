import { createPrivateKey, type KeyObject } from "node:crypto";
import { inflateSync } from "node:zlib";
import { unzipSync } from "fflate";
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
} from "../channel.ts";
import {
  ACP_VERSION,
  type AcpFields,
  acpTime,
  encodeForm,
  fromAcpTime,
  fromTraceTime,
  parseAnswer,
  parseForm,
  readAnchors,
  SIGN_METHOD_RSA,
  signFields,
  type TrustAnchors,
  verifyFromUnionpay,
} from "./acp.ts";

/** respCode / origRespCode: 00 success; A6 success with a defect (有缺陷的成功): the money was taken. */
const SUCCESS = new Set(["00", "A6"]);
/** 03 timed out, 04 state unknown, 05 accepted, being processed: ask again later. */
const IN_DOUBT = new Set(["03", "04", "05"]);

/**
 * UnionPay online payments (银联全渠道, ACP 5.1.0, signMethod 01), spoken with node:crypto (acp.ts):
 * no maintained UnionPay SDK exists for Node.
 * - qr: 申请消费二维码 (backTransReq, txnType 01, txnSubType 07, bizType 000000, channelType 08):
 *   the answer's `qrCode` is the code the payer scans with a UnionPay app (云闪付 or a bank's).
 * - wap: the gateway's 手机网页支付 (frontTransReq, txnType 01, txnSubType 01, bizType 000201,
 *   channelType 08): a browser form POST, so the pay target is the frontTransReq address with the
 *   signed fields in its query; the cashier posts them as the form the gateway takes.
 * - query: queryTrans (txnType 00) by orderId and txnTime (the order's opening instant).
 * - close: UnionPay has no close for a consume not made; 消费撤销 (txnType 31) undoes a paid
 *   one, which is a refund, not a close. So close asks: paid → "paid"; anything else → "closed"
 *   here, and the order lapses at UnionPay at its payTimeout. Money taken in between is
 *   PAID_AFTER_CLOSE and goes back by the original route (the anomaly path every channel has).
 * - refund: 退货 (backTransReq, txnType 04, txnSubType 00) naming the consume by origQryId; its
 *   orderId is our refund id without dashes (UnionPay's orderId is 8–40 letters and digits), its
 *   txnTime the refund's creation, so every retry and query name the same refund; respCode 00 is
 *   "accepted", the result comes by queryTrans.
 * - notify (backUrl): a form POST; version, signMethod, the signing certificate's chain and
 *   owner, the signature, then merId must be the account's, before anything is read.
 * - statement: fileTransfer (txnType 76, fileType 00) for the settleDate (MMDD); fileContent is
 *   base64 of the zlib-deflated zip whose INN<yyMMdd>88ZM_<merId> file is read by its layout.
 *
 * Account config (all strings): `certId` (the merchant signing certificate's serial, decimal),
 * `privateKey` (its key, PEM, taken out of the .pfx), `rootCert` and `middleCert` (UnionPay's
 * acp root and middle certificates, PEM), `gatewayUrl` (https://gateway.95516.com/gateway/api/ in
 * production), `fileUrl` (https://filedownload.95516.com/). The account id is the merId.
 */
export class UnionpayChannel implements PaymentChannel {
  readonly name = "unionpay";
  readonly notifyPerAccount = false;
  readonly wapNeedsPayerIp = false;
  readonly wapFormPost = true;
  readonly notifyAnswer = {
    // 200 is taken; anything else and UnionPay sends the notify again.
    taken: { status: 200, contentType: "text/plain", body: "ok" },
    refused: { status: 400, contentType: "text/plain", body: "fail" },
  };
  private readonly keys = new Map<string, { fingerprint: string; keys: Keys }>();

  constructor(private readonly options: { timeoutMs: number; clock?: () => Date }) {}

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  private keysFor(account: ChannelAccount): Keys {
    const c = account.config;
    const fingerprint = [c.certId, c.privateKey, c.rootCert, c.middleCert, c.gatewayUrl, c.fileUrl].join("|");
    const cached = this.keys.get(account.accountId);
    if (cached?.fingerprint === fingerprint) return cached.keys;
    const keys = readKeys(account);
    this.keys.set(account.accountId, { fingerprint, keys });
    return keys;
  }

  /** The fields every request of this account carries, signed last. */
  private signed(account: ChannelAccount, fields: AcpFields): AcpFields {
    const k = this.keysFor(account);
    return signFields(
      {
        version: ACP_VERSION,
        encoding: "UTF-8",
        signMethod: SIGN_METHOD_RSA,
        certId: k.certId,
        accessType: "0",
        merId: account.accountId,
        ...fields,
      },
      k.privateKey,
    );
  }

  /** One signed back-end POST; the answer verified. A time-out, a non-200, a bad signature: unavailable. */
  private async post(account: ChannelAccount, url: string, fields: AcpFields): Promise<AcpFields> {
    const body = encodeForm(this.signed(account, fields));
    let text: string;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8" },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      text = await res.text();
      if (res.status !== 200) throw new Error(`UnionPay answered ${res.status}`);
    } catch (error) {
      throw new ChannelUnavailableError(this.name, error);
    }
    const answer = parseAnswer(text.trim());
    if (!answer || !verifyFromUnionpay(answer, this.keysFor(account).anchors, this.now())) {
      throw new ChannelUnavailableError(this.name, new Error("the answer's signature does not verify"));
    }
    if (answer.merId !== undefined && answer.merId !== account.accountId) {
      throw new ChannelUnavailableError(this.name, new Error("the answer is for another merchant"));
    }
    return answer;
  }

  async openOrder(account: ChannelAccount, order: OpenOrder): Promise<{ payTarget: string }> {
    const k = this.keysFor(account);
    const opened = order.openedAt ?? this.now();
    const common = {
      txnType: "01",
      channelType: "08",
      orderId: order.orderId,
      txnTime: acpTime(opened),
      txnAmt: String(order.amountFen),
      currencyCode: "156",
      backUrl: order.notifyUrl,
      payTimeout: acpTime(order.expiresAt),
      orderDesc: order.subject.slice(0, 32),
    };
    if (order.scene === "wap") {
      const fields = this.signed(account, {
        ...common,
        txnSubType: "01",
        bizType: "000201",
        ...(order.returnUrl ? { frontUrl: order.returnUrl } : {}),
      });
      return { payTarget: `${k.gatewayUrl}frontTransReq.do?${encodeForm(fields)}` };
    }
    const res = await this.post(account, `${k.gatewayUrl}backTransReq.do`, {
      ...common,
      txnSubType: "07",
      bizType: "000000",
    });
    if (!SUCCESS.has(res.respCode ?? "") || !res.qrCode) throw refused(res);
    if (res.orderId !== order.orderId) {
      throw new ChannelUnavailableError(this.name, new Error("the answer is for another order"));
    }
    return { payTarget: res.qrCode };
  }

  private async queryTrans(account: ChannelAccount, orderId: string, txnTime: Date): Promise<AcpFields> {
    const res = await this.post(account, `${this.keysFor(account).gatewayUrl}queryTrans.do`, {
      txnType: "00",
      txnSubType: "00",
      bizType: "000000",
      orderId,
      txnTime: acpTime(txnTime),
    });
    if (res.respCode === "00" && res.orderId !== orderId) {
      throw new ChannelUnavailableError(this.name, new Error("the answer is for another order"));
    }
    return res;
  }

  async query(account: ChannelAccount, orderId: string, openedAt?: Date): Promise<ChannelOutcome> {
    if (!openedAt) throw new ChannelRefusedError(this.name, "TXN_TIME", "a query names the order's txnTime");
    const res = await this.queryTrans(account, orderId, openedAt);
    // 34 查无此交易: never scanned, never sent to UnionPay.
    if (res.respCode === "34") return { kind: "unknown" };
    if (IN_DOUBT.has(res.respCode ?? "")) return { kind: "waiting" };
    if (res.respCode !== "00") throw refused(res);
    return this.outcomeOf(res, res.origRespCode ?? "");
  }

  private outcomeOf(t: AcpFields, code: string): ChannelOutcome {
    if (SUCCESS.has(code)) {
      const amount = /^\d{1,12}$/.test(t.txnAmt ?? "") ? Number(t.txnAmt) : Number.NaN;
      const near = fromAcpTime(t.txnTime) ?? this.now();
      return {
        kind: "paid",
        channelTradeNo: String(t.queryId ?? ""),
        amountFen: amount,
        paidAt: fromTraceTime(t.traceTime, near) ?? near,
      };
    }
    if (IN_DOUBT.has(code)) return { kind: "waiting" };
    // Any other final code: the consume failed or lapsed (payTimeout passed).
    return { kind: "closed" };
  }

  async close(account: ChannelAccount, orderId: string, openedAt?: Date): Promise<"closed" | "paid"> {
    const outcome = await this.query(account, orderId, openedAt);
    return outcome.kind === "paid" ? "paid" : "closed";
  }

  notifyAccountId(notify: NotifyRequest): string | undefined {
    return parseForm(notify.body)?.merId;
  }

  verifyNotify(account: ChannelAccount, notify: NotifyRequest): VerifiedNotify | undefined {
    const form = parseForm(notify.body);
    if (!form) return undefined;
    if (!verifyFromUnionpay(form, this.keysFor(account).anchors, this.now())) return undefined;
    if (form.merId !== account.accountId || !form.orderId) return undefined;
    if (form.txnType === "04") {
      // A refund's result, whatever it says: taken, and the refund asked (queryRefund decides).
      const refundId = uuidOf(form.orderId);
      return refundId ? { accountId: account.accountId, refundId } : undefined;
    }
    if (form.txnType !== "01" || !SUCCESS.has(form.respCode ?? "")) return undefined;
    return {
      accountId: account.accountId,
      orderId: form.orderId,
      outcome: this.outcomeOf(form, form.respCode ?? ""),
    };
  }

  async refund(account: ChannelAccount, r: RefundRequest): Promise<RefundOutcome> {
    if (!r.channelTradeNo || !r.requestedAt) {
      throw new ChannelRefusedError(
        this.name,
        "ORIG_QRY_ID",
        "a refund names the consume's queryId and its txnTime",
      );
    }
    const res = await this.post(account, `${this.keysFor(account).gatewayUrl}backTransReq.do`, {
      txnType: "04",
      txnSubType: "00",
      bizType: "000201",
      channelType: "07",
      orderId: refundOrderId(r.refundId),
      origQryId: r.channelTradeNo,
      txnTime: acpTime(r.requestedAt),
      txnAmt: String(r.amountFen),
      currencyCode: "156",
      ...(r.notifyUrl ? { backUrl: r.notifyUrl } : {}),
    });
    // 00 accepted; 12 重复交易 (this orderId and txnTime were taken before); in doubt: the query settles it.
    if (SUCCESS.has(res.respCode ?? "") || res.respCode === "12" || IN_DOUBT.has(res.respCode ?? "")) {
      return { kind: "pending" };
    }
    throw refused(res);
  }

  async queryRefund(
    account: ChannelAccount,
    r: { orderId: string; refundId: string; requestedAt?: Date | undefined },
  ): Promise<RefundOutcome> {
    if (!r.requestedAt)
      throw new ChannelRefusedError(this.name, "TXN_TIME", "a query names the refund's txnTime");
    const res = await this.queryTrans(account, refundOrderId(r.refundId), r.requestedAt);
    if (res.respCode === "34") return { kind: "none" };
    if (IN_DOUBT.has(res.respCode ?? "")) return { kind: "pending" };
    if (res.respCode !== "00") throw refused(res);
    const code = res.origRespCode ?? "";
    if (IN_DOUBT.has(code)) return { kind: "pending" };
    if (!SUCCESS.has(code)) {
      throw new ChannelRefusedError(this.name, code, String(res.origRespMsg ?? "退货失败"));
    }
    const near = fromAcpTime(res.txnTime) ?? this.now();
    return {
      kind: "refunded",
      channelRefundNo: String(res.queryId ?? ""),
      amountFen: Number(res.txnAmt),
      refundedAt: fromTraceTime(res.traceTime, near) ?? near,
    };
  }

  /** UnionPay has no download URL: the day's file is fetched by a signed POST to fileTransfer. */
  async statementUrl(account: ChannelAccount, businessDay: string): Promise<string> {
    return `${this.keysFor(account).fileUrl}?settleDate=${settleDateOf(businessDay)}`;
  }

  async statement(account: ChannelAccount, businessDay: string): Promise<StatementLine[]> {
    const res = await this.post(account, this.keysFor(account).fileUrl, {
      txnType: "76",
      txnSubType: "01",
      bizType: "000000",
      settleDate: settleDateOf(businessDay),
      txnTime: acpTime(this.now()),
      fileType: "00",
    });
    // 98 文件不存在: no trade that day.
    if (res.respCode === "98") return [];
    if (res.respCode !== "00" || !res.fileContent) throw refused(res);
    let zip: Uint8Array;
    try {
      zip = inflateSync(Buffer.from(res.fileContent, "base64"));
    } catch (error) {
      throw new ChannelUnavailableError(this.name, error);
    }
    return readUnionpayFile(zip, account.accountId, businessDay);
  }
}

/** The ZM file's layout (《全渠道平台接入接口规范 第3部分 文件接口》 6.1): byte widths, one space between fields. */
export const ZM_WIDTHS = [
  3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4, 32, 1, 21, 15, 1, 15, 32,
  13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98,
] as const;
/** Field numbers (1-based, as the spec counts them) this reader uses. */
const ZM = {
  traceTime: 5,
  txnAmt: 7,
  queryId: 10,
  orderId: 12,
  txnType: 20,
  origQryId: 27,
  merId: 28,
  origOrderId: 41,
} as const;

/**
 * The merchant reconciliation file: the zip holds INN<yyMMdd>88ZM_<merId> (GBK, one transaction a
 * line, fixed byte widths, CRLF). Consumes (txnType 01) are payments; 退货 (04) and 消费撤销 (31)
 * are refunds, named by their orderId (our refund id without dashes) and the original order
 * (field 41). Amounts are fen; times MMDDhhmmss in Beijing time, the year taken from the day.
 */
export function readUnionpayFile(zip: Uint8Array, merId: string, businessDay: string): StatementLine[] {
  const files = unzipSync(zip);
  const name = Object.keys(files).find((n) => /(^|\/)INN\d{6}\d{2}ZM_/.test(n));
  if (!name) throw new Error("the reconciliation zip holds no ZM file");
  const bytes = files[name] as Uint8Array;
  const gbk = new TextDecoder("gbk");
  const near = new Date(`${businessDay}T12:00:00+08:00`);
  const lines: StatementLine[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const line = bytes.subarray(start, end > start && bytes[end - 1] === 0x0d ? end - 1 : end);
    start = end + 1;
    if (line.length === 0) continue;
    const fields: string[] = [];
    let at = 0;
    for (const width of ZM_WIDTHS) {
      fields.push(gbk.decode(line.subarray(at, at + width)).trim());
      at += width + 1;
    }
    const f = (n: number) => fields[n - 1] ?? "";
    if (f(ZM.merId) !== merId) throw new Error(`the file has a line of another merchant: ${f(ZM.merId)}`);
    if (!/^\d{12}$/.test(f(ZM.txnAmt)))
      throw new Error(`the file has an amount that is not one: ${f(ZM.txnAmt)}`);
    const completedAt = fromTraceTime(f(ZM.traceTime), near);
    if (!completedAt) throw new Error(`the file has a time that is not one: ${f(ZM.traceTime)}`);
    const amountFen = Number(f(ZM.txnAmt));
    const type = f(ZM.txnType);
    if (type === "01") {
      lines.push({
        kind: "payment",
        orderId: f(ZM.orderId),
        channelTradeNo: f(ZM.queryId),
        amountFen,
        completedAt,
      });
    } else if (type === "04" || type === "31") {
      lines.push({
        kind: "refund",
        orderId: f(ZM.origOrderId),
        channelTradeNo: f(ZM.queryId),
        amountFen,
        refundId: uuidOf(f(ZM.orderId)) ?? f(ZM.orderId),
        completedAt,
      });
    }
  }
  return lines;
}

/** Our refund id (a UUID) as UnionPay's orderId: letters and digits only. */
export function refundOrderId(refundId: string): string {
  return refundId.replaceAll("-", "");
}

/** A refund's orderId back to our refund id; undefined when it is not one of ours. */
export function uuidOf(orderId: string): string | undefined {
  const m = /^([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/.exec(orderId);
  return m ? `${m[1]}-${m[2]}-${m[3]}-${m[4]}-${m[5]}` : undefined;
}

/** A business day (yyyy-MM-dd) as UnionPay's settleDate (MMDD). */
export function settleDateOf(businessDay: string): string {
  return businessDay.slice(5, 7) + businessDay.slice(8, 10);
}

interface Keys {
  certId: string;
  privateKey: KeyObject;
  anchors: TrustAnchors;
  gatewayUrl: string;
  fileUrl: string;
}

function readKeys(account: ChannelAccount): Keys {
  const c = account.config;
  const need = (k: string) => {
    const v = c[k];
    if (typeof v !== "string" || v.length === 0) {
      throw new ChannelRefusedError("unionpay", "CONFIG", `the account has no ${k}`);
    }
    return v;
  };
  const pem = need("privateKey");
  if (!pem.startsWith("-----BEGIN")) throw new ChannelRefusedError("unionpay", "CONFIG", "keys are PEM text");
  const certId = need("certId");
  if (!/^\d{1,40}$/.test(certId)) throw new ChannelRefusedError("unionpay", "CONFIG", "certId is decimal");
  const slash = (u: string) => (u.endsWith("/") ? u : `${u}/`);
  return {
    certId,
    privateKey: createPrivateKey(pem),
    anchors: readAnchors(need("rootCert"), need("middleCert")),
    gatewayUrl: slash(need("gatewayUrl")),
    fileUrl: slash(need("fileUrl")),
  };
}

function refused(res: AcpFields): ChannelRefusedError {
  return new ChannelRefusedError("unionpay", String(res.respCode ?? "?"), String(res.respMsg ?? ""));
}
