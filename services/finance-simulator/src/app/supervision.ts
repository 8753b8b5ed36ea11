import { randomUUID } from "node:crypto";
import { ReceiptDocumentError, signedContentOf } from "@piaoju/contracts";
import { Certificate, sm3 } from "@piaoju/gm-crypto";
import type { SqlExecutor } from "@piaoju/persistence";
import { AppError } from "@piaoju/runtime";
import type { RejectionCode, SupervisedReceipt, SupervisionReceipt, SupervisionResult } from "../api.ts";
import { checkDocumentFields } from "../domain/document-fields.ts";
import { chinaDay } from "../domain/numbers.ts";
import type { CryptoOutcome } from "../domain/receipt-crypto.ts";
import { bindingOf } from "./base-data.ts";
import { bytes, iso, type SimContext } from "./context.ts";

type Row = Record<string, unknown>;

interface Submitted {
  agencyCode: string;
  batchId: string;
  receipt: SupervisionReceipt;
  document: Buffer;
  documentSm3: string;
  agencySignature: Buffer;
}

type Rejection = { code: RejectionCode; reason: string };

/**
 * 监制 of a batch. The signature checks and finance's signatures run first, for all receipts at
 * once (worker threads); then each receipt is decided against the database in request order, in
 * its own transaction, so a red receipt after its original in the same batch finds it supervised.
 */
export async function superviseBatch(
  ctx: SimContext,
  agencyCode: string,
  batchId: string,
  receipts: readonly SupervisionReceipt[],
): Promise<SupervisionResult[]> {
  const prepared = await Promise.all(receipts.map((receipt) => prepare(ctx, agencyCode, batchId, receipt)));
  const results: SupervisionResult[] = [];
  for (const step of prepared)
    results.push("result" in step ? step.result : await decide(ctx, step.submitted, step.crypto));
  return results;
}

type Prepared = { result: SupervisionResult } | { submitted: Submitted; crypto: CryptoOutcome };

async function prepare(
  ctx: SimContext,
  agencyCode: string,
  batchId: string,
  receipt: SupervisionReceipt,
): Promise<Prepared> {
  const document = Buffer.from(receipt.document, "base64");
  const documentSm3 = sm3(document).toString("hex");
  // A digest mismatch is damage in transit, not a decision: nothing is stored, a clean resubmission is decided normally.
  if (receipt.documentSm3 !== undefined && receipt.documentSm3 !== documentSm3) {
    return {
      result: rejectedResult(receipt, {
        code: "BAD_DOCUMENT_DIGEST",
        reason: `documentSm3 ${receipt.documentSm3} is not the SM3 of the document (${documentSm3})`,
      }),
    };
  }
  const submitted: Submitted = {
    agencyCode,
    batchId,
    receipt,
    document,
    documentSm3,
    agencySignature: Buffer.from(receipt.agencySignature, "base64"),
  };
  const earlier = await findReceipt(ctx.db, receipt.receiptId);
  if (earlier) return { result: replayDecision(ctx, submitted, earlier) };
  // Both signatures cover what the document's version says (Header + EInvoiceData from 1.2.0).
  let content: Buffer;
  try {
    content = signedContentOf(document);
  } catch (error) {
    if (!(error instanceof ReceiptDocumentError)) throw error;
    return { result: rejectedResult(receipt, { code: "DOCUMENT_MISMATCH", reason: error.message }) };
  }
  return { submitted, crypto: await ctx.crypto.run(content, submitted.agencySignature, new Date()) };
}

async function decide(
  ctx: SimContext,
  submitted: Submitted,
  crypto: CryptoOutcome,
): Promise<SupervisionResult> {
  const { receipt } = submitted;
  // Decided meanwhile (the same receipt twice in one batch, or a concurrent resubmission).
  const earlier = await findReceipt(ctx.db, receipt.receiptId);
  if (earlier) return replayDecision(ctx, submitted, earlier);
  if (!crypto.ok) return storeRejection(ctx.db, submitted, crypto);
  const refusal = await checkBindingAndFields(ctx, submitted, Certificate.fromDer(crypto.signerDer));
  if (refusal) return storeRejection(ctx.db, submitted, refusal);
  return ctx.db.transaction(async (tx) => {
    const rule = await checkNumberAndOriginal(tx, submitted);
    if (rule) return storeRejection(tx, submitted, rule);
    const [stored] = await insertReceipt(tx, submitted, {
      outcome: "SUPERVISED",
      financeRef: `SUP-${randomUUID()}`,
      financeSignature: crypto.financeSignature,
      financeCertSm3: ctx.identity.certificateSm3,
    });
    if (!stored) {
      // Another request took this receipt id or this number between our checks and the insert.
      const raced = await findReceipt(tx, receipt.receiptId);
      if (raced) return replayDecision(ctx, submitted, raced);
      return storeRejection(tx, submitted, duplicateNumber(receipt));
    }
    if (receipt.kind === "red" && receipt.originalReceiptId) {
      await tx.query(
        `UPDATE receipt SET red_flushed = true, state_updated_at = now() WHERE receipt_id = $1`,
        [receipt.originalReceiptId],
      );
    }
    return resultOf(stored);
  });
}

/** The same receipt id again: the stored decision for the same document, a duplicate for another one. */
function replayDecision(ctx: SimContext, submitted: Submitted, earlier: Row): SupervisionResult {
  if (earlier.agency_code !== submitted.agencyCode || earlier.document_sm3 !== submitted.documentSm3) {
    return rejectedResult(submitted.receipt, {
      code: "DUPLICATE_NUMBER",
      reason: `receipt ${submitted.receipt.receiptId} was submitted earlier with another document`,
    });
  }
  ctx.stats.resubmissions++;
  return resultOf(earlier);
}

async function checkBindingAndFields(
  ctx: SimContext,
  s: Submitted,
  signer: Certificate,
): Promise<Rejection | undefined> {
  // Bound by fingerprint (the admin's binding call), else by the subject's OU naming the agency.
  const binding = await bindingOf(ctx.db, signer.fingerprintSm3());
  const bound = binding?.agencyCode;
  if (binding?.revokedAt && bound === s.agencyCode) {
    return {
      code: "CERTIFICATE_REVOKED",
      reason: `the signing certificate "${signer.subject.text}" was revoked at ${iso(binding.revokedAt)}`,
    };
  }
  const belongs =
    bound !== undefined ? bound === s.agencyCode : signer.subject.organizationalUnit === s.agencyCode;
  if (!belongs) {
    return {
      code: "CERTIFICATE_NOT_AGENCY",
      reason: `the signing certificate "${signer.subject.text}" is not agency ${s.agencyCode}'s${bound ? ` (bound to ${bound})` : ""}`,
    };
  }
  const mismatch = checkDocumentFields(s.document, { ...s.receipt, agencyCode: s.agencyCode });
  if (mismatch) return mismatch;
  const { kind, totalFen } = s.receipt;
  if ((kind === "blue" && totalFen < 0) || (kind === "red" && totalFen > 0)) {
    return { code: "BAD_AMOUNT", reason: `a ${kind} receipt cannot total ${totalFen} fen` };
  }
  return undefined;
}

async function checkNumberAndOriginal(tx: SqlExecutor, s: Submitted): Promise<Rejection | undefined> {
  const { billCode, number, kind, originalReceiptId } = s.receipt;
  const [kindRow] = await tx.query<{ enabled: boolean }>(
    `SELECT enabled FROM bill_kind WHERE agency_code = $1 AND bill_code = $2`,
    [s.agencyCode, billCode],
  );
  if (!kindRow?.enabled) {
    return {
      code: "UNKNOWN_BILL_KIND",
      reason: `bill code ${billCode} is not an enabled bill kind of agency ${s.agencyCode}`,
    };
  }
  const issued = await tx.query(
    `SELECT 1 FROM segment WHERE agency_code = $1 AND bill_code = $2 AND start_number <= $3 AND end_number >= $3 LIMIT 1`,
    [s.agencyCode, billCode, number],
  );
  if (issued.length === 0) {
    return {
      code: "NUMBER_NOT_ISSUED",
      reason: `${billCode}/${number} is not in any segment finance issued to ${s.agencyCode}`,
    };
  }
  const holder = await tx.query(
    `SELECT receipt_id FROM receipt WHERE bill_code = $1 AND number = $2 AND outcome = 'SUPERVISED' LIMIT 1`,
    [billCode, number],
  );
  if (holder.length > 0) return duplicateNumber(s.receipt);
  if (kind === "red") {
    if (!originalReceiptId)
      return { code: "ORIGINAL_NOT_FOUND", reason: "a red receipt needs originalReceiptId" };
    const [original] = await tx.query<{ red_flushed: boolean; kind: string }>(
      `SELECT red_flushed, kind FROM receipt WHERE receipt_id = $1 AND agency_code = $2 AND outcome = 'SUPERVISED' FOR UPDATE`,
      [originalReceiptId, s.agencyCode],
    );
    if (original?.kind !== "blue") {
      return {
        code: "ORIGINAL_NOT_FOUND",
        reason: `no supervised blue receipt ${originalReceiptId} of agency ${s.agencyCode}`,
      };
    }
    if (original.red_flushed) {
      return { code: "ALREADY_RED_FLUSHED", reason: `receipt ${originalReceiptId} is already red-flushed` };
    }
  }
  return undefined;
}

function duplicateNumber(receipt: SupervisionReceipt): Rejection {
  return {
    code: "DUPLICATE_NUMBER",
    reason: `${receipt.billCode}/${receipt.number} is already supervised for another receipt`,
  };
}

async function storeRejection(
  db: SqlExecutor,
  s: Submitted,
  rejection: Rejection,
): Promise<SupervisionResult> {
  const [stored] = await insertReceipt(db, s, {
    outcome: "REJECTED",
    code: rejection.code,
    reason: rejection.reason,
  });
  const row = stored ?? (await findReceipt(db, s.receipt.receiptId));
  return row ? resultOf(row) : rejectedResult(s.receipt, rejection);
}

function insertReceipt(
  db: SqlExecutor,
  s: Submitted,
  decision:
    | { outcome: "SUPERVISED"; financeRef: string; financeSignature: Buffer; financeCertSm3: string }
    | { outcome: "REJECTED"; code: RejectionCode; reason: string },
): Promise<Row[]> {
  const r = s.receipt;
  const supervised = decision.outcome === "SUPERVISED" ? decision : undefined;
  const rejected = decision.outcome === "REJECTED" ? decision : undefined;
  // No conflict target: a taken receipt id and a number already supervised (partial unique index) both insert nothing.
  return db.query(
    `INSERT INTO receipt (receipt_id, agency_code, bill_code, number, check_code, kind, original_receipt_id,
       issuing_point_code, total_fen, issued_at, document, document_sm3, agency_signature, outcome, reject_code,
       reject_reason, finance_ref, finance_signature, finance_cert_sm3, decided_at, batch_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, now(), $20)
     ON CONFLICT DO NOTHING RETURNING *`,
    [
      r.receiptId,
      s.agencyCode,
      r.billCode,
      r.number,
      r.checkCode,
      r.kind,
      r.originalReceiptId ?? null,
      r.issuingPointCode ?? null,
      r.totalFen,
      r.issuedAt,
      s.document,
      s.documentSm3,
      s.agencySignature,
      decision.outcome,
      rejected?.code ?? null,
      rejected?.reason ?? null,
      supervised?.financeRef ?? null,
      supervised?.financeSignature ?? null,
      supervised?.financeCertSm3 ?? null,
      s.batchId,
    ],
  );
}

async function findReceipt(db: SqlExecutor, receiptId: string): Promise<Row | undefined> {
  const [row] = await db.query(`SELECT * FROM receipt WHERE receipt_id = $1`, [receiptId]);
  return row;
}

function rejectedResult(receipt: SupervisionReceipt, rejection: Rejection): SupervisionResult {
  return {
    receiptId: receipt.receiptId,
    billCode: receipt.billCode,
    number: receipt.number,
    status: "REJECTED",
    code: rejection.code,
    reason: rejection.reason,
    rejectedAt: new Date().toISOString(),
  };
}

function resultOf(row: Row): SupervisionResult {
  const common = {
    receiptId: String(row.receipt_id),
    billCode: String(row.bill_code),
    number: String(row.number),
  };
  if (row.outcome === "SUPERVISED") {
    return {
      ...common,
      status: "SUPERVISED",
      financeSignature: bytes(row.finance_signature).toString("base64"),
      financeCertificateSm3: String(row.finance_cert_sm3),
      financeRef: String(row.finance_ref),
      supervisedAt: iso(row.decided_at),
    };
  }
  return {
    ...common,
    status: "REJECTED",
    code: row.reject_code as RejectionCode,
    reason: String(row.reject_reason),
    rejectedAt: iso(row.decided_at),
  };
}

// -------------------------------------------------------------------------------------------------
// Download by day

/** Supervised receipts of the agency on a China-time day, by supervision or issue time, keyset-paged. */
export async function listSupervised(
  ctx: SimContext,
  agencyCode: string,
  query: { date: string; by: "supervisedAt" | "issuedAt"; cursor?: string | undefined; limit: number },
): Promise<{ items: SupervisedReceipt[]; nextCursor: string | null }> {
  const column = query.by === "issuedAt" ? "issued_at" : "decided_at";
  const { from, to } = chinaDay(query.date);
  const after = query.cursor === undefined ? undefined : readCursor(query.cursor);
  const rows = await ctx.db.query(
    `SELECT * FROM receipt
     WHERE agency_code = $1 AND outcome = 'SUPERVISED' AND ${column} >= $2 AND ${column} < $3
       AND ($4::timestamptz IS NULL OR (${column}, receipt_id) > ($4::timestamptz, $5::uuid))
     ORDER BY ${column}, receipt_id LIMIT $6`,
    [agencyCode, from, to, after?.at ?? null, after?.receiptId ?? null, query.limit + 1],
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  const nextCursor =
    rows.length > query.limit && last
      ? Buffer.from(JSON.stringify([iso(last[column]), String(last.receipt_id)])).toString("base64url")
      : null;
  return { items: page.map(supervisedReceiptOf), nextCursor };
}

function readCursor(cursor: string): { at: string; receiptId: string } {
  try {
    const [at, receiptId] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [string, string];
    if (Number.isNaN(Date.parse(at)) || !/^[0-9a-f-]{36}$/.test(receiptId)) throw new Error("bad");
    return { at, receiptId };
  } catch {
    throw new AppError("validation", "cursor is not one this server gave", {
      code: "BAD_CURSOR",
      issues: [
        { field: "query.cursor", rule: "cursor", message: "pass the nextCursor of the previous page" },
      ],
    });
  }
}

export function supervisedReceiptOf(row: Row): SupervisedReceipt {
  return {
    receiptId: String(row.receipt_id),
    agencyCode: String(row.agency_code),
    billCode: String(row.bill_code),
    number: String(row.number),
    checkCode: String(row.check_code),
    kind: row.kind as SupervisedReceipt["kind"],
    originalReceiptId: row.original_receipt_id == null ? null : String(row.original_receipt_id),
    totalFen: Number(row.total_fen),
    issuedAt: iso(row.issued_at),
    supervisedAt: iso(row.decided_at),
    financeRef: String(row.finance_ref),
    document: bytes(row.document).toString("base64"),
    documentSm3: String(row.document_sm3),
    agencySignature: bytes(row.agency_signature).toString("base64"),
    financeSignature: bytes(row.finance_signature).toString("base64"),
    financeCertificateSm3: String(row.finance_cert_sm3),
    state: stateOf(row),
  };
}

export function stateOf(row: Row) {
  return {
    redFlushed: Boolean(row.red_flushed),
    exchanged: Boolean(row.exchanged),
    voided: Boolean(row.voided),
    booked: Boolean(row.booked),
  };
}
