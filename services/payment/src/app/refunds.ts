import { randomUUID } from "node:crypto";
import { type Emit, RefundCompleted, RefundRejected, RefundRequested } from "@piaoju/contracts";
import { businessDay } from "@piaoju/locale";
import { AppError } from "@piaoju/runtime";
import { ChannelRefusedError, ChannelUnavailableError, type RefundOutcome } from "../adapters/channel.ts";
import type { RefundDecision } from "../adapters/nontax.ts";
import { remainderAfterRefund } from "../domain/refund.ts";
import { enqueueCallback } from "./callbacks.ts";
import { audit, channelAccount, type PaymentContext, type Tx } from "./context.ts";
import { lockPayment, type OrderRow, type PaymentRow } from "./rows.ts";

export type RefundStatus =
  | "APPLYING"
  | "AWAITING_APPROVAL"
  | "APPROVED"
  | "SENT"
  | "REFUNDED"
  | "REJECTED"
  | "FAILED";

export interface RefundRow {
  id: string;
  payment_id: string;
  agency_code: string;
  order_id: string;
  channel: string;
  channel_trade_no: string;
  kind: "REFUND" | "DUPLICATE";
  refund_serial_no: string;
  amount_fen: string | number;
  reason: string;
  status: RefundStatus;
  refunded_at: Date | null;
  reported_at: Date | null;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  requested_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface RefundView {
  refundId: string;
  paymentId: string;
  refundSerialNo: string;
  kind: "REFUND" | "DUPLICATE";
  amountFen: number;
  reason: string;
  status: RefundStatus;
  channel: string;
  channelTradeNo: string;
  refundedAt?: string;
  reportedToNontax: boolean;
  lastError?: string;
  createdAt: string;
}

export const refundView = (r: RefundRow): RefundView => ({
  refundId: r.id,
  paymentId: r.payment_id,
  refundSerialNo: r.refund_serial_no,
  kind: r.kind,
  amountFen: Number(r.amount_fen),
  reason: r.reason,
  status: r.status,
  channel: r.channel,
  channelTradeNo: r.channel_trade_no,
  ...(r.refunded_at ? { refundedAt: new Date(r.refunded_at).toISOString() } : {}),
  reportedToNontax: r.reported_at !== null,
  ...(r.last_error ? { lastError: r.last_error } : {}),
  createdAt: new Date(r.created_at).toISOString(),
});

const core = (p: PaymentRow, r: RefundRow) => ({
  paymentId: p.id,
  agencyCode: p.agency_code,
  bizSerialNo: p.biz_serial_no,
  refundId: r.id,
  refundSerialNo: r.refund_serial_no,
  kind: r.kind,
  orderId: r.order_id,
  channel: r.channel,
  channelTradeNo: r.channel_trade_no,
  amountFen: Number(r.amount_fen),
});

/**
 * Records a refund to make, reserving its amount on the order in the same statement: the
 * order's refunded_fen may never pass what the channel took (a CHECK in the database), so two
 * refunds racing for the last fen cannot both be recorded. The refunder does the rest.
 */
export async function insertRefund(
  tx: Tx,
  emit: Emit,
  now: Date,
  payment: PaymentRow,
  order: { id: string; channel: string; channel_trade_no: string },
  r: {
    kind: "REFUND" | "DUPLICATE";
    refundSerialNo: string;
    amountFen: number;
    reason: string;
    actor: string;
  },
): Promise<RefundRow> {
  const reserved = await tx.query(
    `UPDATE payment_order SET refunded_fen = refunded_fen + $2
     WHERE id = $1 AND refunded_fen + $2 <= COALESCE(taken_fen, 0) RETURNING id`,
    [order.id, r.amountFen],
  );
  if (reserved.length !== 1) {
    throw new AppError("conflict", `a refund of ${r.amountFen} fen would exceed what was paid`, {
      code: "REFUND_EXCEEDS_PAID",
    });
  }
  const [row] = await tx.query<RefundRow>(
    `INSERT INTO payment_refund (id, payment_id, agency_code, order_id, channel, channel_trade_no, kind,
       refund_serial_no, amount_fen, reason, status, next_attempt_at, requested_by, created_at, updated_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'APPLYING',$11,$12,$11,$11) RETURNING *`,
    [
      randomUUID(),
      payment.id,
      payment.agency_code,
      order.id,
      order.channel,
      order.channel_trade_no,
      r.kind,
      r.refundSerialNo,
      r.amountFen,
      r.reason,
      now,
      r.actor,
    ],
  );
  const refund = row as RefundRow;
  await audit(tx, now, r.actor, "payment.refund.request", `payment:${payment.id}`, {
    refundId: refund.id,
    kind: r.kind,
    amountFen: r.amountFen,
    reason: r.reason,
  });
  emit(RefundRequested, { ...core(payment, refund), reason: r.reason, requestedAt: now.toISOString() });
  return refund;
}

/**
 * A refund by the original route asked by the business system (退款申请): full or partial, of
 * a paid payment, never more than is left. Idempotent by (payment, refund serial): the same
 * request returns the same refund; another under the serial is refused.
 */
export async function requestRefund(
  ctx: PaymentContext,
  actor: string,
  paymentId: string,
  input: { refundSerialNo: string; amountFen: number; reason: string },
): Promise<{ created: boolean; refund: RefundView }> {
  const result = await ctx.inTransaction(async (tx, emit) => {
    const payment = await lockPayment(tx, paymentId);
    if (!payment) throw new AppError("not_found", `no payment ${paymentId}`, { code: "PAYMENT_NOT_FOUND" });
    const [existing] = await tx.query<RefundRow>(
      "SELECT * FROM payment_refund WHERE payment_id = $1 AND refund_serial_no = $2",
      [paymentId, input.refundSerialNo],
    );
    if (existing) {
      if (Number(existing.amount_fen) !== input.amountFen || existing.reason !== input.reason) {
        throw new AppError("conflict", `refund serial ${input.refundSerialNo} was used for another refund`, {
          code: "REFUND_SERIAL_REUSED",
        });
      }
      return { created: false, refund: existing };
    }
    if (payment.status === "REFUNDED") {
      throw new AppError("conflict", `payment ${paymentId} is refunded in full already`, {
        code: "ALREADY_REFUNDED",
      });
    }
    if ((payment.status !== "PAID" && payment.status !== "REFUNDING") || !payment.paid_order_id) {
      throw new AppError("conflict", `payment ${paymentId} is ${payment.status.toLowerCase()}, not paid`, {
        code: "NOT_PAID",
      });
    }
    const [order] = await tx.query<OrderRow>("SELECT * FROM payment_order WHERE id = $1 FOR UPDATE", [
      payment.paid_order_id,
    ]);
    if (!order?.channel_trade_no) throw new Error(`paid order of ${paymentId} has no trade number`);
    const now = ctx.clock();
    const refund = await insertRefund(
      tx,
      emit,
      now,
      payment,
      { id: order.id, channel: order.channel, channel_trade_no: order.channel_trade_no },
      { kind: "REFUND", ...input, actor },
    );
    await tx.query("UPDATE payment SET status = 'REFUNDING', updated_at = $2 WHERE id = $1", [
      paymentId,
      now,
    ]);
    return { created: true, refund };
  });
  return { created: result.created, refund: refundView(result.refund) };
}

/**
 * 重复缴款自动退付: money a second order took for a payment (paid twice, paid after the close, an
 * amount not the order's) is sent back by its own route, in the transaction that found it.
 */
export async function refundAnomaly(
  tx: Tx,
  emit: Emit,
  now: Date,
  payment: PaymentRow,
  order: { id: string; channel: string },
  channelTradeNo: string,
  amountFen: number,
  kind: string,
): Promise<void> {
  if (amountFen <= 0) return;
  const [already] = await tx.query(
    "SELECT 1 FROM payment_refund WHERE order_id = $1 AND kind = 'DUPLICATE'",
    [order.id],
  );
  if (already) return;
  await insertRefund(
    tx,
    emit,
    now,
    payment,
    { id: order.id, channel: order.channel, channel_trade_no: channelTradeNo },
    {
      kind: "DUPLICATE",
      refundSerialNo: `DUP-${order.id}`,
      amountFen,
      reason: kind === "DUPLICATE_PAYMENT" ? "重复缴款退付" : "异常缴款退付",
      actor: "system:payment",
    },
  );
}

const MAX_GAP_MS = 10 * 60_000;

/**
 * One round of the refunder (退付): claims due refunds (SKIP LOCKED: replicas share them) and
 * moves each as far as it goes now. Every step is its own committed state, so a crash between
 * any two leaves a refund the next round picks up where it stopped:
 *
 *   APPLYING ─non-tax takes it─▶ AWAITING_APPROVAL ─approved─▶ APPROVED ─▶ SENT ─channel─▶ REFUNDED
 *                                           └──rejected──▶ REJECTED     (channel refuses: FAILED)
 *
 * SENT is written before the channel is asked; a SENT refund is first looked up at the channel
 * (Alipay's refund query) and only asked again, under the same out_request_no, if the channel
 * does not have it: the channel pays it once whatever happens to our side.
 */
export async function processDueRefunds(
  ctx: PaymentContext,
  baseDelayMs: number,
  limit = 20,
): Promise<number> {
  const now = ctx.clock();
  const due = await ctx.db.query<RefundRow>(
    `UPDATE payment_refund SET attempts = attempts + 1,
       next_attempt_at = $1::timestamptz + LEAST($3::bigint * power(2, LEAST(attempts, 20))::bigint, $4::bigint) * interval '1 millisecond'
     WHERE id IN (SELECT id FROM payment_refund
                  WHERE (status IN ('APPLYING','AWAITING_APPROVAL','APPROVED','SENT')
                         OR (status = 'REFUNDED' AND reported_at IS NULL AND $5))
                    AND next_attempt_at <= $1
                  ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    [now, limit, baseDelayMs, MAX_GAP_MS, ctx.noticeIssuer !== undefined],
  );
  let moved = 0;
  for (const claimed of due) {
    try {
      let refund: RefundRow | undefined = claimed;
      // Each step returns the refund as it now is, or undefined when it must wait.
      for (let step = 0; refund && step < 6; step++) {
        const next: RefundRow | undefined = await advance(ctx, refund);
        if (next && next.status !== refund.status) moved++;
        if (!next || (next.status === refund.status && next.reported_at === refund.reported_at)) break;
        refund = next;
      }
    } catch (error) {
      if (!(error instanceof AppError) && !(error instanceof ChannelUnavailableError)) throw error;
      await ctx.db.query("UPDATE payment_refund SET last_error = $2 WHERE id = $1", [
        claimed.id,
        String((error as Error).message).slice(0, 500),
      ]);
    }
  }
  return moved;
}

async function paymentCodeOf(ctx: PaymentContext, paymentId: string): Promise<string> {
  const [p] = await ctx.db.query<{ payment_code: string }>("SELECT payment_code FROM payment WHERE id = $1", [
    paymentId,
  ]);
  return p?.payment_code ?? "";
}

async function advance(ctx: PaymentContext, r: RefundRow): Promise<RefundRow | undefined> {
  const issuer = ctx.noticeIssuer;
  switch (r.status) {
    case "APPLYING": {
      // The non-tax system refunds only what it knows was paid: the payment's result goes first.
      if (issuer && r.kind === "REFUND") {
        const [report] = await ctx.db.query<{ status: string }>(
          "SELECT status FROM nontax_report WHERE payment_id = $1",
          [r.payment_id],
        );
        if (report && report.status !== "SENT") return undefined;
      }
      const decision: RefundDecision = issuer
        ? await issuer.applyRefund(r.agency_code, await paymentCodeOf(ctx, r.payment_id), {
            refundId: r.id,
            kind: r.kind,
            channel: r.channel,
            channelTradeNo: r.channel_trade_no,
            amountFen: Number(r.amount_fen),
            reason: r.reason,
          })
        : // No non-tax system (development): nobody else approves.
          { status: "APPROVED" };
      return decide(ctx, r, decision);
    }
    case "AWAITING_APPROVAL":
      if (!issuer) return decide(ctx, r, { status: "APPROVED" });
      return decide(ctx, r, await issuer.refundDecision(r.agency_code, r.id));
    case "APPROVED": {
      // Written before the channel hears of it: from here on, ask the channel before asking again.
      const [sent] = await ctx.db.query<RefundRow>(
        "UPDATE payment_refund SET status = 'SENT', updated_at = $2 WHERE id = $1 AND status = 'APPROVED' RETURNING *",
        [r.id, ctx.clock()],
      );
      if (!sent) return undefined;
      return sendToChannel(ctx, sent, false);
    }
    case "SENT":
      return sendToChannel(ctx, r, true);
    case "REFUNDED": {
      if (!issuer || r.reported_at || !r.refunded_at) return undefined;
      const answer = await issuer.reportRefunded(r.agency_code, r.id, {
        channelRefundNo: r.channel_trade_no,
        refundedAt: new Date(r.refunded_at).toISOString(),
      });
      const [reported] = await ctx.db.query<RefundRow>(
        "UPDATE payment_refund SET reported_at = $2, last_error = $3 WHERE id = $1 RETURNING *",
        [r.id, ctx.clock(), answer === "taken" ? null : "the non-tax system refused the refund result"],
      );
      return reported;
    }
    default:
      return undefined;
  }
}

async function decide(ctx: PaymentContext, r: RefundRow, d: RefundDecision): Promise<RefundRow | undefined> {
  if (d.status === "REJECTED") return rejectRefund(ctx, r, "nontax", d.note);
  const status = d.status === "APPROVED" ? "APPROVED" : "AWAITING_APPROVAL";
  if (status === r.status) return undefined;
  const [row] = await ctx.db.query<RefundRow>(
    "UPDATE payment_refund SET status = $3, updated_at = $4, last_error = NULL WHERE id = $1 AND status = $2 RETURNING *",
    [r.id, r.status, status, ctx.clock()],
  );
  // Approved: to the channel at once; awaiting: the next round asks again.
  if (row && status === "AWAITING_APPROVAL") return undefined;
  return row;
}

async function sendToChannel(
  ctx: PaymentContext,
  r: RefundRow,
  askFirst: boolean,
): Promise<RefundRow | undefined> {
  const channel = ctx.channels.get(r.channel);
  const account = await channelAccount(ctx, ctx.db, r.agency_code, r.channel);
  if (!channel || !account) return undefined;
  // UnionPay names a refund by its orderId and txnTime: the refund's creation, on every retry and query.
  const request = { orderId: r.order_id, refundId: r.id, requestedAt: new Date(r.created_at) };
  let outcome: RefundOutcome = { kind: "none" };
  if (askFirst) {
    try {
      outcome = await channel.queryRefund(account, request);
    } catch (error) {
      // The channel says it closed the refund (WeChat Pay's CLOSED): nothing was paid back.
      if (error instanceof ChannelRefusedError) return rejectRefund(ctx, r, "channel", error.message);
      throw error;
    }
  }
  if (outcome.kind === "none") {
    const [order] = await ctx.db.query<{ taken_fen: string | number | null; amount_fen: string | number }>(
      "SELECT taken_fen, amount_fen FROM payment_order WHERE id = $1",
      [r.order_id],
    );
    try {
      outcome = await channel.refund(account, {
        ...request,
        amountFen: Number(r.amount_fen),
        paidFen: Number(order?.taken_fen ?? order?.amount_fen ?? r.amount_fen),
        reason: r.reason,
        channelTradeNo: r.channel_trade_no,
        // WeChat Pay's notify names its merchant only inside the ciphertext: the URL names it.
        notifyUrl: `${ctx.publicUrl()}/v1/payment/notify/${r.channel}${
          channel.notifyPerAccount ? `/${encodeURIComponent(account.accountId)}` : ""
        }`,
      });
    } catch (error) {
      if (error instanceof ChannelRefusedError) return rejectRefund(ctx, r, "channel", error.message);
      // Sent, and no answer: the channel may have made it (settled by query later; day-end reports it).
      if (error instanceof ChannelUnavailableError)
        await ctx.db.query("UPDATE payment_refund SET answer_lost = true WHERE id = $1", [r.id]);
      throw error;
    }
  }
  // Closed at the channel (WeChat Pay's CLOSED): nothing was paid back.
  if (outcome.kind === "closed")
    return rejectRefund(ctx, r, "channel", "退款关闭 (the channel closed the refund)");
  if (outcome.kind !== "refunded") return undefined;
  return finishRefund(ctx, r, outcome);
}

/**
 * A refund the channel made whose answer never came here (still SENT): asked once now and, if the
 * channel made it, finished as its answer would have (day-end reconciliation's repair).
 */
export async function settleRefundByQuery(
  ctx: PaymentContext,
  refundId: string,
): Promise<RefundRow | undefined> {
  const [r] = await ctx.db.query<RefundRow>(
    "SELECT * FROM payment_refund WHERE id = $1 AND status = 'SENT'",
    [refundId],
  );
  const channel = r && ctx.channels.get(r.channel);
  const account = r && (await channelAccount(ctx, ctx.db, r.agency_code, r.channel));
  if (!r || !channel || !account) return undefined;
  const outcome = await channel.queryRefund(account, { orderId: r.order_id, refundId: r.id });
  if (outcome.kind !== "refunded") return undefined;
  return finishRefund(ctx, r, outcome);
}

/**
 * The channel paid it back: the payment's books, the events, the caller told, in one transaction.
 * Only a refund still SENT is finished (the payment locked first), so the refunder's query, a
 * refund notify and day-end's repair, whichever comes second, finish nothing: never twice.
 */
export async function finishRefund(
  ctx: PaymentContext,
  r: RefundRow,
  outcome: Extract<RefundOutcome, { kind: "refunded" }>,
): Promise<RefundRow | undefined> {
  return ctx.inTransaction(async (tx, emit) => {
    const payment = await lockPayment(tx, r.payment_id);
    const [row] = await tx.query<RefundRow>(
      `UPDATE payment_refund SET status = 'REFUNDED', refunded_at = $2, updated_at = $3, last_error = NULL,
         next_attempt_at = $3 WHERE id = $1 AND status = 'SENT' RETURNING *`,
      [r.id, outcome.refundedAt, ctx.clock()],
    );
    if (!payment || !row) return undefined;
    const now = ctx.clock();
    const amountFen = Number(row.amount_fen);
    const paidFen = Number(payment.paid_fen ?? 0);
    let remainingFen = paidFen - Number(payment.refunded_fen ?? 0);
    if (row.kind === "REFUND") {
      remainingFen -= amountFen;
      await tx.query(
        `UPDATE payment SET refunded_fen = refunded_fen + $2, updated_at = $3,
           status = CASE WHEN EXISTS (SELECT 1 FROM payment_refund WHERE payment_id = $1 AND kind = 'REFUND'
                                        AND status IN ('APPLYING','AWAITING_APPROVAL','APPROVED','SENT'))
                         THEN 'REFUNDING'
                         WHEN refunded_fen + $2 >= paid_fen THEN 'REFUNDED' ELSE 'PAID' END
         WHERE id = $1`,
        [payment.id, amountFen, now],
      );
    }
    await audit(tx, now, `channel:${row.channel}`, "payment.refund.complete", `payment:${payment.id}`, {
      refundId: row.id,
      amountFen,
    });
    const refundedAt = outcome.refundedAt.toISOString();
    const [count] = await tx.query<{ n: string | number }>(
      "SELECT count(*) AS n FROM payment_refund WHERE payment_id = $1 AND kind = $2 AND status = 'REFUNDED'",
      [payment.id, row.kind],
    );
    emit(RefundCompleted, {
      sequence: Number(count?.n ?? 1),
      ...core(payment, row),
      refundedAt,
      businessDay: businessDay(outcome.refundedAt),
      paidFen,
      remainingFen,
      remainder:
        row.kind === "REFUND" ? remainderAfterRefund(receiptLines(payment), paidFen - remainingFen) : [],
    });
    await enqueueCallback(
      tx,
      payment,
      "payment.refunded",
      now,
      {
        refundId: row.id,
        refundSerialNo: row.refund_serial_no,
        kind: row.kind,
        amountFen,
        remainingFen,
        channel: row.channel,
        channelTradeNo: row.channel_trade_no,
        refundedAt,
      },
      `payment.refunded:${row.id}`,
    );
    return row;
  });
}

/** The lines the receipt was issued with: the request's, and the surcharge as its own line. */
function receiptLines(p: PaymentRow) {
  const surchargeFen = Number(p.surcharge_fen ?? 0);
  return [
    ...p.items,
    ...(surchargeFen > 0 && p.surcharge_item_code
      ? [{ itemCode: p.surcharge_item_code, quantity: "1", amountFen: surchargeFen }]
      : []),
  ];
}

/** Nothing moved: the reserved amount goes back to the order, the payment to PAID. */
export async function rejectRefund(
  ctx: PaymentContext,
  r: RefundRow,
  by: "nontax" | "channel",
  note: string,
): Promise<RefundRow | undefined> {
  return ctx.inTransaction(async (tx, emit) => {
    const payment = await lockPayment(tx, r.payment_id);
    const status = by === "nontax" ? "REJECTED" : "FAILED";
    const [row] = await tx.query<RefundRow>(
      `UPDATE payment_refund SET status = $3, last_error = $4, updated_at = $5 WHERE id = $1 AND status = $2 RETURNING *`,
      [r.id, r.status, status, note.slice(0, 500), ctx.clock()],
    );
    if (!payment || !row) return undefined;
    const now = ctx.clock();
    await tx.query("UPDATE payment_order SET refunded_fen = refunded_fen - $2 WHERE id = $1", [
      row.order_id,
      Number(row.amount_fen),
    ]);
    if (row.kind === "REFUND") {
      await tx.query(
        `UPDATE payment SET updated_at = $2, status = CASE
           WHEN EXISTS (SELECT 1 FROM payment_refund WHERE payment_id = $1 AND kind = 'REFUND'
                          AND status IN ('APPLYING','AWAITING_APPROVAL','APPROVED','SENT')) THEN 'REFUNDING'
           WHEN refunded_fen >= paid_fen THEN 'REFUNDED' ELSE 'PAID' END
         WHERE id = $1 AND status = 'REFUNDING'`,
        [payment.id, now],
      );
    }
    await audit(
      tx,
      now,
      by === "nontax" ? "nontax" : `channel:${row.channel}`,
      "payment.refund.reject",
      `payment:${payment.id}`,
      {
        refundId: row.id,
        note,
      },
    );
    emit(RefundRejected, {
      ...core(payment, row),
      by,
      note: note.slice(0, 500) || by,
      rejectedAt: now.toISOString(),
    });
    await enqueueCallback(
      tx,
      payment,
      "payment.refundRejected",
      now,
      { refundId: row.id, refundSerialNo: row.refund_serial_no, kind: row.kind, by, note },
      `payment.refundRejected:${row.id}`,
    );
    return row;
  });
}
