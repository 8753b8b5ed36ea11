import { ClearingSettled } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import type { ClearingAnswer } from "../adapters/nontax.ts";
import type { InstructionStatus } from "../domain/clearing.ts";
import type { PaymentContext, Tx } from "./context.ts";
import { sendKeyOf } from "./handling.ts";

interface DueInstruction {
  id: string;
  batch_id: string;
  agency_code: string;
  business_day: string;
  account_no: string;
  account_name: string;
  bank_name: string;
  amount_fen: string | number;
  items: Array<{ itemCode: string; collectedFen: number; refundedFen: number }>;
  status: InstructionStatus;
  attempts: number;
  /** A person's re-sends after a refusal: the attempt's key there is `<id>-R<resends>`. */
  resends: number;
}

/**
 * One round of the clearing sender (清分指令): claims due instructions (SKIP LOCKED, so replicas
 * share them). A PENDING one is sent to the non-tax system with its id as the idempotency key, so
 * a send after a crash or a lost answer is the same instruction there, never a second transfer;
 * an ACCEPTED one is asked for its state until DONE or REFUSED. An outage backs off ×2; a
 * PENDING one is PARKED after the last try, a REFUSED one kept: both for a person.
 */
export async function sendDueClearingInstructions(
  ctx: PaymentContext,
  policy: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number },
): Promise<number> {
  const sender = ctx.clearing;
  if (!sender) return 0;
  const now = ctx.clock();
  const due = await ctx.db.query<DueInstruction>(
    `UPDATE clearing_instruction SET next_attempt_at = $2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM clearing_instruction WHERE status IN ('PENDING', 'ACCEPTED') AND next_attempt_at <= $1
                  ORDER BY next_attempt_at LIMIT 20 FOR UPDATE SKIP LOCKED)
     RETURNING id, batch_id, agency_code, business_day, account_no, account_name, bank_name, amount_fen, items, status, attempts,
               resends`,
    [now, new Date(now.getTime() + 60_000)],
  );
  let settled = 0;
  for (const r of due) {
    const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (r.attempts - 1));
    let answer: ClearingAnswer;
    try {
      answer =
        r.status === "PENDING"
          ? await sender.instructClearing(r.agency_code, {
              instructionId: sendKeyOf(r.id, Number(r.resends)),
              businessDay: String(r.business_day),
              accountNo: r.account_no,
              accountName: r.account_name,
              bankName: r.bank_name,
              amountFen: Number(r.amount_fen),
              items: r.items,
            })
          : await sender.clearingState(r.agency_code, sendKeyOf(r.id, Number(r.resends)));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      // Still not taken after the last try: parked. Taken but not answered: asked again, later.
      const parked = r.status === "PENDING" && r.attempts >= policy.maxAttempts;
      await ctx.db.query(
        "UPDATE clearing_instruction SET status = $2, next_attempt_at = $3, last_error = $4 WHERE id = $1",
        [r.id, parked ? "PARKED" : r.status, new Date(ctx.clock().getTime() + delay), error.message],
      );
      if (parked) await closeBatchIfDone(ctx, r.batch_id);
      continue;
    }
    if (answer.status === "ACCEPTED") {
      await ctx.db.query(
        `UPDATE clearing_instruction SET status = 'ACCEPTED', sent_at = COALESCE(sent_at, $2), next_attempt_at = $3,
           last_error = NULL WHERE id = $1`,
        [r.id, ctx.clock(), new Date(ctx.clock().getTime() + delay)],
      );
      continue;
    }
    await settle(ctx, r, answer);
    settled++;
  }
  return settled;
}

/** DONE or REFUSED: the instruction's end, its event, and the batch's once every instruction ended. */
async function settle(
  ctx: PaymentContext,
  r: DueInstruction,
  answer: { status: "DONE" } | { status: "REFUSED"; note: string },
): Promise<void> {
  await ctx.inTransaction(async (tx, emit) => {
    const now = ctx.clock();
    const note = answer.status === "REFUSED" ? answer.note.slice(0, 500) : undefined;
    const [row] = await tx.query<{ id: string }>(
      `UPDATE clearing_instruction SET status = $2, note = $3, settled_at = $4, sent_at = COALESCE(sent_at, $4),
         last_error = NULL WHERE id = $1 AND status IN ('PENDING', 'ACCEPTED') RETURNING id`,
      [r.id, answer.status, note ?? null, now],
    );
    if (!row) return; // another replica settled it first
    emit(ClearingSettled, {
      agencyCode: r.agency_code,
      businessDay: String(r.business_day),
      batchId: r.batch_id,
      instructionId: r.id,
      accountNo: r.account_no,
      amountFen: Number(r.amount_fen),
      status: answer.status,
      ...(note ? { note } : {}),
      settledAt: now.toISOString(),
    });
  });
  await closeBatchIfDone(ctx, r.batch_id);
}

/**
 * A batch whose every instruction ended is SETTLED (all DONE) or REFUSED (some refused or
 * parked: a person looks). Once SETTLED, each business system is told, payment by payment of the
 * day, through its result callbacks (`payment.cleared`): the police system books by it.
 */
async function closeBatchIfDone(ctx: PaymentContext, batchId: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const [b] = await tx.query<{ agency_code: string; business_day: string; status: string }>(
      "SELECT agency_code, business_day, status FROM clearing_batch WHERE id = $1 FOR UPDATE",
      [batchId],
    );
    if (b?.status !== "INSTRUCTED") return;
    const counts = await tx.query<{ status: string; n: string | number }>(
      "SELECT status, COUNT(*) AS n FROM clearing_instruction WHERE batch_id = $1 GROUP BY status",
      [batchId],
    );
    const n = (s: string) => Number(counts.find((c) => c.status === s)?.n ?? 0);
    if (n("PENDING") + n("ACCEPTED") > 0) return;
    const status = n("REFUSED") + n("PARKED") > 0 ? "REFUSED" : "SETTLED";
    const now = ctx.clock();
    await tx.query("UPDATE clearing_batch SET status = $2 WHERE id = $1", [batchId, status]);
    if (status !== "SETTLED") return;
    await enqueueClearedCallbacks(tx, b.agency_code, String(b.business_day), batchId, now);
  });
}

async function enqueueClearedCallbacks(
  tx: Tx,
  agencyCode: string,
  day: string,
  batchId: string,
  now: Date,
): Promise<void> {
  const start = new Date(`${day}T00:00:00+08:00`);
  const end = new Date(start.getTime() + 86_400_000);
  await tx.query(
    `INSERT INTO callback (id, payment_id, agency_code, app_id, event, body, status, next_attempt_at, created_at)
     SELECT gen_random_uuid(), p.id, p.agency_code,
            CASE WHEN p.requested_by LIKE 'app:%' THEN substr(p.requested_by, 5) ELSE p.requested_by END,
            'payment.cleared',
            jsonb_build_object('event', 'payment.cleared', 'paymentId', p.id, 'agencyCode', p.agency_code,
                               'bizSerialNo', p.biz_serial_no, 'businessDay', $4::text, 'batchId', $5::text,
                               'clearedAt', $6::text),
            'PENDING', $7, $7
       FROM payment p
      WHERE p.agency_code = $1 AND p.paid_at >= $2 AND p.paid_at < $3 AND p.status IN ('PAID', 'REFUNDING', 'REFUNDED')
     ON CONFLICT (payment_id, event) DO NOTHING`,
    [agencyCode, start, end, day, batchId, now.toISOString(), now],
  );
}
