import { AppError } from "@piaoju/runtime";
import type { PaidResult } from "../adapters/nontax.ts";
import type { PaymentContext, Tx } from "./context.ts";

/** Records, in the completing transaction, the result the non-tax system must be told. */
export async function enqueueNontaxReport(
  ctx: PaymentContext,
  tx: Tx,
  payment: { id: string; agency_code: string; payment_code: string },
  result: PaidResult,
  now: Date,
): Promise<void> {
  if (!ctx.noticeIssuer) return;
  await tx.query(
    `INSERT INTO nontax_report (payment_id, agency_code, payment_code, body, status, next_attempt_at, created_at)
     VALUES ($1,$2,$3,$4::jsonb,'PENDING',$5,$5) ON CONFLICT (payment_id) DO NOTHING`,
    [payment.id, payment.agency_code, payment.payment_code, JSON.stringify(result), now],
  );
}

/**
 * One round of reporting results to the non-tax system (缴款结果反馈): claims due reports (SKIP
 * LOCKED), sends each, backs off on an outage, parks after the last try; a refusal is kept as
 * REFUSED for a person. The non-tax system takes a repeated report as the same payment.
 */
export async function sendDueNontaxReports(
  ctx: PaymentContext,
  policy: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number },
): Promise<number> {
  const issuer = ctx.noticeIssuer;
  if (!issuer) return 0;
  const now = ctx.clock();
  const due = await ctx.db.query<{
    payment_id: string;
    agency_code: string;
    payment_code: string;
    body: PaidResult;
    attempts: number;
  }>(
    `UPDATE nontax_report SET next_attempt_at = $2, attempts = attempts + 1
     WHERE payment_id IN (SELECT payment_id FROM nontax_report WHERE status = 'PENDING' AND next_attempt_at <= $1
                          ORDER BY next_attempt_at LIMIT 20 FOR UPDATE SKIP LOCKED)
     RETURNING payment_id, agency_code, payment_code, body, attempts`,
    [now, new Date(now.getTime() + 60_000)],
  );
  let sent = 0;
  for (const r of due) {
    try {
      const outcome = await issuer.reportPaid(r.agency_code, r.payment_code, r.body);
      await ctx.db.query(
        "UPDATE nontax_report SET status = $2, sent_at = $3, last_error = NULL WHERE payment_id = $1",
        [r.payment_id, outcome === "taken" ? "SENT" : "REFUSED", ctx.clock()],
      );
      if (outcome === "taken") sent++;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const parked = r.attempts >= policy.maxAttempts;
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (r.attempts - 1));
      await ctx.db.query(
        "UPDATE nontax_report SET status = $2, next_attempt_at = $3, last_error = $4 WHERE payment_id = $1",
        [r.payment_id, parked ? "PARKED" : "PENDING", new Date(ctx.clock().getTime() + delay), error.message],
      );
    }
  }
  return sent;
}
