import { z } from "zod";
import { defineEvent } from "../event.ts";
import { topics } from "../topics.ts";
import { agencyCode, billCode, billNumber, isoTime, publishedCertificate, sm3Hex } from "./common.ts";

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

/** The agency as finance knows it (单位基础信息), from a base-data sync: its registered name. */
export const AgencyProfileSynced = defineEvent({
  type: "finance.AgencyProfileSynced",
  topic: topics.finance,
  version: 1,
  schema: z.object({
    agencyCode,
    name: z.string().min(1).max(200),
    regionCode: z.string().max(32).optional(),
    syncedAt: isoTime,
  }),
  partitionKey: (d) => d.agencyCode,
});

export const reconciliationDifferenceKind = z.enum([
  "MISSING_AT_FINANCE",
  "UNKNOWN_HERE",
  "REJECTED_HERE_SUPERVISED_THERE",
  "DOCUMENT_MISMATCH",
  "AGENCY_SIGNATURE_MISMATCH",
  "FINANCE_SIGNATURE_MISMATCH",
  "SIGNATURE_INVALID",
]);

/** At most this many differences travel in one ReconciliationCompleted; the rest are counted. */
export const RECONCILIATION_DIFFERENCES_IN_EVENT = 1000;

/**
 * 对账: a day's receipts issued here were compared with those finance supervised for that day.
 * A later reconciliation of the same day replaces an earlier one (the newest `reconciledAt` wins).
 */
export const ReconciliationCompleted = defineEvent({
  type: "finance.ReconciliationCompleted",
  topic: topics.finance,
  version: 1,
  schema: z.object({
    reportId: z.uuid(),
    agencyCode,
    day: z.iso.date(),
    reconciledAt: isoTime,
    summary: z.object({
      issuedHere: z.number().int().nonnegative(),
      supervisedHere: z.number().int().nonnegative(),
      rejectedHere: z.number().int().nonnegative(),
      pendingHere: z.number().int().nonnegative(),
      supervisedThere: z.number().int().nonnegative(),
      matched: z.number().int().nonnegative(),
      differences: z.number().int().nonnegative(),
    }),
    differences: z
      .array(
        z.object({
          kind: reconciliationDifferenceKind,
          billCode,
          number: billNumber,
          receiptId: z.string().max(64).optional(),
          financeRef: z.string().max(64).optional(),
          explanation: z.string().min(1).max(1000),
        }),
      )
      .max(RECONCILIATION_DIFFERENCES_IN_EVENT),
    /** Differences beyond those carried here (see finance-exchange's report for all of them). */
    differencesOmitted: z.number().int().nonnegative(),
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.day}`,
});

/**
 * finance-exchange publishes a certificate of finance's that it trusts: the supervision (监制)
 * certificate finance signed receipts with (role "supervision", learned from the answers it
 * accepted) or finance's CA (role "ca", as finance serves it beside that certificate). Verifiers
 * take a supervision certificate as pinned and a CA as a root, for finance's signatures only.
 */
export const FinanceCertificatePublished = defineEvent({
  type: "finance.FinanceCertificatePublished",
  topic: topics.finance,
  version: 1,
  schema: z.object({
    role: z.enum(["supervision", "ca"]),
    certificate: publishedCertificate,
    publishedAt: isoTime,
  }),
  partitionKey: (d) => `trust:${d.certificate.sm3}`,
});

export const financeEvents = {
  SegmentIssued,
  FinanceCertificatePublished,
  ReceiptSupervised,
  ReceiptSupervisionRejected,
  AgencyProfileSynced,
  ReconciliationCompleted,
} as const;
