import { PaymentClosed } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import { ChannelUnavailableError } from "../adapters/channel.ts";
import { decideClose } from "../domain/payment.ts";
import { enqueueCallback } from "./callbacks.ts";
import { audit, channelAccount, type PaymentContext } from "./context.ts";
import { lockPayment, type OrderRow, paymentState } from "./rows.ts";
import { applyOutcome } from "./settle.ts";
import { type PaymentView, viewOf } from "./views.ts";

/**
 * Closes a payment (关闭) for the business system: every open order is closed at its channel
 * first; a payer who paid meanwhile wins (the query settles the payment and the close is
 * refused with ALREADY_PAID). A channel that does not answer refuses the close for now
 * (503 CHANNEL_UNAVAILABLE): closing ours while the channel may still take money would be a lie.
 */
export async function closePayment(
  ctx: PaymentContext,
  actor: string,
  paymentId: string,
  reason: string,
): Promise<PaymentView> {
  const first = await ctx.db.query<{ id: string; status: string; paid_order_id: string | null }>(
    "SELECT id, status, paid_order_id FROM payment WHERE id = $1",
    [paymentId],
  );
  const found = first[0];
  if (!found) throw new AppError("not_found", `no payment ${paymentId}`, { code: "PAYMENT_NOT_FOUND" });
  decideClose({ id: found.id, status: found.status as never, paidOrderId: found.paid_order_id });
  const open = await ctx.db.query<OrderRow>(
    "SELECT * FROM payment_order WHERE payment_id = $1 AND status = 'OPEN'",
    [paymentId],
  );
  for (const order of open) {
    const channel = ctx.channels.get(order.channel);
    const account = await channelAccount(ctx, ctx.db, order.agency_code, order.channel);
    if (!channel || !account) continue;
    try {
      const closed = await channel.close(account, order.id, new Date(order.opened_at));
      await applyOutcome(
        ctx,
        order.id,
        closed === "closed"
          ? { kind: "closed" }
          : await channel.query(account, order.id, new Date(order.opened_at)),
        "close",
      );
    } catch (error) {
      if (error instanceof ChannelUnavailableError) {
        throw new AppError("unavailable", `${order.channel} did not answer; the payment stays open`, {
          code: "CHANNEL_UNAVAILABLE",
          cause: error,
        });
      }
      throw error;
    }
  }
  return ctx.inTransaction(async (tx, emit) => {
    const payment = await lockPayment(tx, paymentId);
    if (!payment) throw new AppError("not_found", `no payment ${paymentId}`, { code: "PAYMENT_NOT_FOUND" });
    if (decideClose(paymentState(payment)) === "already-closed") return viewOf(ctx, payment);
    const stillOpen = await tx.query(
      "SELECT 1 FROM payment_order WHERE payment_id = $1 AND status = 'OPEN'",
      [paymentId],
    );
    if (stillOpen.length > 0) {
      throw new AppError("conflict", `payment ${paymentId} has an order open at a channel; try again`, {
        code: "ORDER_OPEN",
      });
    }
    const now = ctx.clock();
    const [row] = await tx.query<Parameters<typeof viewOf>[1]>(
      "UPDATE payment SET status = 'CLOSED', closed_at = $2, close_reason = $3, updated_at = $2 WHERE id = $1 RETURNING *",
      [paymentId, now, reason],
    );
    await audit(tx, now, actor, "payment.close", `payment:${paymentId}`, { reason });
    emit(PaymentClosed, {
      paymentId,
      agencyCode: payment.agency_code,
      bizSerialNo: payment.biz_serial_no,
      reason,
      closedAt: now.toISOString(),
    });
    await enqueueCallback(tx, payment, "payment.closed", now, { reason, closedAt: now.toISOString() });
    return viewOf(ctx, row ?? payment);
  });
}
