import type { ChannelOutcome } from "../domain/payment.ts";

/**
 * One interface for every payment channel (Alipay, WeChat Pay and UnionPay now; the bank counter
 * next): what the payment service asks of a channel, in its own words. An adapter speaks the
 * channel's protocol with the agency's merchant account (keys unsealed only in memory) and turns
 * each answer into a ChannelOutcome; a timeout or an outage throws ChannelUnavailableError and the
 * order stays as it was, to be settled by query (ADR 0013).
 */
export interface ChannelAccount {
  /** The merchant's id at the channel (Alipay app_id, WeChat mchid, UnionPay merId). */
  accountId: string;
  /** The channel-specific configuration (keys, gateway address), as unsealed from channel_account. */
  config: Record<string, string>;
}

export type PayScene = "qr" | "wap";

export interface OpenOrder {
  orderId: string;
  amountFen: number;
  subject: string;
  scene: PayScene;
  /** The order may not be paid after this instant (the amount due may change at midnight). */
  expiresAt: Date;
  notifyUrl: string;
  returnUrl?: string | undefined;
  /** The payer's address as the cashier saw it (WeChat Pay's H5 order requires it, for its risk checks). */
  payerIp?: string | undefined;
  /**
   * When the order was written: UnionPay's txnTime, which names the order together with its
   * orderId in every later query, so it must be the same instant each time.
   */
  openedAt?: Date | undefined;
}

/**
 * A notify as it came: the raw body (the signature covers these exact bytes), the headers, and
 * the account named in the notify URL's path (…/notify/<channel>/<accountId>) for a channel whose
 * notify names its merchant only inside the ciphertext (WeChat Pay).
 */
export interface NotifyRequest {
  body: string;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  pathAccountId?: string | undefined;
}

/** What the channel wants to read back: Alipay the text "success", WeChat Pay HTTP 204 or a 4xx/5xx JSON. */
export interface NotifyReply {
  status: number;
  contentType: string;
  body: string;
}

/** A notify whose signature checked out, reduced to what the service needs. */
export type VerifiedNotify =
  | { accountId: string; orderId: string; outcome: ChannelOutcome; refundId?: undefined; refund?: undefined }
  /**
   * A refund's result. UnionPay's (posted to the refund's backUrl) carries no `refund`: taken,
   * nothing read from it, the refunder asks the channel (queryRefund) at once. WeChat Pay's
   * (REFUND.SUCCESS / ABNORMAL / CLOSED, its resource decrypted) says what became of the refund
   * and of which order: it settles the refund like the query's answer would, once.
   */
  | {
      accountId: string;
      refundId: string;
      orderId?: string | undefined;
      refund?: RefundNotice | undefined;
      outcome?: undefined;
    };

/**
 * What a verified refund notify says: paid back (with the channel's refund number, the amount and
 * when), stuck at the channel (WeChat Pay's ABNORMAL: the payer's account can no longer take it;
 * the merchant acts at the channel), or closed there (nothing was paid back).
 */
export type RefundNotice =
  | { kind: "refunded"; channelRefundNo: string; amountFen: number; refundedAt: Date }
  | { kind: "abnormal" }
  | { kind: "closed" };

export interface RefundRequest {
  orderId: string;
  /** Our refund's id: the channel's idempotency key (Alipay out_request_no), the same on every retry. */
  refundId: string;
  amountFen: number;
  /** What the order took (WeChat Pay's amount.total: the refund names the payment's whole amount). */
  paidFen: number;
  reason: string;
  /** The payment's trade number at the channel (UnionPay's origQryId: a refund names the consume so). */
  channelTradeNo?: string | undefined;
  /** When the refund was asked for: UnionPay's txnTime, the same on every retry and query. */
  requestedAt?: Date | undefined;
  /** Where the channel posts the refund's result (UnionPay's backUrl, WeChat Pay's notify_url). */
  notifyUrl?: string | undefined;
}

/**
 * The channel's word on a refund: paid back (with when), taken and still being paid back
 * (WeChat Pay's PROCESSING: ask again later, never send again), closed without paying anything
 * back (WeChat Pay's CLOSED), or not known to it at all.
 */
export type RefundOutcome =
  | { kind: "refunded"; channelRefundNo: string; amountFen: number; refundedAt: Date }
  | { kind: "pending" }
  | { kind: "closed" }
  | { kind: "none" };

export interface PaymentChannel {
  readonly name: string;
  /** Opens the order at the channel: the QR code's text (qr) or the H5 pay page's URL (wap). */
  openOrder(account: ChannelAccount, order: OpenOrder): Promise<{ payTarget: string }>;
  /** The channel's word on an order now; "unknown" when it has never seen it (not scanned yet). */
  query(account: ChannelAccount, orderId: string, openedAt?: Date): Promise<ChannelOutcome>;
  /** Closes the order at the channel; "paid" when the payer got there first (then query settles it). */
  close(account: ChannelAccount, orderId: string, openedAt?: Date): Promise<"closed" | "paid">;
  /**
   * Whether the notify URL names the account (…/notify/<channel>/<accountId>): WeChat Pay's notify
   * carries the merchant only inside the ciphertext, so the key to verify with is found by the URL.
   */
  readonly notifyPerAccount: boolean;
  /** Whether an H5 (wap) order must name the payer's address (WeChat Pay's scene_info.payer_client_ip). */
  readonly wapNeedsPayerIp: boolean;
  /**
   * Whether the H5 pay target is a form the payer's browser must POST (UnionPay's frontTransReq:
   * the address with the signed fields in its query), rather than a page to open.
   */
  readonly wapFormPost?: boolean;
  /** A channel the payer uses at its own counter (the agency bank): no order is opened from here. */
  readonly counterOnly?: boolean;
  /** Which account a notify claims to come for (unverified: only to find the key to verify with). */
  notifyAccountId(notify: NotifyRequest): string | undefined;
  /**
   * Verifies a notify with the channel's public key (and decrypts it where the channel encrypts);
   * undefined when the signature does not hold or the notify is not a payment result of that account.
   */
  verifyNotify(account: ChannelAccount, notify: NotifyRequest): VerifiedNotify | undefined;
  /** What the channel wants to read back when a notify was taken (or not). */
  readonly notifyAnswer: { taken: NotifyReply; refused: NotifyReply };
  /**
   * Refund by the original route (原渠道退回): idempotent at the channel by refundId, so a retry
   * after a lost answer never pays twice. A refusal throws ChannelRefusedError; no answer throws
   * ChannelUnavailableError (then queryRefund settles it).
   */
  refund(account: ChannelAccount, request: RefundRequest): Promise<RefundOutcome>;
  /** Whether the channel made the refund (Alipay alipay.trade.fastpay.refund.query, WeChat Pay GET …/refunds/{out_refund_no}). */
  queryRefund(
    account: ChannelAccount,
    request: { orderId: string; refundId: string; requestedAt?: Date | undefined },
  ): Promise<RefundOutcome>;
  /** The day's statement (对账单) as a download URL. */
  statementUrl(account: ChannelAccount, businessDay: string): Promise<string>;
  /** The day's statement, downloaded and read: one line per payment and per refund. */
  statement(account: ChannelAccount, businessDay: string): Promise<StatementLine[]>;
}

/** One line of a channel's statement, in our words. */
export interface StatementLine {
  kind: "payment" | "refund";
  /** Our out_trade_no. */
  orderId: string;
  channelTradeNo: string;
  /** Positive for both: what was taken, or what was paid back. */
  amountFen: number;
  /** For a refund: our refund id (its out_request_no). */
  refundId?: string;
  /**
   * What the channel kept of it (手续费, 服务费), where its statement says: settled = amount − fee for a
   * payment, −amount − fee for a refund (a refund's fee given back is negative).
   */
  feeFen?: number;
  completedAt: Date;
}

/** The channel did not answer (timeout, 5xx, refused connection): nothing is known, ask again later. */
export class ChannelUnavailableError extends Error {
  constructor(channel: string, cause: unknown) {
    super(`${channel} did not answer`, { cause });
    this.name = "ChannelUnavailableError";
  }
}

/** The channel answered with a refusal (bad request, account disabled): worth a person's look. */
export class ChannelRefusedError extends Error {
  constructor(
    channel: string,
    readonly channelCode: string,
    message: string,
  ) {
    super(`${channel} refused: ${channelCode} ${message}`);
    this.name = "ChannelRefusedError";
  }
}

/** Integer fen to the channel's yuan string with two decimals ("206.00"), never through a float. */
export function fenToYuanString(fen: number): string {
  return `${Math.trunc(fen / 100)}.${String(fen % 100).padStart(2, "0")}`;
}

/** A yuan string ("206", "206.5", "206.00") to integer fen; NaN for anything else. */
export function yuanStringToFen(yuan: string): number {
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(yuan.trim());
  if (!m) return Number.NaN;
  return Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"));
}
