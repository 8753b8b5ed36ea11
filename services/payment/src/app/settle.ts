import { type Emit, PaymentAnomalyRecorded, PaymentCompleted } from "@piaoju/contracts";
import { businessDay } from "@piaoju/locale";
import { type ChannelOutcome, decideSettlement, type Settlement } from "../domain/payment.ts";
import { enqueueCallback } from "./callbacks.ts";
import { audit, type PaymentContext, type Tx, unsealJson } from "./context.ts";
import { enqueueNontaxReport } from "./nontax-reports.ts";
import { refundAnomaly } from "./refunds.ts";
import { lockOrder, lockPayment, type OrderRow, orderState, type PaymentRow, paymentState } from "./rows.ts";

export type SettleSource = "notify" | "query" | "close" | "counter";

/**
 * Applies a channel's word about an order (a verified notify, a query's answer) in one
 * transaction with the order and its payment locked: a duplicated notify, a notify racing a
 * query, a late notify after the order closed, all decide one after the other on fresh rows,
 * so a payment is completed once and only once (decideSettlement).
 */
export async function applyOutcome(
  ctx: PaymentContext,
  orderId: string,
  outcome: ChannelOutcome,
  source: SettleSource,
): Promise<Settlement["kind"] | "unknown-order"> {
  return ctx.inTransaction((tx, emit) => settleInTransaction(ctx, tx, emit, orderId, outcome, source));
}

/** applyOutcome's decision inside a transaction the caller holds (the bank counter's report writes its order in it). */
export async function settleInTransaction(
  ctx: PaymentContext,
  tx: Tx,
  emit: Emit,
  orderId: string,
  outcome: ChannelOutcome,
  source: SettleSource,
): Promise<Settlement["kind"] | "unknown-order"> {
  {
    const order = await lockOrder(tx, orderId);
    if (!order) return "unknown-order";
    const payment = await lockPayment(tx, order.payment_id);
    if (!payment) return "unknown-order";
    const decision = decideSettlement(paymentState(payment), orderState(order), outcome);
    const now = ctx.clock();
    const actor = `channel:${order.channel}`;
    switch (decision.kind) {
      case "complete":
        if (outcome.kind !== "paid") break;
        await complete(ctx, tx, emit, payment, order, outcome, now, source);
        break;
      case "anomaly": {
        if (outcome.kind !== "paid") break;
        await tx.query(
          "UPDATE payment_order SET status = 'PAID', channel_trade_no = $2, paid_at = $3, taken_fen = $4 WHERE id = $1",
          [order.id, outcome.channelTradeNo, outcome.paidAt, outcome.amountFen],
        );
        const inserted = await tx.query(
          `INSERT INTO payment_anomaly (payment_id, order_id, channel, channel_trade_no, kind, amount_fen, recorded_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (channel, channel_trade_no) DO NOTHING RETURNING id`,
          [
            payment.id,
            order.id,
            order.channel,
            outcome.channelTradeNo,
            decision.anomaly,
            outcome.amountFen,
            now,
          ],
        );
        if (inserted.length === 1) {
          await audit(tx, now, actor, "payment.anomaly", `payment:${payment.id}`, {
            orderId: order.id,
            kind: decision.anomaly,
            source,
          });
          emit(PaymentAnomalyRecorded, {
            paymentId: payment.id,
            agencyCode: payment.agency_code,
            orderId: order.id,
            channel: order.channel,
            channelTradeNo: outcome.channelTradeNo,
            kind: decision.anomaly,
            amountFen: outcome.amountFen,
            recordedAt: now.toISOString(),
          });
          // Paid twice, or after the close: sent back by its own route (重复缴款自动退付). An
          // amount not the order's is held for a person (the channel's statement decides).
          if (decision.anomaly !== "AMOUNT_MISMATCH") {
            await refundAnomaly(
              tx,
              emit,
              now,
              payment,
              order,
              outcome.channelTradeNo,
              outcome.amountFen,
              decision.anomaly,
            );
          }
        }
        break;
      }
      case "close-order":
        await closeOrderRow(tx, order, payment, now);
        break;
      case "already-settled":
      case "nothing":
        break;
      default: {
        const unhandled: never = decision;
        throw new Error(`unhandled settlement ${(unhandled as Settlement).kind}`);
      }
    }
    return decision.kind;
  }
}

async function complete(
  ctx: PaymentContext,
  tx: Tx,
  emit: Emit,
  payment: PaymentRow,
  order: OrderRow,
  paid: Extract<ChannelOutcome, { kind: "paid" }>,
  now: Date,
  source: SettleSource,
): Promise<void> {
  const principalFen = Number(payment.principal_fen);
  const surchargeFen = paid.amountFen - principalFen;
  await tx.query(
    "UPDATE payment_order SET status = 'PAID', channel_trade_no = $2, paid_at = $3, taken_fen = $4 WHERE id = $1",
    [order.id, paid.channelTradeNo, paid.paidAt, paid.amountFen],
  );
  await tx.query(
    `UPDATE payment SET status = 'PAID', paid_order_id = $2, paid_at = $3, paid_fen = $4, surcharge_fen = $5,
       updated_at = $6 WHERE id = $1`,
    [payment.id, order.id, paid.paidAt, paid.amountFen, surchargeFen, now],
  );
  // Other attempts still open at a channel must not take the payer's money a second time: the
  // settler closes them at once (and records whatever one of them took anyway as a duplicate).
  await tx.query(
    "UPDATE payment_order SET next_query_at = $2 WHERE payment_id = $1 AND status = 'OPEN' AND id <> $3",
    [payment.id, now, order.id],
  );
  const payer = unsealJson<{ type: 1 | 2; code: string; name: string; phone?: string; email?: string }>(
    ctx,
    payment.payer_sealed,
  );
  const items = [
    ...payment.items,
    ...(surchargeFen > 0 && payment.surcharge_item_code
      ? [{ itemCode: payment.surcharge_item_code, quantity: "1", amountFen: surchargeFen }]
      : []),
  ];
  await audit(tx, now, `channel:${order.channel}`, "payment.complete", `payment:${payment.id}`, {
    orderId: order.id,
    channelTradeNo: paid.channelTradeNo,
    paidFen: paid.amountFen,
    source,
  });
  emit(PaymentCompleted, {
    paymentId: payment.id,
    agencyCode: payment.agency_code,
    bizSerialNo: payment.biz_serial_no,
    paidAt: paid.paidAt.toISOString(),
    channel: order.channel,
    payer,
    items,
    totalFen: paid.amountFen,
    issuingPointCode: payment.issuing_point_code,
    billCode: payment.bill_code,
    ...(payment.remark ? { remark: payment.remark } : {}),
    source: "platform",
    settlement: {
      noticeNo: payment.notice_no,
      paymentCode: payment.payment_code,
      ...(payment.decision_no ? { decisionNo: payment.decision_no } : {}),
      orderId: order.id,
      channelTradeNo: paid.channelTradeNo,
      channelAccount: order.channel_account,
      paidFen: paid.amountFen,
      fineFen: Number(payment.fine_fen),
      surchargeFen,
      businessDay: businessDay(paid.paidAt),
    },
  });
  await enqueueNontaxReport(
    ctx,
    tx,
    payment,
    {
      paidFen: paid.amountFen,
      surchargeFen,
      paidAt: paid.paidAt.toISOString(),
      channel: order.channel,
      channelTradeNo: paid.channelTradeNo,
    },
    now,
  );
  await enqueueCallback(tx, payment, "payment.paid", now, {
    paymentCode: payment.payment_code,
    paidFen: paid.amountFen,
    surchargeFen,
    channel: order.channel,
    channelTradeNo: paid.channelTradeNo,
    paidAt: paid.paidAt.toISOString(),
  });
}

export async function closeOrderRow(tx: Tx, order: OrderRow, payment: PaymentRow, now: Date): Promise<void> {
  await tx.query(
    "UPDATE payment_order SET status = 'CLOSED', closed_at = $2 WHERE id = $1 AND status = 'OPEN'",
    [order.id, now],
  );
  // No attempt left open: the payment waits for the payer again (a new order, perhaps another day's amount).
  await tx.query(
    `UPDATE payment SET status = 'CREATED', updated_at = $2 WHERE id = $1 AND status = 'PAYING'
       AND NOT EXISTS (SELECT 1 FROM payment_order WHERE payment_id = $1 AND status = 'OPEN')`,
    [payment.id, now],
  );
}
