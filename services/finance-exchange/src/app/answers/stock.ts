import { type Emit, SegmentIssued } from "@piaoju/contracts";
import type { SqlExecutor } from "@piaoju/persistence";
import { type AnswerMessage, parseAnswerBody, type RequestPayload } from "../../domain/messages.ts";
import type { AnswerContext } from "./context.ts";

/** 票据申领 answers: segments finance issued, announced to stock once each. */

/** Segments finance issued go to stock once each (finance.SegmentIssued), keyed by finance's reference. */
export async function stockAnswer(
  ctx: AnswerContext,
  tx: SqlExecutor,
  emit: Emit,
  p: RequestPayload<"applyStock">,
  result: AnswerMessage["result"],
): Promise<"done" | "ask-again"> {
  const now = ctx.clock();
  if (!result.ok) {
    await tx.query(
      `UPDATE stock_application SET status = 'REFUSED', reason = $2, decided_at = $3 WHERE id = $1 AND status = 'REQUESTED'`,
      [p.applicationId, `${result.code}: ${result.message}`, now],
    );
    return "done";
  }
  const body = parseAnswerBody("applyStock", result.body);
  if (body.status === "pending") return "ask-again";
  if (body.status === "refused") {
    await tx.query(
      `UPDATE stock_application SET status = 'REFUSED', reason = $2, decided_at = $3 WHERE id = $1 AND status = 'REQUESTED'`,
      [p.applicationId, body.reason, now],
    );
    return "done";
  }
  for (const s of body.segments) {
    const [fresh] = await tx.query(
      `INSERT INTO issued_segment (finance_ref, application_id, agency_code, bill_code, start_number, end_number, issued_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING RETURNING finance_ref`,
      [s.financeRef, p.applicationId, p.agencyCode, s.billCode, s.startNumber, s.endNumber, s.issuedAt],
    );
    if (!fresh) continue;
    emit(SegmentIssued, {
      financeRef: s.financeRef,
      applicationId: p.applicationId,
      agencyCode: p.agencyCode,
      billCode: s.billCode,
      startNumber: s.startNumber,
      endNumber: s.endNumber,
      issuedAt: s.issuedAt,
    });
  }
  await tx.query(
    `UPDATE stock_application SET status = 'APPROVED', finance_ref = $2, decided_at = $3 WHERE id = $1`,
    [p.applicationId, body.financeRef, now],
  );
  return "done";
}
