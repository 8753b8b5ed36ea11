import { z } from "zod";
import { defineEvent, olderVersion } from "../event.ts";
import { topics } from "../topics.ts";
import { agencyCode, billCode, isoTime } from "./common.ts";
import { issuingPointCode } from "./stock.ts";

/**
 * A payer (交款人) as a business system knows them. `code` is the ID card number (type 1,
 * person) or the unified social credit code (type 2, organisation); issuance checks the
 * check digit and refuses a receipt whose payer code does not validate.
 */
export const payerSchema = z.object({
  type: z.union([z.literal(1), z.literal(2)]),
  code: z.string().min(1).max(32),
  name: z.string().min(1).max(200),
  account: z.string().max(64).optional(),
  bank: z.string().max(200).optional(),
  phone: z.string().max(32).optional(),
  email: z.string().max(200).optional(),
});

/** One line of a payment: an income item (收入项目) of the agency, its quantity and amount. */
export const paymentItemSchema = z.object({
  itemCode: z.string().min(1).max(32),
  /** A decimal string ("1", "2.5"): fees by weight or hour are fractional. */
  quantity: z.string().regex(/^\d{1,9}(\.\d{1,4})?$/, "a decimal with at most 4 places"),
  /** Integer fen (分): 1 yuan = 100. */
  amountFen: z.number().int().nonnegative(),
});

/** 缴款识别码: the notice's 20-digit payment code (structure per finance region, last digit a check digit). */
export const paymentCode = z.string().regex(/^\d{20}$/, "a payment code is 20 digits");

/** The channels money comes through. */
export const paymentChannel = z.string().min(1).max(32);

/**
 * What a payment taken by the payment service carries for issuance, the channel's statement
 * match (reconciliation) and a refund by the original route: which order (our out_trade_no),
 * the channel's trade number, the merchant account at the channel, the amount the channel
 * reported and the fine / surcharge (加处罚款) split of it.
 */
export const settlementSchema = z.object({
  noticeNo: z.string().min(1).max(64),
  paymentCode,
  decisionNo: z.string().max(64).optional(),
  orderId: z.string().min(1).max(64),
  channelTradeNo: z.string().min(1).max(64),
  channelAccount: z.string().min(1).max(64),
  paidFen: z.number().int().nonnegative(),
  fineFen: z.number().int().nonnegative(),
  surchargeFen: z.number().int().nonnegative(),
  /** The Asia/Shanghai business day the channel booked it on (its statement's day). */
  businessDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
});

const paymentCompletedV1 = z.object({
  paymentId: z.string().min(1).max(64),
  agencyCode,
  bizSerialNo: z.string().min(1).max(64),
  paidAt: isoTime,
  /** The channel the money came through: "alipay", "wechat", "unionpay", "counter", … */
  channel: paymentChannel,
  payer: payerSchema,
  items: z.array(paymentItemSchema).min(1).max(100),
  totalFen: z.number().int().nonnegative(),
  issuingPointCode,
  billCode,
  /** The person or system that took the payment, recorded as the receipt's handling person. */
  handlingPerson: z.string().min(1).max(64).optional(),
  remark: z.string().max(500).optional(),
});

/**
 * 即缴即开: a business system (or the payment platform) received a payment and wants the
 * receipt issued for it. Publish it to `piaoju.payment.events`, keyed by the payment.
 *
 * Integrators:
 * - `bizSerialNo` (业务流水号) is the idempotency key, per agency: publishing the same payment
 *   again (a retry, a replay) yields the one receipt already issued, never a second one.
 *   Reusing a serial number for a different payment is refused (dead-lettered).
 * - Money is integer fen. `totalFen` must equal the sum of the items' `amountFen`, and an
 *   item with a standard (收费标准) must have `amountFen` = quantity × standard.
 * - `issuingPointCode` (开票点) and `billCode` (票据代码) choose the numbers the receipt takes.
 * - The receipt's outcome comes back as `issuance.ReceiptRequested` (then signing, then
 *   finance), on `piaoju.issuance.events`, with the same `agencyCode` and `bizSerialNo`.
 *
 * v2 says who took the payment (`source`) and, for the payment service's own, the settlement
 * (order, channel trade number, split): what reconciliation and refunds need. A v1 event (a
 * business system that took the money itself) reads as source "business-system" without one.
 */
export const PaymentCompleted = defineEvent({
  type: "payment.PaymentCompleted",
  topic: topics.payment,
  version: 2,
  schema: paymentCompletedV1
    .extend({
      source: z.enum(["platform", "business-system"]),
      settlement: settlementSchema.optional(),
    })
    .refine((d) => d.source !== "platform" || d.settlement !== undefined, {
      message: "a payment the platform took carries its settlement",
      path: ["settlement"],
    }),
  partitionKey: (d) => `${d.agencyCode}:${d.paymentId}`,
  olderVersions: [olderVersion(1, paymentCompletedV1, (d) => ({ ...d, source: "business-system" }))],
  /** v1 and v2 alike: the payer, and the remark a business system may put a name in. */
  personal: ["payer", "remark"],
});

/**
 * A payment notice (非税收入一般缴款书) was made for a business system's request: its payment
 * code (缴款识别码), the fine and the deadline after which the surcharge (加处罚款) runs.
 */
export const NoticeCreated = defineEvent({
  type: "payment.NoticeCreated",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    paymentId: z.string().min(1).max(64),
    agencyCode,
    bizSerialNo: z.string().min(1).max(64),
    noticeNo: z.string().min(1).max(64),
    paymentCode,
    decisionNo: z.string().max(64).optional(),
    /** The principal (the fine or fees), integer fen. */
    principalFen: z.number().int().nonnegative(),
    /** The last day (Asia/Shanghai) to pay without surcharge; none: no surcharge applies. */
    deadline: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .optional(),
    createdAt: isoTime,
    requestedBy: z.string().min(1).max(64),
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.paymentId}`,
});

/** A channel attempt was opened (the payment is 缴款中, PAYING): the amount due fixed for it. */
export const PaymentOrderOpened = defineEvent({
  type: "payment.PaymentOrderOpened",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    paymentId: z.string().min(1).max(64),
    agencyCode,
    orderId: z.string().min(1).max(64),
    channel: paymentChannel,
    amountFen: z.number().int().nonnegative(),
    expiresAt: isoTime,
    openedAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.paymentId}`,
});

/** The payment was closed unpaid (by the business system, or its notice expired). */
export const PaymentClosed = defineEvent({
  type: "payment.PaymentClosed",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    paymentId: z.string().min(1).max(64),
    agencyCode,
    bizSerialNo: z.string().min(1).max(64),
    reason: z.string().min(1).max(200),
    closedAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.paymentId}`,
});

/**
 * A channel took money for a payment that was already paid by another order (the payer paid
 * twice), or took an amount that is not the order's: never a second completion; the money is
 * held for a refund by the original route (重复缴款自动退付, the next issue's work).
 */
export const PaymentAnomalyRecorded = defineEvent({
  type: "payment.PaymentAnomalyRecorded",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    paymentId: z.string().min(1).max(64),
    agencyCode,
    orderId: z.string().min(1).max(64),
    channel: paymentChannel,
    channelTradeNo: z.string().min(1).max(64),
    kind: z.enum(["DUPLICATE_PAYMENT", "AMOUNT_MISMATCH", "PAID_AFTER_CLOSE"]),
    amountFen: z.number().int().nonnegative(),
    recordedAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.paymentId}`,
});

const refundCore = {
  paymentId: z.string().min(1).max(64),
  agencyCode,
  bizSerialNo: z.string().min(1).max(64),
  refundId: z.string().min(1).max(64),
  /** The caller's refund serial (退款流水号); for a duplicate payment's refund, DUP-<order>. */
  refundSerialNo: z.string().min(1).max(64),
  /** REFUND: the payer's, asked by the business system; DUPLICATE: a second payment of the notice. */
  kind: z.enum(["REFUND", "DUPLICATE"]),
  orderId: z.string().min(1).max(64),
  channel: paymentChannel,
  channelTradeNo: z.string().min(1).max(64),
  amountFen: z.number().int().positive(),
};

/** A refund by the original route (原渠道退回) was applied for; the non-tax system approves it first. */
export const RefundRequested = defineEvent({
  type: "payment.RefundRequested",
  topic: topics.payment,
  version: 1,
  schema: z.object({ ...refundCore, reason: z.string().min(1).max(200), requestedAt: isoTime }),
  partitionKey: (d) => `${d.agencyCode}:${d.paymentId}`,
});

/**
 * The channel paid a refund back. For a REFUND, `remainingFen` is what stays paid: 0 means the
 * receipt is red-flushed (冲红); more means red-flushed and issued again for the remainder
 * (`remainder`: the payment's lines less the refund, taken from the last line back). Issuance
 * and reporting take it; a DUPLICATE touches no receipt (none was issued for it).
 */
export const RefundCompleted = defineEvent({
  type: "payment.RefundCompleted",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    ...refundCore,
    refundedAt: isoTime,
    /** The Asia/Shanghai business day the channel booked the refund on (its statement's day). */
    businessDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    paidFen: z.number().int().nonnegative(),
    remainingFen: z.number().int().nonnegative(),
    remainder: z.array(paymentItemSchema).max(100),
    /** The how-many-th REFUND of the payment this is (1, 2, …): receipt serials follow it. */
    sequence: z.number().int().positive(),
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.paymentId}`,
});

/** A refund was not made: the non-tax system rejected it, or the channel refused it. Nothing moved. */
export const RefundRejected = defineEvent({
  type: "payment.RefundRejected",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    ...refundCore,
    by: z.enum(["nontax", "channel"]),
    note: z.string().min(1).max(500),
    rejectedAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.paymentId}`,
});

const reconciliationKey = {
  agencyCode,
  channel: paymentChannel,
  /** The Asia/Shanghai business day of the channel's statement. */
  businessDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
};

/** A day's statement of a channel was matched (日终对账): what matched, what did not, the day's money. */
export const ChannelReconciled = defineEvent({
  type: "payment.ChannelReconciled",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    ...reconciliationKey,
    matched: z.number().int().nonnegative(),
    /** Open differences: the work list. */
    differences: z.number().int().nonnegative(),
    /** Lost notifies completed by query. */
    repaired: z.number().int().nonnegative(),
    /** Paid here before midnight, booked by the channel on the next day. */
    held: z.number().int().nonnegative(),
    collectedFen: z.number().int().nonnegative(),
    refundedFen: z.number().int().nonnegative(),
    completedAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.channel}:${d.businessDay}`,
});

/** One difference a statement match found (or repaired, or held to the next day). */
export const ChannelDifferenceFound = defineEvent({
  type: "payment.ChannelDifferenceFound",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    ...reconciliationKey,
    kind: z.enum(["ONLY_AT_CHANNEL", "ONLY_HERE", "AMOUNT", "STATUS", "LOST_NOTIFY", "CROSS_DAY"]),
    subject: z.enum(["payment", "refund"]),
    orderId: z.string().max(64).optional(),
    refundId: z.string().max(64).optional(),
    channelTradeNo: z.string().max(64).optional(),
    ourFen: z.number().int().optional(),
    channelFen: z.number().int().optional(),
    resolution: z.enum(["OPEN", "REPAIRED", "HELD"]),
    foundAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.channel}:${d.businessDay}`,
});

const clearingKey = {
  agencyCode,
  /** The Asia/Shanghai business day whose money is cleared. */
  businessDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
};
const fenSigned = z.number().int().min(-1e13).max(1e13);

/**
 * 资金清分: a day's money of an agency, reconciled with every channel and no difference open, was
 * split by the clearing rules into one instruction per finance special account (财政专户); the
 * instructions go to the non-tax system. Σ instructions' amountFen = collectedFen − refundedFen.
 */
export const ClearingInstructed = defineEvent({
  type: "payment.ClearingInstructed",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    ...clearingKey,
    batchId: z.string().min(1).max(64),
    collectedFen: z.number().int().nonnegative(),
    refundedFen: z.number().int().nonnegative(),
    payments: z.number().int().nonnegative(),
    instructions: z
      .array(
        z.object({
          instructionId: z.string().min(1).max(64),
          accountNo: z.string().min(1).max(64),
          accountName: z.string().min(1).max(200),
          collectedFen: fenSigned,
          refundedFen: fenSigned,
          amountFen: fenSigned,
        }),
      )
      .max(1000),
    instructedAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:clearing:${d.businessDay}`,
});

/** A clearing instruction came to its end at the non-tax system: DONE (transferred) or REFUSED. */
export const ClearingSettled = defineEvent({
  type: "payment.ClearingSettled",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    ...clearingKey,
    batchId: z.string().min(1).max(64),
    instructionId: z.string().min(1).max(64),
    accountNo: z.string().min(1).max(64),
    amountFen: fenSigned,
    status: z.enum(["DONE", "REFUSED"]),
    note: z.string().max(500).optional(),
    settledAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:clearing:${d.businessDay}`,
});

/** The receipt kinds of the three-way match (channel ↔ payment ↔ receipt), beside the channel's. */
export const receiptDifferenceKind = z.enum([
  "RECEIPT_MISSING",
  "RECEIPT_WITHOUT_PAYMENT",
  "RECEIPT_AMOUNT",
  "RECEIPT_DUPLICATE",
  "REFUND_NOT_RED_FLUSHED",
  "REISSUE_MISSING",
  "RED_FLUSH_WITHOUT_REFUND",
]);

/** An agency's day matched three ways: paid payments and refunds against the receipts issuance issued. */
export const ReceiptsReconciled = defineEvent({
  type: "payment.ReceiptsReconciled",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    agencyCode,
    businessDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    /** Payments with their one receipt, refunds with their red-flush (and re-issue). */
    matched: z.number().int().nonnegative(),
    differences: z.number().int().nonnegative(),
    /** Paid or refunded within the grace period, the receipt not there yet: looked at again. */
    held: z.number().int().nonnegative(),
    completedAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:receipt:${d.businessDay}`,
});

/** One difference of the three-way match (the same work list as the channel's). */
export const ReceiptDifferenceFound = defineEvent({
  type: "payment.ReceiptDifferenceFound",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    agencyCode,
    businessDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    kind: receiptDifferenceKind,
    subject: z.enum(["payment", "refund", "receipt"]),
    paymentId: z.string().max(64).optional(),
    refundId: z.string().max(64).optional(),
    receiptId: z.string().max(64).optional(),
    /** Paid or refunded here (fen), and what the receipt says. */
    ourFen: z.number().int().optional(),
    receiptFen: z.number().int().optional(),
    resolution: z.enum(["OPEN", "HELD"]),
    foundAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:receipt:${d.businessDay}`,
});

/**
 * 到账资金对账: a settlement day's channel settlements (each channel's statement: taken − refunded
 * − fees) matched against the agency's bank account statement (camt.053) of the arrival day.
 */
export const FundsArrivalReconciled = defineEvent({
  type: "payment.FundsArrivalReconciled",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    agencyCode,
    settlementDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    /** The booking day of the account statement read. */
    arrivalDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    matched: z.number().int().nonnegative(),
    expectedFen: z.number().int(),
    arrivedFen: z.number().int(),
    differences: z
      .array(
        z.object({
          kind: z.enum(["SETTLED_NOT_ARRIVED", "ARRIVED_NOT_SETTLED", "AMOUNT_DIFFERS"]),
          channel: paymentChannel.optional(),
          entryRef: z.string().max(64).optional(),
          expectedFen: z.number().int().optional(),
          arrivedFen: z.number().int().optional(),
        }),
      )
      .max(1000),
    completedAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.settlementDay}`,
});

export const paymentEvents = {
  PaymentCompleted,
  NoticeCreated,
  PaymentOrderOpened,
  PaymentClosed,
  PaymentAnomalyRecorded,
  RefundRequested,
  RefundCompleted,
  RefundRejected,
  ChannelReconciled,
  ChannelDifferenceFound,
  FundsArrivalReconciled,
  ReceiptsReconciled,
  ReceiptDifferenceFound,
  ClearingInstructed,
  ClearingSettled,
} as const;
