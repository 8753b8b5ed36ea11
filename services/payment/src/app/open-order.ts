import { randomBytes } from "node:crypto";
import { PaymentOrderOpened } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import { ChannelRefusedError, ChannelUnavailableError, type PayScene } from "../adapters/channel.ts";
import { decideOpenOrder } from "../domain/payment.ts";
import { amountDue, amountFixedUntil } from "../domain/surcharge.ts";
import { audit, channelAccount, type PaymentContext } from "./context.ts";
import { dueInputs, lockPayment, type OrderRow, paymentState } from "./rows.ts";

export interface OpenOrderInput {
  channel: string;
  scene: PayScene;
  /** The amount the payer saw and confirmed: it must be the amount due now. */
  expectedAmountFen: number;
  returnUrl?: string | undefined;
  /** The payer's address (the cashier's request's): WeChat Pay's H5 order names it. */
  payerIp?: string | undefined;
}

export interface OrderView {
  orderId: string;
  paymentId: string;
  channel: string;
  scene: string;
  amountFen: number;
  status: string;
  payTarget: string | null;
  expiresAt: string;
}

export const orderView = (o: OrderRow): OrderView => ({
  orderId: o.id,
  paymentId: o.payment_id,
  channel: o.channel,
  scene: o.scene,
  amountFen: Number(o.amount_fen),
  status: o.status,
  payTarget: o.pay_target,
  expiresAt: new Date(o.expires_at).toISOString(),
});

/**
 * Starts a channel attempt (the payer picked a channel in the cashier, or scanned the decision's
 * QR code). The order is written first (OPEN, the payment PAYING) and committed, then the
 * channel is asked: an order the channel never heard of is closed by the settler later, and one
 * it did hear of but whose answer was lost is settled by query. The order cannot outlive the
 * amount due: it expires at the next Shanghai midnight, when the surcharge may grow.
 */
export async function openOrder(
  ctx: PaymentContext,
  actor: string,
  paymentId: string,
  input: OpenOrderInput,
): Promise<OrderView> {
  const channel = ctx.channels.get(input.channel);
  if (!channel) {
    throw AppError.validation([
      { field: "body.channel", rule: "enum", message: `no channel ${input.channel}` },
    ]);
  }
  if (input.scene === "wap" && channel.wapNeedsPayerIp && !input.payerIp) {
    throw AppError.validation([
      {
        field: "body.payerIp",
        rule: "required",
        message: `an H5 order at ${input.channel} names the payer's address`,
      },
    ]);
  }
  const { order, reused, account } = await ctx.inTransaction(async (tx, emit) => {
    const payment = await lockPayment(tx, paymentId);
    if (!payment) throw new AppError("not_found", `no payment ${paymentId}`, { code: "PAYMENT_NOT_FOUND" });
    const now = ctx.clock();
    const due = amountDue(dueInputs(payment), now);
    decideOpenOrder(paymentState(payment), due, input.expectedAmountFen);
    const account = await channelAccount(ctx, tx, payment.agency_code, input.channel);
    if (!account) {
      throw new AppError("conflict", `agency ${payment.agency_code} has not enabled ${input.channel}`, {
        code: "CHANNEL_NOT_ENABLED",
      });
    }
    // The same QR scanned twice, or the cashier reloaded: the open order is shown again.
    const [open] = await tx.query<OrderRow>(
      `SELECT * FROM payment_order WHERE payment_id = $1 AND channel = $2 AND scene = $3 AND status = 'OPEN'
         AND amount_fen = $4 AND expires_at > $5 AND pay_target IS NOT NULL ORDER BY opened_at DESC LIMIT 1`,
      [paymentId, input.channel, input.scene, due.totalFen, new Date(now.getTime() + 60_000)],
    );
    if (open) return { order: open, reused: true, account };
    const expiresAt = new Date(Math.min(now.getTime() + ctx.orderTtlMs, amountFixedUntil(now).getTime()));
    const id = `P${due.businessDay.replaceAll("-", "")}${randomBytes(10).toString("hex")}`;
    const [row] = await tx.query<OrderRow>(
      `INSERT INTO payment_order (id, payment_id, agency_code, channel, scene, amount_fen, status, channel_account,
         expires_at, opened_at, next_query_at)
       VALUES ($1,$2,$3,$4,$5,$6,'OPEN',$7,$8,$9,$10) RETURNING *`,
      [
        id,
        paymentId,
        payment.agency_code,
        input.channel,
        input.scene,
        due.totalFen,
        account.accountId,
        expiresAt,
        now,
        new Date(now.getTime() + ctx.firstQueryAfterMs),
      ],
    );
    if (!row) throw new Error("order insert returned nothing");
    await tx.query(
      "UPDATE payment SET status = 'PAYING', updated_at = $2 WHERE id = $1 AND status = 'CREATED'",
      [paymentId, now],
    );
    await audit(tx, now, actor, "payment.order.open", `payment:${paymentId}`, {
      orderId: id,
      channel: input.channel,
      amountFen: due.totalFen,
    });
    emit(PaymentOrderOpened, {
      paymentId,
      agencyCode: payment.agency_code,
      orderId: id,
      channel: input.channel,
      amountFen: due.totalFen,
      expiresAt: expiresAt.toISOString(),
      openedAt: now.toISOString(),
    });
    return { order: row, reused: false, account };
  });
  if (reused) return orderView(order);
  try {
    const { payTarget } = await channel.openOrder(account, {
      orderId: order.id,
      amountFen: Number(order.amount_fen),
      subject: `非税缴款 ${order.id}`,
      scene: input.scene,
      expiresAt: new Date(order.expires_at),
      notifyUrl: `${ctx.publicUrl()}/v1/payment/notify/${input.channel}${
        channel.notifyPerAccount ? `/${encodeURIComponent(account.accountId)}` : ""
      }`,
      returnUrl: input.returnUrl,
      payerIp: input.payerIp,
      openedAt: new Date(order.opened_at),
    });
    const [updated] = await ctx.db.query<OrderRow>(
      "UPDATE payment_order SET pay_target = $2 WHERE id = $1 RETURNING *",
      [order.id, payTarget],
    );
    return orderView(updated ?? order);
  } catch (error) {
    if (error instanceof ChannelRefusedError) {
      await ctx.db.query(
        "UPDATE payment_order SET status = 'FAILED', closed_at = $2 WHERE id = $1 AND status = 'OPEN'",
        [order.id, ctx.clock()],
      );
      throw new AppError("unavailable", error.message, { code: "CHANNEL_REFUSED", cause: error });
    }
    if (error instanceof ChannelUnavailableError) {
      throw new AppError("unavailable", `${input.channel} did not answer; try again`, {
        code: "CHANNEL_UNAVAILABLE",
        cause: error,
      });
    }
    throw error;
  }
}
