import { z } from "zod";
import { defineEvent } from "../event.ts";
import { topics } from "../topics.ts";
import { agencyCode, billCode, billNumber, isoTime, sm3Hex } from "./common.ts";

/**
 * Finance approved a stock application (申领) and issued a segment of numbers to the agency.
 * Emitted by the finance-exchange daemon; stock takes it in as a segment awaiting 入库.
 */
export const SegmentIssued = defineEvent({
  type: "finance.SegmentIssued",
  topic: topics.finance,
  version: 1,
  schema: z
    .object({
      financeRef: z.string().min(1).max(64),
      applicationId: z.string().min(1).max(64).optional(),
      agencyCode,
      billCode,
      startNumber: billNumber,
      endNumber: billNumber,
      issuedAt: isoTime,
    })
    .refine((s) => s.startNumber <= s.endNumber, {
      message: "startNumber must not exceed endNumber",
      path: ["endNumber"],
    }),
  partitionKey: (d) => `${d.agencyCode}:${d.billCode}`,
});

/**
 * Finance supervised (监制) a receipt: it checked the agency's signature and the number and
 * added its own signature. Emitted by the finance-exchange daemon, once per receipt.
 */
export const ReceiptSupervised = defineEvent({
  type: "finance.ReceiptSupervised",
  topic: topics.finance,
  version: 1,
  schema: z.object({
    receiptId: z.uuid(),
    agencyCode,
    billCode,
    number: billNumber,
    /** Finance's PKCS#7 SignedData (DER, base64), detached, over the receipt's document. */
    financeSignature: z.base64(),
    financeCertificateSm3: sm3Hex,
    /** Finance's own reference for the supervised receipt. */
    financeRef: z.string().min(1).max(64),
    supervisedAt: isoTime,
  }),
  partitionKey: (d) => d.receiptId,
});

/** Finance refused to supervise a receipt, with its reason; issuance voids it. */
export const ReceiptSupervisionRejected = defineEvent({
  type: "finance.ReceiptSupervisionRejected",
  topic: topics.finance,
  version: 1,
  schema: z.object({
    receiptId: z.uuid(),
    agencyCode,
    billCode,
    number: billNumber,
    code: z.string().min(1).max(64),
    reason: z.string().min(1).max(500),
    rejectedAt: isoTime,
  }),
  partitionKey: (d) => d.receiptId,
});

export const financeEvents = { SegmentIssued, ReceiptSupervised, ReceiptSupervisionRejected } as const;
