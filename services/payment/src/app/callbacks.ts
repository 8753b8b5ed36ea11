import { randomUUID } from "node:crypto";
import { signCallback } from "@piaoju/business-client";
import { AppError } from "@piaoju/runtime";
import { audit, type PaymentContext, sealJson, type Tx, unsealJson } from "./context.ts";
import type { PaymentRow } from "./rows.ts";

export type CallbackEvent =
  | "payment.paid"
  | "payment.receiptIssued"
  | "payment.closed"
  | "payment.refunded"
  | "payment.refundRejected"
  | "payment.cleared";

export interface CallbackPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
}

/** The app (business system) a payment was asked for by: its callbacks go to that app's target. */
export function appOf(requestedBy: string): string {
  return requestedBy.startsWith("app:") ? requestedBy.slice(4) : requestedBy;
}

/** Records a result to push, once per payment and event, in the transaction of the change. */
export async function enqueueCallback(
  tx: Tx,
  payment: PaymentRow,
  event: CallbackEvent,
  now: Date,
  detail: Record<string, unknown>,
  /** Once per payment and key (the event's name unless a payment has several, as refunds do). */
  key: string = event,
): Promise<void> {
  const body = {
    event,
    paymentId: payment.id,
    agencyCode: payment.agency_code,
    bizSerialNo: payment.biz_serial_no,
    ...detail,
  };
  await tx.query(
    `INSERT INTO callback (id, payment_id, agency_code, app_id, event, body, status, next_attempt_at, created_at)
     VALUES ($1,$2,$3,$4,$5,$6::jsonb,'PENDING',$7,$7) ON CONFLICT (payment_id, event) DO NOTHING`,
    [
      randomUUID(),
      payment.id,
      payment.agency_code,
      appOf(payment.requested_by),
      key,
      JSON.stringify(body),
      now,
    ],
  );
}

/** A business system says where its results go and with which secret they are signed. */
export async function setCallbackTarget(
  ctx: PaymentContext,
  actor: string,
  input: { agencyCode: string; appId: string; url: string; secret: string },
): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock();
    await tx.query(
      `INSERT INTO callback_target (agency_code, app_id, url, secret_sealed, updated_at, updated_by)
       VALUES ($1,$2,$3,$4,$5,$6)
       ON CONFLICT (agency_code, app_id) DO UPDATE SET url = $3, secret_sealed = $4, updated_at = $5, updated_by = $6`,
      [input.agencyCode, input.appId, input.url, sealJson(ctx, input.secret), now, actor],
    );
    await audit(tx, now, actor, "callback-target.set", `callback-target:${input.agencyCode}:${input.appId}`, {
      url: input.url,
    });
  });
}

/** Pushes a payment's parked or failed results again (重推), from the start of the retry schedule. */
export async function rePushCallbacks(
  ctx: PaymentContext,
  actor: string,
  paymentId: string,
): Promise<number> {
  return ctx.db.transaction(async (tx) => {
    const now = ctx.clock();
    const rows = await tx.query(
      `UPDATE callback SET status = 'PENDING', attempts = 0, next_attempt_at = $2
       WHERE payment_id = $1 AND status IN ('PARKED', 'SENT') RETURNING id`,
      [paymentId, now],
    );
    if (rows.length === 0) {
      throw new AppError("not_found", `payment ${paymentId} has no result to push again`, {
        code: "NO_CALLBACKS",
      });
    }
    await audit(tx, now, actor, "callback.re-push", `payment:${paymentId}`, { callbacks: rows.length });
    return rows.length;
  });
}

interface DueCallback {
  id: string;
  agency_code: string;
  app_id: string;
  body: unknown;
  attempts: number;
}

/**
 * One round of the callback sender: claims due callbacks (SKIP LOCKED, so replicas share the
 * work), pushes each signed (X-Piaoju-Delivery is the callback's id on every try: the receiver
 * drops duplicates by it), and backs off exponentially; after the last try a callback is parked
 * for a person's re-push. Returns how many it sent.
 */
export async function sendDueCallbacks(ctx: PaymentContext, policy: CallbackPolicy): Promise<number> {
  const now = ctx.clock();
  const due = await ctx.db.query<DueCallback>(
    `UPDATE callback SET next_attempt_at = $2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM callback WHERE status = 'PENDING' AND next_attempt_at <= $1
                  ORDER BY next_attempt_at LIMIT 20 FOR UPDATE SKIP LOCKED)
     RETURNING id, agency_code, app_id, body, attempts`,
    [now, new Date(now.getTime() + policy.timeoutMs * 2)],
  );
  let sent = 0;
  for (const cb of due) {
    const [target] = await ctx.db.query<{ url: string; secret_sealed: Uint8Array }>(
      "SELECT url, secret_sealed FROM callback_target WHERE agency_code = $1 AND app_id = $2",
      [cb.agency_code, cb.app_id],
    );
    let error: string | undefined;
    if (!target) error = "no callback target for the app";
    else {
      try {
        const body = Buffer.from(JSON.stringify(cb.body));
        const timestamp = String(Date.now());
        const res = await fetch(target.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-piaoju-timestamp": timestamp,
            "x-piaoju-delivery": cb.id,
            "x-piaoju-signature": signCallback(
              unsealJson<string>(ctx, target.secret_sealed),
              timestamp,
              cb.id,
              body,
            ),
          },
          body,
          signal: AbortSignal.timeout(policy.timeoutMs),
        });
        if (!res.ok) error = `answered ${res.status}`;
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
    }
    const at = ctx.clock();
    if (!error) {
      await ctx.db.query(
        "UPDATE callback SET status = 'SENT', sent_at = $2, last_error = NULL WHERE id = $1",
        [cb.id, at],
      );
      sent++;
    } else if (cb.attempts >= policy.maxAttempts) {
      await ctx.db.query("UPDATE callback SET status = 'PARKED', last_error = $2 WHERE id = $1", [
        cb.id,
        error,
      ]);
    } else {
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (cb.attempts - 1));
      await ctx.db.query("UPDATE callback SET next_attempt_at = $2, last_error = $3 WHERE id = $1", [
        cb.id,
        new Date(at.getTime() + delay),
        error,
      ]);
    }
  }
  return sent;
}
