import {
  agencyCode,
  billCode,
  billNumber,
  isoTime,
  numberRange,
  receiptKind,
  sm3Hex,
} from "@piaoju/contracts";
import { z } from "zod";

/**
 * What the daemon asks finance, whatever carries it (direct HTTPS or the boundary ferry).
 * Each request is one message with a stable id: resending it (after an outage, a lost ferry
 * file, a crash) asks the same question again, and finance's answer is applied once.
 */
export const operations = [
  "supervise",
  "baseData",
  "applyStock",
  "downloadSupervised",
  "submitAudit",
  "statusUpdate",
] as const;
export type Operation = (typeof operations)[number];

const day = z.iso.date();

/** One receipt in an upload batch: the document and the agency's signature over it. */
export const receiptForSupervision = z.object({
  receiptId: z.uuid(),
  agencyCode,
  billCode,
  number: billNumber,
  kind: receiptKind,
  originalReceiptId: z.uuid().optional(),
  issuingPointCode: z.string().min(1).max(32),
  checkCode: z.string().regex(/^\d{6}$/),
  totalFen: z.number().int(),
  issuedAt: isoTime,
  document: z.base64(),
  documentSm3: sm3Hex,
  agencySignature: z.base64(),
});
export type ReceiptForSupervision = z.infer<typeof receiptForSupervision>;

export const requestPayloads = {
  supervise: z.object({ receipts: z.array(receiptForSupervision).min(1).max(500) }),
  baseData: z.object({ agencyCode }),
  applyStock: z.object({
    applicationId: z.uuid(),
    agencyCode,
    billCode,
    quantity: z.number().int().positive(),
  }),
  downloadSupervised: z.object({ agencyCode, day, reconcile: z.boolean().optional() }),
  submitAudit: z.object({
    reportId: z.uuid(),
    agencyCode,
    billCode,
    periodStart: day,
    periodEnd: day,
    used: z.array(numberRange),
    voided: z.array(numberRange),
    destroyed: z.array(numberRange),
  }),
  /** What happened to supervised receipts since (换开, 冲红, 作废), so finance answers payers' checks right. */
  statusUpdate: z.object({
    agencyCode,
    updates: z
      .array(
        z.object({
          updateId: z.string().regex(/^[\w.:-]{1,64}$/),
          billCode,
          number: billNumber,
          status: z.enum(["RED_FLUSHED", "EXCHANGED", "VOIDED"]),
          at: isoTime,
          reason: z.string().max(500).optional(),
        }),
      )
      .min(1)
      .max(500),
  }),
} as const;

export type RequestPayload<O extends Operation> = z.infer<(typeof requestPayloads)[O]>;

export const superviseOutcome = z.discriminatedUnion("outcome", [
  z.object({
    receiptId: z.uuid(),
    outcome: z.literal("supervised"),
    financeRef: z.string().min(1).max(64),
    financeSignature: z.base64(),
    financeCertificateSm3: sm3Hex,
    supervisedAt: isoTime,
  }),
  z.object({
    receiptId: z.uuid(),
    outcome: z.literal("rejected"),
    code: z.string().min(1).max(64),
    reason: z.string().min(1).max(500),
    rejectedAt: isoTime,
  }),
]);
export type SuperviseOutcome = z.infer<typeof superviseOutcome>;

export const supervisedReceipt = z.object({
  agencyCode,
  billCode,
  number: billNumber,
  receiptId: z.uuid().optional(),
  financeRef: z.string().min(1).max(64),
  supervisedAt: isoTime,
  document: z.base64(),
  agencySignature: z.base64(),
  documentSm3: sm3Hex,
  financeSignature: z.base64(),
  financeCertificateSm3: sm3Hex,
});
export type SupervisedReceipt = z.infer<typeof supervisedReceipt>;

export const baseDataEntry = z.object({
  kind: z.string().min(1).max(32),
  code: z.string().min(1).max(64),
  payload: z.record(z.string(), z.unknown()),
});

export const answerBodies = {
  supervise: z.object({ results: z.array(superviseOutcome) }),
  baseData: z.object({ entries: z.array(baseDataEntry) }),
  applyStock: z.discriminatedUnion("status", [
    z.object({
      status: z.literal("approved"),
      financeRef: z.string().min(1).max(64),
      segments: z.array(
        z.object({
          financeRef: z.string().min(1).max(64),
          billCode,
          startNumber: billNumber,
          endNumber: billNumber,
          issuedAt: isoTime,
        }),
      ),
    }),
    z.object({ status: z.literal("refused"), reason: z.string().min(1) }),
    z.object({ status: z.literal("pending") }),
  ]),
  downloadSupervised: z.object({ receipts: z.array(supervisedReceipt) }),
  submitAudit: z.object({
    result: z.enum(["PASSED", "FINDINGS"]),
    findingCount: z.number().int(),
    findings: z.array(z.object({ code: z.string(), number: billNumber, message: z.string() })),
  }),
  statusUpdate: z.object({
    results: z.array(
      z.object({
        updateId: z.string(),
        outcome: z.enum(["APPLIED", "REFUSED"]),
        code: z.string().nullable(),
        reason: z.string().nullable(),
      }),
    ),
  }),
} as const;

export type AnswerBody<O extends Operation> = z.infer<(typeof answerBodies)[O]>;

/** A message to finance as it travels (the ferry file's signed content; the HTTP client's input). */
export const requestMessage = z.object({
  id: z.uuid(),
  operation: z.enum(operations),
  payload: z.unknown(),
  sentAt: isoTime,
});
export type RequestMessage = z.infer<typeof requestMessage>;

/**
 * Finance's answer to one request. `refused` is a final business answer (e.g. bad input);
 * an outage is never an answer: the request stays queued and is asked again.
 */
export const answerMessage = z.object({
  id: z.uuid(),
  requestId: z.uuid(),
  operation: z.enum(operations),
  answeredAt: isoTime,
  result: z.discriminatedUnion("ok", [
    z.object({ ok: z.literal(true), body: z.unknown() }),
    z.object({ ok: z.literal(false), code: z.string().min(1).max(64), message: z.string().max(1000) }),
  ]),
});
export type AnswerMessage = z.infer<typeof answerMessage>;

/** Parses an answer's body for its operation; a body that does not fit is finance's fault, reported as such. */
export function parseAnswerBody<O extends Operation>(operation: O, body: unknown): AnswerBody<O> {
  return answerBodies[operation].parse(body) as AnswerBody<O>;
}
