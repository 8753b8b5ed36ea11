import { randomUUID } from "node:crypto";
import type { PaymentContext } from "./context.ts";
import { reconcileDay } from "./reconcile.ts";
import { RECEIPT_LEG, reconcileReceipts } from "./reconcile-receipts.ts";

export interface DayEndPolicy {
  /** Minutes after Asia/Shanghai midnight the previous day is reconciled (channels publish statements hours later). */
  atMinutes: number;
  /** First delay before a step that failed (statement not ready, channel silent) is tried again; doubles up to 1 h. */
  retryMs: number;
  /** Tries of one step before it is FAILED (for a person; a rerun by the API still works). */
  maxAttempts: number;
  /** How long a payment or refund may wait for its receipt before the three-way match reports it. */
  receiptGraceMs: number;
  /** How long a replica holds a step it claimed: one that crashed mid-step is taken up again after it. */
  leaseMs: number;
}

export const DAY_END_ACTOR = "system:day-end";
const SHANGHAI_MS = 8 * 3_600_000;
const shanghaiDay = (at: Date) => new Date(at.getTime() + SHANGHAI_MS).toISOString().slice(0, 10);

/** The business day whose day-end is due at `now`, if any: the previous Shanghai day, once past midnight + atMinutes. */
export function dueBusinessDay(now: Date, atMinutes: number): string | undefined {
  const today = shanghaiDay(now);
  const due = new Date(`${today}T00:00:00+08:00`).getTime() + atMinutes * 60_000;
  if (now.getTime() < due) return undefined;
  return shanghaiDay(new Date(now.getTime() - 86_400_000));
}

interface TaskRow {
  business_day: string;
  agency_code: string;
  leg: string;
  attempts: number;
}

/** This process, as a claimant of day-end steps. */
const replica = `payment-${randomUUID().slice(0, 8)}`;

/**
 * 日终 (scheduled day-end), called by every background round: once the previous day is due, the
 * first replica plans it (one row per business day, so a day is planned once whatever the number
 * of replicas): one step per agency × enabled channel (its statement matched, `reconcileDay`)
 * and one per agency for the three-way match (`reconcileReceipts`), which waits for the
 * agency's channel steps (their repairs complete payments whose receipts follow). Each step is
 * claimed with a lease (one replica at a time; a crashed one's step is taken again when its lease
 * ends), retried with backoff while its statement is not ready, and FAILED after the last try.
 * Driven by the context's clock. Returns the steps done in this call.
 */
export async function runDayEnd(ctx: PaymentContext, policy: DayEndPolicy): Promise<number> {
  const now = ctx.clock();
  const day = dueBusinessDay(now, policy.atMinutes);
  if (day) await plan(ctx, day, now);
  let done = 0;
  for (;;) {
    const task = await claim(ctx, policy);
    if (!task) return done;
    await runStep(ctx, policy, task);
    done++;
  }
}

async function plan(ctx: PaymentContext, day: string, now: Date): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const planned = await tx.query(
      `INSERT INTO payment_dayend (business_day, planned_at, planned_by) VALUES ($1, $2, $3)
         ON CONFLICT (business_day) DO NOTHING RETURNING business_day`,
      [day, now, replica],
    );
    if (planned.length === 0) return;
    const accounts = await tx.query<{ agency_code: string; channel: string }>(
      "SELECT agency_code, channel FROM channel_account ORDER BY agency_code, channel",
    );
    const legs = accounts.filter((a) => ctx.channels.has(a.channel)).map((a) => [a.agency_code, a.channel]);
    for (const agency of new Set(accounts.map((a) => a.agency_code))) legs.push([agency, RECEIPT_LEG]);
    for (const [agency, leg] of legs) {
      await tx.query(
        `INSERT INTO payment_dayend_task (business_day, agency_code, leg, status, attempts, next_at)
           VALUES ($1, $2, $3, 'PENDING', 0, $4) ON CONFLICT DO NOTHING`,
        [day, agency, leg, now],
      );
    }
  });
}

/** The next due step, leased to this replica; a receipt step only once its agency's channel steps are done. */
async function claim(ctx: PaymentContext, policy: DayEndPolicy): Promise<TaskRow | undefined> {
  const now = ctx.clock();
  const [task] = await ctx.db.query<TaskRow>(
    `UPDATE payment_dayend_task t SET lease_until = $2, claimed_by = $3, attempts = t.attempts + 1
      WHERE (t.business_day, t.agency_code, t.leg) = (
        SELECT c.business_day, c.agency_code, c.leg FROM payment_dayend_task c
         WHERE c.status = 'PENDING' AND c.next_at <= $1 AND (c.lease_until IS NULL OR c.lease_until <= $1)
           AND (c.leg <> $4 OR NOT EXISTS (
             SELECT 1 FROM payment_dayend_task o WHERE o.business_day = c.business_day
                AND o.agency_code = c.agency_code AND o.leg <> $4 AND o.status = 'PENDING'))
         ORDER BY c.business_day, c.agency_code, (c.leg = $4), c.leg LIMIT 1 FOR UPDATE SKIP LOCKED)
        AND (t.lease_until IS NULL OR t.lease_until <= $1)
      RETURNING t.business_day, t.agency_code, t.leg, t.attempts`,
    [now, new Date(now.getTime() + policy.leaseMs), replica, RECEIPT_LEG],
  );
  return task;
}

async function runStep(ctx: PaymentContext, policy: DayEndPolicy, task: TaskRow): Promise<void> {
  const key = [task.business_day, task.agency_code, task.leg];
  try {
    if (task.leg === RECEIPT_LEG) {
      const result = await reconcileReceipts(ctx, DAY_END_ACTOR, {
        agencyCode: task.agency_code,
        businessDay: task.business_day,
        graceMs: policy.receiptGraceMs,
      });
      if (result.lookAgainAt) {
        // Receipts still within their grace period: the same step again once it ends (not a try).
        await ctx.db.query(
          `UPDATE payment_dayend_task SET next_at = $4, lease_until = NULL, attempts = attempts - 1
             WHERE business_day = $1 AND agency_code = $2 AND leg = $3`,
          [...key, result.lookAgainAt],
        );
        return;
      }
    } else {
      await reconcileDay(ctx, DAY_END_ACTOR, {
        agencyCode: task.agency_code,
        channel: task.leg,
        businessDay: task.business_day,
      });
    }
    await ctx.db.query(
      `UPDATE payment_dayend_task SET status = 'DONE', done_at = $4, lease_until = NULL, last_error = NULL
         WHERE business_day = $1 AND agency_code = $2 AND leg = $3`,
      [...key, ctx.clock()],
    );
  } catch (error) {
    // Most often the statement is not published yet: asked again later, backing off.
    const now = ctx.clock();
    const delay = Math.min(policy.retryMs * 2 ** Math.max(0, task.attempts - 1), 3_600_000);
    const failed = task.attempts >= policy.maxAttempts;
    await ctx.db.query(
      `UPDATE payment_dayend_task SET status = $4, next_at = $5, lease_until = NULL, last_error = $6
         WHERE business_day = $1 AND agency_code = $2 AND leg = $3`,
      [
        ...key,
        failed ? "FAILED" : "PENDING",
        new Date(now.getTime() + delay),
        (error instanceof Error ? error.message : String(error)).slice(0, 500),
      ],
    );
  }
}

/** The day-end's steps for a day (operators: what ran, what waits, what failed). */
export async function dayEndSteps(ctx: PaymentContext, businessDay: string, agencyCode?: string) {
  const rows = await ctx.db.query<{
    agency_code: string;
    leg: string;
    status: string;
    attempts: number;
    next_at: Date;
    last_error: string | null;
    done_at: Date | null;
  }>(
    `SELECT agency_code, leg, status, attempts, next_at, last_error, done_at FROM payment_dayend_task
      WHERE business_day = $1 AND ($2::text IS NULL OR agency_code = $2) ORDER BY agency_code, leg`,
    [businessDay, agencyCode ?? null],
  );
  return rows.map((r) => ({
    agencyCode: r.agency_code,
    leg: r.leg,
    status: r.status,
    attempts: r.attempts,
    nextAt: r.next_at.toISOString(),
    lastError: r.last_error ?? undefined,
    doneAt: r.done_at?.toISOString(),
  }));
}
