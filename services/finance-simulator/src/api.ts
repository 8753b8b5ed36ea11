import { text } from "@piaoju/contracts";
/**
 * The finance e-receipt platform simulator's HTTP API, as zod schemas: the one source of truth
 * for the routes in README.md. A client (the finance-exchange daemon) may copy these shapes; the
 * simulator validates every request with them and answers with them.
 *
 * Three audiences, three ways in:
 *   - an agency (执收单位): `/fin/v1/*`, every call signed with HMAC-SM3 under the agency's secret
 *     (scheme below, `signFinanceRequest`);
 *   - a payer (交款人): `/fin/v1/public/*`, no authentication;
 *   - the test harness / operator: `/admin/v1/*` on a SEPARATE listener (adminUrl), Bearer token, so
 *     that faults such as "connection refused" can be switched off again.
 *
 * Errors are RFC 9457 problem details `{ type, title, status, detail, code, issues? }` (the
 * platform's shape). Supervision rejections are not HTTP errors: a batch answers 200 with a
 * per-receipt result, each REJECTED one with a `code` from `rejectionCodes` and a `reason`.
 */
import { hmacSm3, sm3 } from "@piaoju/gm-crypto";
import { z } from "zod";

// -------------------------------------------------------------------------------------------------
// Shared shapes

/** 票据代码: 8 digits (province 2, category 2, kind 2, year 2). */
export const billCode = text().regex(/^\d{8}$/, "a bill code is 8 digits");
/** 票据号码: 10 digits. */
export const billNumber = text().regex(/^\d{10}$/, "a bill number is 10 digits");
export const agencyCode = text().regex(/^[0-9A-Za-z]{1,32}$/, "an agency code is 1-32 letters or digits");
export const checkCode = text().regex(/^\d{6}$/, "a check code is 6 digits");
export const isoTime = z.iso.datetime({ offset: true });
export const isoDate = z.iso.date();
export const sm3Hex = text().regex(/^[0-9a-f]{64}$/, "an SM3 digest is 64 lower-case hex digits");
/** A client-chosen idempotency id: letters, digits, `_`, `-`, `.`, `:`. */
export const clientId = text().regex(/^[\w.:-]{1,64}$/, "1-64 letters, digits, _ - . or :");
export const numberRange = z
  .object({ startNumber: billNumber, endNumber: billNumber })
  .refine((r) => r.startNumber <= r.endNumber, {
    message: "startNumber must not exceed endNumber",
    path: ["endNumber"],
  });

/** Paging for every list: `cursor` is opaque (the previous page's `nextCursor`); null = last page. */
export const pageQuery = z.object({
  cursor: text().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

// -------------------------------------------------------------------------------------------------
// Agency authentication (HMAC-SM3 signed requests)

/**
 *   string to sign = METHOD "\n" PATH_WITH_QUERY "\n" TIMESTAMP "\n" NONCE "\n" hex(SM3(raw body bytes))
 *   signature      = hex(HMAC-SM3(agency secret as UTF-8, string to sign))
 *
 * Headers: X-Fin-Agency (agency code), X-Fin-Timestamp (Unix ms, within ±5 min of the server),
 * X-Fin-Nonce (16-64 of [A-Za-z0-9_-], never reused within 10 min), X-Fin-Signature (64 hex).
 * An empty body (GET) hashes the empty string. PATH_WITH_QUERY is exactly what is sent
 * (e.g. `/fin/v1/base-data?since=3`).
 */
export const authHeaders = {
  agency: "x-fin-agency",
  timestamp: "x-fin-timestamp",
  nonce: "x-fin-nonce",
  signature: "x-fin-signature",
} as const;
export const SIGNATURE_WINDOW_MS = 5 * 60_000;

export function financeStringToSign(req: {
  method: string;
  pathWithQuery: string;
  timestamp: string;
  nonce: string;
  body: Uint8Array;
}): string {
  return [
    req.method.toUpperCase(),
    req.pathWithQuery,
    req.timestamp,
    req.nonce,
    sm3(req.body).toString("hex"),
  ].join("\n");
}

export function signFinanceRequest(
  secret: string,
  req: { method: string; pathWithQuery: string; timestamp: string; nonce: string; body: Uint8Array },
): string {
  return hmacSm3(Buffer.from(secret, "utf8"), financeStringToSign(req)).toString("hex");
}

// -------------------------------------------------------------------------------------------------
// Base data (单位基础信息): GET /fin/v1/base-data?since=<version>

export const baseDataQuery = z.object({
  /** Return only what changed after this version (0 or absent: everything). */
  since: z.coerce.number().int().min(0).default(0),
});
export const billKindItem = z.object({
  billCode,
  name: text(),
  enabled: z.boolean(),
  version: z.number().int(),
  updatedAt: isoTime,
});
export const incomeItem = z.object({
  itemCode: text(),
  name: text(),
  /** The bill kind the item is charged on, when it is tied to one. */
  billCode: billCode.nullable(),
  unit: text().nullable(),
  /** 收费标准 in fen, when the item has one. */
  standardFen: z.number().int().nullable(),
  enabled: z.boolean(),
  version: z.number().int(),
  updatedAt: isoTime,
});
export const regionItem = z.object({
  regionCode: text(),
  name: text(),
  enabled: z.boolean(),
  version: z.number().int(),
  updatedAt: isoTime,
});
export const agencyInfo = z.object({
  agencyCode,
  name: text(),
  regionCode: text().nullable(),
  version: z.number().int(),
  updatedAt: isoTime,
});
export const baseDataResponse = z.object({
  agencyCode,
  /** The newest version of this agency's base data: pass it as `since` next time. */
  version: z.number().int(),
  /** Present when the agency record itself changed after `since`. */
  agency: agencyInfo.nullable(),
  billKinds: z.array(billKindItem),
  incomeItems: z.array(incomeItem),
  regions: z.array(regionItem),
});

// -------------------------------------------------------------------------------------------------
// Stock applications (申领) and segments (号段)

/** POST /fin/v1/stock-applications: idempotent by (agency, applicationId). */
export const stockApplicationRequest = z.object({
  applicationId: clientId,
  billCode,
  quantity: z.number().int().min(1).max(1_000_000),
  applicant: text().max(100).optional(),
  reason: text().max(500).optional(),
});
export const applicationStatus = z.enum(["PENDING", "APPROVED", "REJECTED"]);
export const segment = z.object({
  /** Finance's id of the segment (finance.SegmentIssued.financeRef). */
  financeRef: text(),
  applicationId: text().nullable(),
  agencyCode,
  billCode,
  startNumber: billNumber,
  endNumber: billNumber,
  issuedAt: isoTime,
  /** Position in this agency's issue order: pass the last one as `since` to GET /fin/v1/segments. */
  seq: z.number().int(),
});
export const stockApplicationResponse = z.object({
  applicationId: text(),
  financeRef: text(),
  agencyCode,
  billCode,
  quantity: z.number().int(),
  status: applicationStatus,
  /** Why finance refused, when REJECTED. */
  decisionReason: text().nullable(),
  createdAt: isoTime,
  decidedAt: isoTime.nullable(),
  /** The numbers issued for it (one segment today), when APPROVED. */
  segments: z.array(segment),
});
/** GET /fin/v1/segments?since=<seq>&limit=: every segment issued to the agency, in issue order. */
export const segmentsQuery = z.object({
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const segmentsResponse = z.object({ items: z.array(segment), lastSeq: z.number().int() });

// -------------------------------------------------------------------------------------------------
// Supervision (监制): POST /fin/v1/supervision/batches

export const receiptKind = z.enum(["blue", "red"]);
export const supervisionReceipt = z.object({
  /** The agency's receipt id: supervision is idempotent by it. */
  receiptId: z.uuid(),
  billCode,
  number: billNumber,
  checkCode,
  kind: receiptKind,
  /** For a red receipt: the blue receipt it red-flushes. */
  originalReceiptId: z.uuid().optional(),
  issuingPointCode: text().max(64).optional(),
  /** Integer fen; negative for a red receipt. */
  totalFen: z.number().int(),
  issuedAt: isoTime,
  /** The receipt's XML document, base64: exactly the bytes both signatures cover. */
  document: z.base64(),
  /** SM3 of the document bytes; checked when given. */
  documentSm3: sm3Hex.optional(),
  /** The agency's detached PKCS#7 SignedData (DER, base64) over `document`, carrying its certificate. */
  agencySignature: z.base64(),
});
export const supervisionBatchRequest = z.object({
  /** The agency's batch id (for logs; receipts are idempotent on their own). */
  batchId: clientId,
  receipts: z.array(supervisionReceipt).min(1).max(500),
});
export const rejectionCodes = [
  "BAD_DOCUMENT_DIGEST", // documentSm3 is not the SM3 of document
  "BAD_SIGNATURE_FORMAT", // agencySignature is not a PKCS#7 SignedData
  "BAD_AGENCY_SIGNATURE", // the signature does not verify over the document
  "CERTIFICATE_UNTRUSTED", // the signer's certificate does not chain to a trusted CA (or is expired)
  "CERTIFICATE_NOT_AGENCY", // the certificate is not bound to the submitting agency
  "CERTIFICATE_REVOKED", // the agency's certificate was revoked (admin) before this submission
  "UNKNOWN_BILL_KIND", // the bill code is not in the agency's base data, or disabled
  "NUMBER_NOT_ISSUED", // the number is not in any segment issued to this agency for this bill code
  "DUPLICATE_NUMBER", // the number is already supervised for another receipt/document
  "ORIGINAL_NOT_FOUND", // red receipt: originalReceiptId missing or not supervised for this agency
  "ALREADY_RED_FLUSHED", // red receipt: the original is already red-flushed
  "BAD_AMOUNT", // blue with negative total, red with positive total
  "DOCUMENT_MISMATCH", // the document's EInvoiceCode / EInvoiceNumber / RandomNumber / InvoicingPartyCode / TotalAmount differ from the declared fields
] as const;
export const rejectionCode = z.enum(rejectionCodes);
export const supervisedResult = z.object({
  receiptId: z.uuid(),
  billCode,
  number: billNumber,
  status: z.literal("SUPERVISED"),
  /** Finance's detached PKCS#7 SignedData (DER, base64) over the bytes the agency signed (signedContentOf). */
  financeSignature: z.base64(),
  financeCertificateSm3: sm3Hex,
  financeRef: text(),
  supervisedAt: isoTime,
});
export const rejectedResult = z.object({
  receiptId: z.uuid(),
  billCode,
  number: billNumber,
  status: z.literal("REJECTED"),
  code: rejectionCode,
  reason: text(),
  rejectedAt: isoTime,
});
export const supervisionResult = z.discriminatedUnion("status", [supervisedResult, rejectedResult]);
/**
 * 200 always when the batch was read: one result per receipt, in request order (unless the
 * "reorder" fault is on; match by receiptId). A resubmitted receiptId with the same document gets
 * the stored result again (same financeRef, same signature); with a different document it gets
 * DUPLICATE_NUMBER and the stored result is unchanged.
 */
export const supervisionBatchResponse = z.object({
  batchId: text(),
  results: z.array(supervisionResult),
});

// -------------------------------------------------------------------------------------------------
// Download of supervised receipts: GET /fin/v1/supervised-receipts?date=YYYY-MM-DD&cursor=&limit=

export const supervisedReceiptsQuery = pageQuery.extend({
  /** Calendar day in China Standard Time (UTC+8). */
  date: isoDate,
  /** Which day: when finance supervised it (default) or when the agency issued it. */
  by: z.enum(["supervisedAt", "issuedAt"]).default("supervisedAt"),
});
export const receiptState = z.object({
  redFlushed: z.boolean(),
  exchanged: z.boolean(),
  voided: z.boolean(),
  booked: z.boolean(),
});
export const supervisedReceipt = z.object({
  receiptId: z.uuid(),
  agencyCode,
  billCode,
  number: billNumber,
  checkCode,
  kind: receiptKind,
  originalReceiptId: z.uuid().nullable(),
  totalFen: z.number().int(),
  issuedAt: isoTime,
  supervisedAt: isoTime,
  financeRef: text(),
  document: z.base64(),
  documentSm3: sm3Hex,
  agencySignature: z.base64(),
  financeSignature: z.base64(),
  financeCertificateSm3: sm3Hex,
  state: receiptState,
});
export const supervisedReceiptsResponse = z.object({
  items: z.array(supervisedReceipt),
  nextCursor: text().nullable(),
});

// -------------------------------------------------------------------------------------------------
// Status updates from the agency: POST /fin/v1/receipt-status

export const statusUpdate = z.object({
  /** The agency's id for this update: idempotent by it. */
  updateId: clientId,
  billCode,
  number: billNumber,
  /** RED_FLUSHED (冲红), EXCHANGED (换开纸质), VOIDED (作废). */
  status: z.enum(["RED_FLUSHED", "EXCHANGED", "VOIDED"]),
  at: isoTime,
  reason: text().max(500).optional(),
});
export const statusUpdateRequest = z.object({ updates: z.array(statusUpdate).min(1).max(500) });
export const statusUpdateResult = z.object({
  updateId: text(),
  billCode,
  number: billNumber,
  /** APPLIED (also when repeated); REFUSED with a code: NOT_FOUND, NOT_SUPERVISED, CONFLICT, BOOKED. */
  outcome: z.enum(["APPLIED", "REFUSED"]),
  code: text().nullable(),
  reason: text().nullable(),
  state: receiptState.nullable(),
});
export const statusUpdateResponse = z.object({ results: z.array(statusUpdateResult) });

// -------------------------------------------------------------------------------------------------
// Audit reports (审验): POST /fin/v1/audit-reports, GET /fin/v1/audit-reports/:reportId

export const auditReportRequest = z.object({
  /** Idempotent by (agency, reportId): a repeat returns the first answer. */
  reportId: clientId,
  billCode,
  periodStart: isoDate,
  periodEnd: isoDate,
  /** Numbers issued (开具) in the period, as closed ranges. */
  used: z.array(numberRange).max(10_000),
  /** Numbers voided (作废). */
  voided: z.array(numberRange).max(10_000),
  /** Numbers destroyed (销毁), e.g. unused stock written off. */
  destroyed: z.array(numberRange).max(10_000),
});
export const auditFinding = z.object({
  /** NOT_ISSUED (reported number not in the agency's stock), NOT_SUPERVISED (used but finance never
   * supervised it), UNREPORTED (supervised in the period but not reported used), DOUBLE_REPORTED
   * (a number in two lists), VOIDED_BUT_SUPERVISED (reported voided/destroyed, yet supervised and not voided). */
  code: z.enum(["NOT_ISSUED", "NOT_SUPERVISED", "UNREPORTED", "DOUBLE_REPORTED", "VOIDED_BUT_SUPERVISED"]),
  number: billNumber,
  message: text(),
});
export const auditReportResponse = z.object({
  reportId: text(),
  agencyCode,
  billCode,
  periodStart: isoDate,
  periodEnd: isoDate,
  /** PASSED: no findings; FINDINGS: see the list (at most 1000 shown, `findingCount` is the total). */
  result: z.enum(["PASSED", "FINDINGS"]),
  counts: z.object({ used: z.number().int(), voided: z.number().int(), destroyed: z.number().int() }),
  findingCount: z.number().int(),
  findings: z.array(auditFinding),
  receivedAt: isoTime,
});

// -------------------------------------------------------------------------------------------------
// Public: payer verification and finance's certificates

/** GET /fin/v1/public/verify?billCode=&number=&checkCode= (404 RECEIPT_NOT_FOUND for any mismatch). */
export const verifyQuery = z.object({ billCode, number: billNumber, checkCode });
export const verifyResponse = z.object({
  billCode,
  number: billNumber,
  agencyCode,
  agencyName: text(),
  totalFen: z.number().int(),
  issuedAt: isoTime,
  supervisedAt: isoTime,
  /** VALID, or the strongest of RED_FLUSHED / EXCHANGED / VOIDED. */
  status: z.enum(["VALID", "RED_FLUSHED", "EXCHANGED", "VOIDED"]),
  redFlushed: z.boolean(),
  exchanged: z.boolean(),
  booked: z.boolean(),
  voided: z.boolean(),
});
/** GET /fin/v1/public/certificates: finance's signing certificate (also usable to encrypt to finance) and CA. */
export const certificatesResponse = z.object({
  financeCertificatePem: text(),
  financeCertificateSm3: sm3Hex,
  caCertificatePem: text(),
  /** Every CA whose agency certificates finance accepts (its own first). */
  trustedAgencyCaPems: z.array(text()),
});

// -------------------------------------------------------------------------------------------------
// Admin (separate listener, Authorization: Bearer <admin token>)

/** PUT /admin/v1/agencies/:agencyCode: create or update an agency (and its HMAC secret). */
export const agencyUpsert = z.object({
  name: text().min(1).max(200),
  regionCode: text().max(32).optional(),
  /** The agency's HMAC-SM3 secret (16-128 characters); omit on update to keep it. */
  secret: text().min(16).max(128).optional(),
});
/** PUT /admin/v1/agencies/:agencyCode/base-data: upsert items (each one bumps the version). */
export const baseDataUpsert = z.object({
  billKinds: z
    .array(z.object({ billCode, name: text().min(1).max(200), enabled: z.boolean().default(true) }))
    .default([]),
  incomeItems: z
    .array(
      z.object({
        itemCode: text().regex(/^[\w.-]{1,32}$/),
        name: text().min(1).max(200),
        billCode: billCode.optional(),
        unit: text().max(32).optional(),
        standardFen: z.number().int().optional(),
        enabled: z.boolean().default(true),
      }),
    )
    .default([]),
  regions: z
    .array(
      z.object({
        regionCode: text().regex(/^[\w.-]{1,32}$/),
        name: text().min(1).max(200),
        enabled: z.boolean().default(true),
      }),
    )
    .default([]),
});
/**
 * POST /admin/v1/agencies/:agencyCode/certificates: bind an agency signing certificate.
 * Either `certificatePem` (issued by a trusted CA; it must chain) or `publicKeyPem` (finance's CA
 * issues the certificate, subject CN=<name> OU=<agencyCode>, and returns it).
 */
export const certificateBind = z.union([
  z.object({ certificatePem: text().min(100) }),
  z.object({ publicKeyPem: text().min(50), commonName: text().min(1).max(64).optional() }),
]);
export const certificateBound = z.object({
  agencyCode,
  certificatePem: text(),
  fingerprintSm3: sm3Hex,
  notAfter: isoTime,
});
/** DELETE /admin/v1/agencies/:agencyCode/certificates/:fingerprintSm3: revoke a bound certificate (final). */
export const certificateRevoked = z.object({ agencyCode, fingerprintSm3: sm3Hex, revokedAt: isoTime });
/** POST /admin/v1/stock-applications/:financeRef/approve ({} or { quantity }) and .../reject ({ reason }). */
export const approveRequest = z.object({ quantity: z.number().int().min(1).max(1_000_000).optional() });
export const rejectRequest = z.object({ reason: text().min(1).max(500) });
/** PUT /admin/v1/settings: switch auto-approval of stock applications at run time. */
export const settings = z.object({ autoApprove: z.boolean() });
/** POST /admin/v1/receipts/booked: the payer's unit booked (入账) the receipt. */
export const bookedRequest = z.object({ billCode, number: billNumber, booked: z.boolean().default(true) });

/**
 * Faults, switched at run time: PUT /admin/v1/faults (replaces all), GET /admin/v1/faults,
 * DELETE /admin/v1/faults (all off); at start from FINSIM_FAULTS (the same JSON).
 * They apply to `/fin/v1/*` only (never admin, health or public verification unless `includePublic`).
 */
export const faults = z.object({
  /** Added before every reply: latencyMs + uniform random 0..jitterMs. */
  latencyMs: z.number().int().min(0).max(120_000).default(0),
  jitterMs: z.number().int().min(0).max(120_000).default(0),
  /** Fraction 0..1 of requests answered 500 FAULT_INJECTED before anything is done. */
  errorRate: z.number().min(0).max(1).default(0),
  /** Fraction 0..1 of requests that ARE processed, then answered 503 REPLY_LOST (the reply is lost). */
  lostReplyRate: z.number().min(0).max(1).default(0),
  /** "refused": the agency listener is closed (ECONNREFUSED); "unavailable": every call 503 FINANCE_DOWN. */
  down: z.enum(["no", "refused", "unavailable"]).default("no"),
  /** Batch replies, status replies and download pages carry every entry twice. */
  duplicateReplies: z.boolean().default(false),
  /** Batch replies and download pages come in a shuffled order. */
  reorderReplies: z.boolean().default(false),
  /** Apply to /fin/v1/public/* as well. */
  includePublic: z.boolean().default(false),
});
export type Faults = z.infer<typeof faults>;

/** GET /admin/v1/stats: counters for tests and the outage report. */
export const statsResponse = z.object({
  supervised: z.number().int(),
  rejected: z.number().int(),
  /** Batch items that hit an already stored receiptId (resubmissions). */
  resubmissions: z.number().int(),
  segments: z.number().int(),
  /** Crypto worker threads running, and receipts whose crypto fell back to the event loop (a worker failed). */
  crypto: z.object({ workers: z.number().int(), inlineFallbacks: z.number().int() }),
  faultsInjected: z.object({
    errors: z.number().int(),
    lostReplies: z.number().int(),
    unavailable: z.number().int(),
  }),
});

export type BaseDataResponse = z.infer<typeof baseDataResponse>;
export type StockApplicationRequest = z.infer<typeof stockApplicationRequest>;
export type StockApplicationResponse = z.infer<typeof stockApplicationResponse>;
export type Segment = z.infer<typeof segment>;
export type SupervisionReceipt = z.infer<typeof supervisionReceipt>;
export type SupervisionResult = z.infer<typeof supervisionResult>;
export type SupervisionBatchResponse = z.infer<typeof supervisionBatchResponse>;
export type RejectionCode = z.infer<typeof rejectionCode>;
export type SupervisedReceipt = z.infer<typeof supervisedReceipt>;
export type StatusUpdate = z.infer<typeof statusUpdate>;
export type StatusUpdateResult = z.infer<typeof statusUpdateResult>;
export type AuditReportRequest = z.infer<typeof auditReportRequest>;
export type AuditReportResponse = z.infer<typeof auditReportResponse>;
export type VerifyResponse = z.infer<typeof verifyResponse>;
export type ReceiptState = z.infer<typeof receiptState>;

// ---- 非税收入收缴 (non-tax collection): payment notices and their payment codes ----

/** POST /fin/v1/nontax/notices: make a payment notice (缴款书) and its payment code. */
export const nontaxNoticeRequest = z.object({
  bizSerialNo: z.string().min(1).max(64),
  payerName: z.string().min(1).max(200),
  items: z
    .array(z.object({ itemCode: z.string().min(1).max(32), amountFen: z.number().int().positive() }))
    .min(1)
    .max(100),
});
export type NontaxNoticeRequest = z.infer<typeof nontaxNoticeRequest>;

/** POST /fin/v1/nontax/notices/:paymentCode/payment: the notice was paid (缴款结果). */
export const nontaxPaymentRequest = z.object({
  paidFen: z.number().int().positive(),
  surchargeFen: z.number().int().nonnegative(),
  paidAt: z.iso.datetime({ offset: true }),
  channel: z.string().min(1).max(32),
  channelTradeNo: z.string().min(1).max(64),
});
export type NontaxPaymentRequest = z.infer<typeof nontaxPaymentRequest>;

export const nontaxNotice = z.object({
  paymentCode: z.string().regex(/^\d{20}$/),
  agencyCode: z.string(),
  bizSerialNo: z.string(),
  noticeNo: z.string(),
  payerName: z.string(),
  items: z.array(z.object({ itemCode: z.string(), amountFen: z.number().int() })),
  principalFen: z.number().int(),
  status: z.enum(["ISSUED", "PAID", "VOIDED"]),
  createdAt: z.string(),
  paid: z
    .object({
      at: z.string(),
      paidFen: z.number().int(),
      surchargeFen: z.number().int(),
      channel: z.string(),
      channelTradeNo: z.string(),
    })
    .optional(),
});
export type NontaxNotice = z.infer<typeof nontaxNotice>;

/** POST /fin/v1/nontax/notices/:paymentCode/refunds: apply for a refund (退付申请) of a paid notice. */
export const nontaxRefundRequest = z.object({
  /** The agency's id of the refund (its out_request_no at the channel): the application's idempotency key. */
  refundId: z.string().min(1).max(64),
  kind: z.enum(["REFUND", "DUPLICATE"]),
  channel: z.string().min(1).max(32),
  channelTradeNo: z.string().min(1).max(64),
  amountFen: z.number().int().positive(),
  reason: z.string().min(1).max(200),
});
export type NontaxRefundRequest = z.infer<typeof nontaxRefundRequest>;

/** POST /fin/v1/nontax/refunds/:refundId/result: the channel paid the refund back (退付结果). */
export const nontaxRefundResult = z.object({
  channelRefundNo: z.string().min(1).max(64),
  refundedAt: z.iso.datetime({ offset: true }),
});
export type NontaxRefundResult = z.infer<typeof nontaxRefundResult>;

export const nontaxRefund = z.object({
  refundId: z.string(),
  paymentCode: z.string(),
  kind: z.enum(["REFUND", "DUPLICATE"]),
  channel: z.string(),
  channelTradeNo: z.string(),
  amountFen: z.number().int(),
  reason: z.string(),
  status: z.enum(["PENDING", "APPROVED", "REJECTED", "REFUNDED"]),
  decisionNote: z.string().optional(),
  channelRefundNo: z.string().optional(),
  createdAt: z.string(),
});
export type NontaxRefund = z.infer<typeof nontaxRefund>;

/** POST /fin/v1/nontax/clearing-instructions: an agency's clearing instruction (资金清分指令). */
export const nontaxClearingRequest = z.object({
  /** The agency's id of the instruction: the idempotency key. */
  instructionId: z.string().min(1).max(64),
  businessDay: z.iso.date(),
  accountNo: z.string().min(1).max(64),
  accountName: z.string().min(1).max(200),
  bankName: z.string().max(200),
  /** Non-zero fen; negative: refunds above the day's takings come off the account (冲减). */
  amountFen: z
    .number()
    .int()
    .refine((n) => n !== 0, "an instruction moves money"),
  items: z
    .array(
      z.object({
        itemCode: z.string().min(1).max(32),
        collectedFen: z.number().int(),
        refundedFen: z.number().int(),
      }),
    )
    .min(1)
    .max(200),
});
export type NontaxClearingRequest = z.infer<typeof nontaxClearingRequest>;

export const nontaxClearing = z.object({
  instructionId: z.string(),
  agencyCode: z.string(),
  businessDay: z.string(),
  accountNo: z.string(),
  accountName: z.string(),
  amountFen: z.number().int(),
  status: z.enum(["ACCEPTED", "DONE", "REFUSED"]),
  note: z.string().optional(),
  receivedAt: z.string(),
});
export type NontaxClearing = z.infer<typeof nontaxClearing>;
