import { randomUUID } from "node:crypto";
import { ClearingInstructed } from "@piaoju/contracts";
import { addDays, businessDay, businessDayBounds } from "@piaoju/locale";
import { AppError } from "@piaoju/runtime";
import { type ClearingShare, type ItemTakings, planClearing } from "../domain/clearing.ts";
import { type Line, remainderAfterRefund } from "../domain/refund.ts";
import { audit, type PaymentContext, type Tx } from "./context.ts";
import type { PaymentRow } from "./rows.ts";

export interface ClearingBatchView {
  batchId: string;
  agencyCode: string;
  businessDay: string;
  status: string;
  collectedFen: number;
  refundedFen: number;
  payments: number;
  createdAt: string;
  createdBy: string;
  instructions: Array<{
    instructionId: string;
    accountNo: string;
    accountName: string;
    bankName: string;
    collectedFen: number;
    refundedFen: number;
    amountFen: number;
    items: Array<{ itemCode: string; collectedFen: number; refundedFen: number }>;
    status: string;
    attempts: number;
    lastError?: string;
    note?: string;
    sentAt?: string;
    settledAt?: string;
    /** Times a person sent it again after a refusal (重新发送), and the last decision: who, when, why. */
    resends: number;
    resentBy?: string;
    resentAt?: string;
    resendNote?: string;
  }>;
}

/** The lines a payment's receipt carries: the request's items, and the surcharge as its own line. */
function linesOf(p: Pick<PaymentRow, "items" | "surcharge_fen" | "surcharge_item_code">): Line[] {
  const surchargeFen = Number(p.surcharge_fen ?? 0);
  return [
    ...p.items,
    ...(surchargeFen > 0 && p.surcharge_item_code
      ? [{ itemCode: p.surcharge_item_code, quantity: "1", amountFen: surchargeFen }]
      : []),
  ];
}

const byItem = (lines: readonly Line[]) => {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l.itemCode, (m.get(l.itemCode) ?? 0) + l.amountFen);
  return m;
};

/**
 * Is the day ready to clear? Every channel with money of the agency that day (its enabled
 * accounts, and any channel a payment or refund of the day went by) reconciled for it, and no
 * difference of the day left OPEN. HELD (booked on the channel's next day) and REPAIRED are not open.
 */
async function refuseUnlessReconciled(tx: Tx, agencyCode: string, day: string): Promise<void> {
  const { start, end } = businessDayBounds(day);
  const channels = await tx.query<{ channel: string; reconciled: boolean }>(
    `SELECT c.channel, EXISTS (SELECT 1 FROM payment_reconciliation r
                               WHERE r.agency_code = $1 AND r.channel = c.channel AND r.business_day = $4) AS reconciled
       FROM (SELECT channel FROM channel_account WHERE agency_code = $1
             UNION SELECT channel FROM payment_order WHERE agency_code = $1 AND status = 'PAID' AND paid_at >= $2 AND paid_at < $3
             UNION SELECT channel FROM payment_refund WHERE agency_code = $1 AND status = 'REFUNDED' AND refunded_at >= $2 AND refunded_at < $3) c
      ORDER BY c.channel`,
    [agencyCode, start, end, day],
  );
  const missing = channels.filter((c) => !c.reconciled).map((c) => c.channel);
  if (missing.length > 0) {
    throw new AppError("conflict", `${day} is not reconciled yet with ${missing.join(", ")}`, {
      code: "CLEARING_NOT_RECONCILED",
    });
  }
  const [open] = await tx.query<{ n: string | number }>(
    "SELECT COUNT(*) AS n FROM payment_difference WHERE agency_code = $1 AND business_day = $2 AND resolution = 'OPEN'",
    [agencyCode, day],
  );
  if (Number(open?.n ?? 0) > 0) {
    throw new AppError("conflict", `${day} has ${Number(open?.n)} open reconciliation differences`, {
      code: "CLEARING_DIFFERENCES_OPEN",
    });
  }
}

/**
 * The day's money per income item: what payments paid on the day brought in (their lines, the
 * surcharge its own item) and what the payer's refunds paid back on the day took out (item by
 * item as the receipt's remainder runs: from the last line back). A duplicate payment's money
 * and its refund are neither: it came in and went out by its own route, and never was the notice's.
 */
async function takingsOf(
  tx: Tx,
  agencyCode: string,
  day: string,
): Promise<{ takings: ItemTakings[]; payments: number }> {
  const { start, end } = businessDayBounds(day);
  const paid = await tx.query<PaymentRow>(
    `SELECT * FROM payment WHERE agency_code = $1 AND paid_at >= $2 AND paid_at < $3
       AND status IN ('PAID', 'REFUNDING', 'REFUNDED')`,
    [agencyCode, start, end],
  );
  const collected = new Map<string, number>();
  const refunded = new Map<string, number>();
  const add = (m: Map<string, number>, item: string, fen: number) => m.set(item, (m.get(item) ?? 0) + fen);
  for (const p of paid) for (const l of linesOf(p)) add(collected, l.itemCode, l.amountFen);
  const refunds = await tx.query<PaymentRow & { before_fen: string | number; day_fen: string | number }>(
    `SELECT p.*, d.before_fen, d.day_fen FROM payment p JOIN (
        SELECT payment_id,
               SUM(CASE WHEN refunded_at < $2 THEN amount_fen ELSE 0 END) AS before_fen,
               SUM(CASE WHEN refunded_at >= $2 AND refunded_at < $3 THEN amount_fen ELSE 0 END) AS day_fen
          FROM payment_refund WHERE agency_code = $1 AND kind = 'REFUND' AND status = 'REFUNDED' AND refunded_at < $3
         GROUP BY payment_id) d ON d.payment_id = p.id
      WHERE d.day_fen > 0`,
    [agencyCode, start, end],
  );
  for (const p of refunds) {
    const lines = linesOf(p);
    const before = byItem(remainderAfterRefund(lines, Number(p.before_fen)));
    const after = byItem(remainderAfterRefund(lines, Number(p.before_fen) + Number(p.day_fen)));
    for (const [item, fen] of before) add(refunded, item, fen - (after.get(item) ?? 0));
  }
  const items = [...new Set([...collected.keys(), ...refunded.keys()])].sort();
  return {
    takings: items.map((itemCode) => ({
      itemCode,
      collectedFen: collected.get(itemCode) ?? 0,
      refundedFen: refunded.get(itemCode) ?? 0,
    })),
    payments: paid.length,
  };
}

/**
 * 资金清分: makes the day's clearing instructions of an agency, once. Refused while the day is not
 * reconciled with every channel or a difference is open (409), or while an item with money has no
 * rule (409 naming it). Each instruction is written PENDING in the same transaction as the batch,
 * its audit entry and `payment.ClearingInstructed`; the sender takes them from there. A second
 * call (or the background round racing an operator) finds the batch and returns it unchanged.
 */
export async function clearDay(
  ctx: PaymentContext,
  actor: string,
  input: { agencyCode: string; businessDay: string },
): Promise<{ created: boolean; batch: ClearingBatchView }> {
  const existing = await loadBatch(ctx, input.agencyCode, input.businessDay);
  if (existing) return { created: false, batch: existing };
  if (input.businessDay >= businessDay(ctx.clock())) {
    throw new AppError("conflict", `${input.businessDay} is not over yet`, { code: "CLEARING_DAY_NOT_OVER" });
  }
  const created = await ctx.inTransaction(async (tx, emit) => {
    await refuseUnlessReconciled(tx, input.agencyCode, input.businessDay);
    const { takings, payments } = await takingsOf(tx, input.agencyCode, input.businessDay);
    const ruleRows = await tx.query<{ item_code: string; shares: ClearingShare[] }>(
      "SELECT item_code, shares FROM clearing_rule WHERE agency_code = $1",
      [input.agencyCode],
    );
    const plan = planClearing(takings, new Map(ruleRows.map((r) => [r.item_code, r.shares])));
    if (!plan.ok) {
      throw new AppError("conflict", `no clearing rule for item(s) ${plan.itemsWithoutRule.join(", ")}`, {
        code: "CLEARING_RULE_MISSING",
      });
    }
    const accounts = new Map(
      (
        await tx.query<{ account_no: string; name: string; bank_name: string }>(
          "SELECT account_no, name, bank_name FROM clearing_account WHERE agency_code = $1",
          [input.agencyCode],
        )
      ).map((a) => [a.account_no, a]),
    );
    const now = ctx.clock();
    const batchId = randomUUID();
    const collectedFen = takings.reduce((s, t) => s + t.collectedFen, 0);
    const refundedFen = takings.reduce((s, t) => s + t.refundedFen, 0);
    const [inserted] = await tx.query<{ id: string }>(
      `INSERT INTO clearing_batch (id, agency_code, business_day, collected_fen, refunded_fen, payments, status, created_at, created_by)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (agency_code, business_day) DO NOTHING RETURNING id`,
      [
        batchId,
        input.agencyCode,
        input.businessDay,
        collectedFen,
        refundedFen,
        payments,
        plan.parts.length === 0 ? "SETTLED" : "INSTRUCTED",
        now,
        actor,
      ],
    );
    if (!inserted) return false; // made by a concurrent call: theirs stands
    const instructions = [];
    for (const part of plan.parts) {
      const account = accounts.get(part.accountNo);
      const instructionId = randomUUID();
      await tx.query(
        `INSERT INTO clearing_instruction (id, batch_id, agency_code, business_day, account_no, account_name, bank_name,
           collected_fen, refunded_fen, amount_fen, items, status, next_attempt_at, created_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::jsonb,'PENDING',$12,$12)`,
        [
          instructionId,
          batchId,
          input.agencyCode,
          input.businessDay,
          part.accountNo,
          account?.name ?? part.accountNo,
          account?.bank_name ?? "",
          part.collectedFen,
          part.refundedFen,
          part.amountFen,
          JSON.stringify(part.items),
          now,
        ],
      );
      instructions.push({
        instructionId,
        accountNo: part.accountNo,
        accountName: account?.name ?? part.accountNo,
        collectedFen: part.collectedFen,
        refundedFen: part.refundedFen,
        amountFen: part.amountFen,
      });
    }
    await audit(tx, now, actor, "payment.clear", `clearing:${input.agencyCode}:${input.businessDay}`, {
      batchId,
      collectedFen,
      refundedFen,
      instructions: instructions.map((i) => ({ accountNo: i.accountNo, amountFen: i.amountFen })),
    });
    emit(ClearingInstructed, {
      agencyCode: input.agencyCode,
      businessDay: input.businessDay,
      batchId,
      collectedFen,
      refundedFen,
      payments,
      instructions,
      instructedAt: now.toISOString(),
    });
    return true;
  });
  const batch = await loadBatch(ctx, input.agencyCode, input.businessDay);
  if (!batch) throw new Error(`clearing batch of ${input.businessDay} vanished`);
  return { created, batch };
}

/** How far back the background round looks for reconciled days not cleared yet. */
const LOOK_BACK_DAYS = 31;
/** A day refused (not ready, a rule missing) is tried again after this long, or once reconciled again. */
const RETRY_NOT_READY_MS = 60_000;
const lastTried = new WeakMap<PaymentContext, Map<string, { at: number; ranAt: number }>>();

/**
 * The background round's part: every (agency, day) reconciled in the last month and not cleared
 * is cleared as soon as it is ready. A day that is not is tried again when a reconciliation of it
 * runs again, or a minute later (a rule may have been set meanwhile).
 */
export async function clearReconciledDays(ctx: PaymentContext): Promise<number> {
  const now = ctx.clock();
  const candidates = await ctx.db.query<{ agency_code: string; business_day: string; ran_at: Date }>(
    `SELECT r.agency_code, r.business_day, MAX(r.ran_at) AS ran_at FROM payment_reconciliation r
      WHERE r.business_day >= $1 AND r.business_day < $2
        AND NOT EXISTS (SELECT 1 FROM clearing_batch b WHERE b.agency_code = r.agency_code AND b.business_day = r.business_day)
      GROUP BY r.agency_code, r.business_day ORDER BY r.business_day`,
    [addDays(businessDay(now), -LOOK_BACK_DAYS), businessDay(now)],
  );
  const tried = lastTried.get(ctx) ?? new Map();
  lastTried.set(ctx, tried);
  let made = 0;
  for (const c of candidates) {
    const key = `${c.agency_code}:${c.business_day}`;
    const last = tried.get(key);
    const ranAt = new Date(c.ran_at).getTime();
    if (last && last.ranAt === ranAt && now.getTime() - last.at < RETRY_NOT_READY_MS) continue;
    try {
      const { created } = await clearDay(ctx, "system:clearing", {
        agencyCode: c.agency_code,
        businessDay: String(c.business_day),
      });
      if (created) made++;
      tried.delete(key);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      tried.set(key, { at: now.getTime(), ranAt });
    }
  }
  return made;
}

export async function loadBatch(
  ctx: PaymentContext,
  agencyCode: string,
  day: string,
): Promise<ClearingBatchView | undefined> {
  const [b] = await ctx.db.query<Record<string, unknown>>(
    "SELECT * FROM clearing_batch WHERE agency_code = $1 AND business_day = $2",
    [agencyCode, day],
  );
  if (!b) return undefined;
  const rows = await ctx.db.query<Record<string, unknown>>(
    "SELECT * FROM clearing_instruction WHERE batch_id = $1 ORDER BY account_no",
    [b.id],
  );
  return {
    batchId: String(b.id),
    agencyCode,
    businessDay: day,
    status: String(b.status),
    collectedFen: Number(b.collected_fen),
    refundedFen: Number(b.refunded_fen),
    payments: Number(b.payments),
    createdAt: (b.created_at as Date).toISOString(),
    createdBy: String(b.created_by),
    instructions: rows.map((r) => ({
      instructionId: String(r.id),
      accountNo: String(r.account_no),
      accountName: String(r.account_name),
      bankName: String(r.bank_name),
      collectedFen: Number(r.collected_fen),
      refundedFen: Number(r.refunded_fen),
      amountFen: Number(r.amount_fen),
      items: r.items as ClearingBatchView["instructions"][number]["items"],
      status: String(r.status),
      attempts: Number(r.attempts),
      ...(r.last_error ? { lastError: String(r.last_error) } : {}),
      ...(r.note ? { note: String(r.note) } : {}),
      ...(r.sent_at ? { sentAt: (r.sent_at as Date).toISOString() } : {}),
      ...(r.settled_at ? { settledAt: (r.settled_at as Date).toISOString() } : {}),
      resends: Number(r.resends ?? 0),
      ...(r.resent_by
        ? {
            resentBy: String(r.resent_by),
            resentAt: (r.resent_at as Date).toISOString(),
            resendNote: String(r.resend_note),
          }
        : {}),
    })),
  };
}
