import { z } from "zod";
import { defineEvent } from "../event.ts";
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
 */
export const PaymentCompleted = defineEvent({
  type: "payment.PaymentCompleted",
  topic: topics.payment,
  version: 1,
  schema: z.object({
    paymentId: z.string().min(1).max(64),
    agencyCode,
    bizSerialNo: z.string().min(1).max(64),
    paidAt: isoTime,
    /** The channel the money came through: "alipay", "wechat", "unionpay", "counter", … */
    channel: z.string().min(1).max(32),
    payer: payerSchema,
    items: z.array(paymentItemSchema).min(1).max(100),
    totalFen: z.number().int().nonnegative(),
    issuingPointCode,
    billCode,
    /** The person or system that took the payment, recorded as the receipt's handling person. */
    handlingPerson: z.string().min(1).max(64).optional(),
    remark: z.string().max(500).optional(),
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.paymentId}`,
});

export const paymentEvents = { PaymentCompleted } as const;
