import { z } from "zod";
import { defineEvent } from "../event.ts";
import { topics } from "../topics.ts";
import { agencyCode, billCode, billNumber, isoTime, receiptKind, sm3Hex } from "./common.ts";
import { payerSchema } from "./payment.ts";
import { issuingPointCode } from "./stock.ts";

/**
 * Issuance took a number for a receipt and built its document; the receipt now awaits the
 * agency's signature (单位签名) and then finance's supervision (财政监制).
 *
 * `document` is the receipt's XML (Header + EInvoiceData), base64, exactly the bytes the
 * agency signature covers; `documentSm3` is their SM3 in hex, so the signer can check what it
 * signs. The document travels in the event (a few KB) so the signer needs no call back.
 * Keyed by the receipt, so one receipt's events stay in order.
 */
export const ReceiptRequested = defineEvent({
  type: "issuance.ReceiptRequested",
  topic: topics.issuance,
  version: 1,
  schema: z.object({
    receiptId: z.uuid(),
    agencyCode,
    issuingPointCode,
    bizSerialNo: z.string().min(1).max(64),
    billCode,
    number: billNumber,
    checkCode: z.string().regex(/^\d{6}$/),
    /** Integer fen; negative for a red receipt (kind "red"). */
    totalFen: z.number().int(),
    payerType: z.union([z.literal(1), z.literal(2)]),
    issuedAt: isoTime,
    documentSm3: sm3Hex,
    document: z.base64(),
    /** Absent means "blue" (every receipt before red-flush existed was blue). */
    kind: receiptKind.optional(),
    /** For a red receipt: the receipt it red-flushes. */
    originalReceiptId: z.uuid().optional(),
  }),
  partitionKey: (d) => d.receiptId,
  /** The document's XML names the payer (name, ID number, contacts). */
  personal: ["document"],
});

/** What identifies a receipt on every event after it was requested. */
const receiptRef = {
  receiptId: z.uuid(),
  agencyCode,
  billCode,
  number: billNumber,
};

/**
 * The agency's signature is on the receipt: it now goes to finance for supervision (监制).
 * The finance-exchange daemon consumes this and uploads document + signature.
 */
export const ReceiptSubmittedForSupervision = defineEvent({
  type: "issuance.ReceiptSubmittedForSupervision",
  topic: topics.issuance,
  version: 1,
  schema: z.object({
    ...receiptRef,
    kind: receiptKind,
    originalReceiptId: z.uuid().optional(),
    issuingPointCode,
    checkCode: z.string().regex(/^\d{6}$/),
    /** Integer fen; negative for a red receipt. */
    totalFen: z.number().int(),
    issuedAt: isoTime,
    document: z.base64(),
    documentSm3: sm3Hex,
    /** The agency's detached PKCS#7 SignedData (GM/T 0010, DER, base64) over `document`. */
    agencySignature: z.base64(),
  }),
  partitionKey: (d) => d.receiptId,
  personal: ["document"],
});

/** One line of an issued receipt, as printed. */
export const receiptLineSchema = z.object({
  itemCode: z.string().min(1).max(32),
  itemName: z.string().min(1).max(200),
  unit: z.string().max(32).optional(),
  quantity: z.string(),
  /** 收费标准 in fen, when the item has one. */
  standardFen: z.number().int().optional(),
  /** Integer fen; negative on a red receipt. */
  amountFen: z.number().int(),
});

/**
 * A formal e-receipt exists: signed by the agency and supervised by finance. Everything
 * delivery needs to render, send and let the payer verify it travels here (payer contacts
 * included, so consumers must treat this event as personal data).
 */
export const ReceiptIssued = defineEvent({
  type: "issuance.ReceiptIssued",
  topic: topics.issuance,
  version: 1,
  schema: z.object({
    ...receiptRef,
    kind: receiptKind,
    originalReceiptId: z.uuid().optional(),
    bizSerialNo: z.string().min(1).max(64),
    issuingPointCode,
    checkCode: z.string().regex(/^\d{6}$/),
    issuedAt: isoTime,
    supervisedAt: isoTime,
    /** Integer fen; negative for a red receipt. */
    totalFen: z.number().int(),
    payer: payerSchema,
    items: z.array(receiptLineSchema).min(1).max(100),
    remark: z.string().max(500).optional(),
    handlingPerson: z.string().min(1).max(64),
    checker: z.string().max(64).optional(),
    document: z.base64(),
    documentSm3: sm3Hex,
    agencySignature: z.base64(),
    /** Finance's PKCS#7 SignedData (监制签名), DER, base64. */
    financeSignature: z.base64(),
  }),
  partitionKey: (d) => d.receiptId,
  /** The payer and the document naming them; a remark is free text a clerk may put a name in. */
  personal: ["payer", "document", "remark"],
});

/** The original receipt is red-flushed (冲红): its red receipt was issued. */
export const ReceiptRedFlushed = defineEvent({
  type: "issuance.ReceiptRedFlushed",
  topic: topics.issuance,
  version: 1,
  schema: z.object({
    ...receiptRef,
    redReceiptId: z.uuid(),
    redBillCode: billCode,
    redNumber: billNumber,
    reason: z.string().min(1).max(500),
    redFlushedAt: isoTime,
  }),
  partitionKey: (d) => d.receiptId,
});

/** The receipt was exchanged for a paper receipt (换开), or the paper was taken back. */
export const ReceiptPaperExchanged = defineEvent({
  type: "issuance.ReceiptPaperExchanged",
  topic: topics.issuance,
  version: 1,
  schema: z.object({
    ...receiptRef,
    /** The paper receipt's code and number. */
    paperBillCode: billCode,
    paperNumber: billNumber,
    returned: z.boolean(),
    at: isoTime,
  }),
  partitionKey: (d) => d.receiptId,
});

/**
 * A receipt that never became formal is void (作废): signing or finance refused it, or a
 * clerk voided it before supervision. Its number is used and accounted for as voided.
 */
export const ReceiptVoided = defineEvent({
  type: "issuance.ReceiptVoided",
  topic: topics.issuance,
  version: 1,
  schema: z.object({
    ...receiptRef,
    issuingPointCode,
    reason: z.string().min(1).max(500),
    voidedAt: isoTime,
  }),
  partitionKey: (d) => d.receiptId,
});

/** A receipt was booked (入账/报销) by the payer's organisation: it can no longer be red-flushed. */
export const ReceiptBooked = defineEvent({
  type: "issuance.ReceiptBooked",
  topic: topics.issuance,
  version: 1,
  schema: z.object({ ...receiptRef, bookedAt: isoTime }),
  partitionKey: (d) => d.receiptId,
});

/** An issuing point (开票点) was registered: its name, for the reports and pages that list points. */
export const IssuingPointRegistered = defineEvent({
  type: "issuance.IssuingPointRegistered",
  topic: topics.issuance,
  version: 1,
  schema: z.object({
    agencyCode,
    issuingPointCode,
    name: z.string().min(1).max(100),
    registeredAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.issuingPointCode}`,
});

export const issuanceEvents = {
  ReceiptRequested,
  ReceiptSubmittedForSupervision,
  ReceiptIssued,
  ReceiptRedFlushed,
  ReceiptPaperExchanged,
  ReceiptVoided,
  ReceiptBooked,
  IssuingPointRegistered,
} as const;
