import { AppError } from "@piaoju/runtime/errors";

/**
 * A payment's life (缴款状态):
 *
 *   CREATED ──order opened──▶ PAYING ──channel paid──▶ PAID ──(next issue)──▶ REFUNDING ─▶ REFUNDED
 *      │                        │  ▲ order closed/expired, back to CREATED-like PAYING with no open order
 *      └──────close────────────▶ CLOSED ◀──close (no paid order)
 *                               FAILED   (the notice can no longer be paid: voided by the non-tax side)
 *
 * An order (支付订单) is one attempt at one channel: OPEN → PAID | CLOSED | FAILED. Several orders
 * may be opened for one payment (the payer switches from Alipay to WeChat); the first one a channel
 * reports paid completes the payment, once. Any later paid order is money taken twice: it is
 * recorded as an anomaly for a refund by the original route, never a second completion.
 */
export type PaymentStatus = "CREATED" | "PAYING" | "PAID" | "CLOSED" | "FAILED" | "REFUNDING" | "REFUNDED";
export type OrderStatus = "OPEN" | "PAID" | "CLOSED" | "FAILED";

export interface PaymentState {
  id: string;
  status: PaymentStatus;
  paidOrderId: string | null;
}

export interface OrderState {
  id: string;
  paymentId: string;
  status: OrderStatus;
  amountFen: number;
  channelTradeNo: string | null;
  expiresAt: Date;
}

/** Whether a new channel attempt may start; the amount the payer confirmed must be the amount due now. */
export function decideOpenOrder(
  payment: PaymentState,
  due: { totalFen: number },
  expectedAmountFen: number,
): void {
  if (payment.status === "PAID" || payment.status === "REFUNDING" || payment.status === "REFUNDED") {
    throw new AppError("conflict", `payment ${payment.id} is already paid`, { code: "ALREADY_PAID" });
  }
  if (payment.status === "CLOSED" || payment.status === "FAILED") {
    throw new AppError("conflict", `payment ${payment.id} is ${payment.status.toLowerCase()}`, {
      code: "PAYMENT_CLOSED",
    });
  }
  if (expectedAmountFen !== due.totalFen) {
    throw new AppError(
      "conflict",
      `the amount due is now ${due.totalFen} fen, not ${expectedAmountFen}: the late payment surcharge (加处罚款) changed it`,
      { code: "AMOUNT_DUE_CHANGED" },
    );
  }
}

/** What a channel says about an order, after its signature and fields were checked. */
/** Money a channel took that completes nothing: kept for a refund by the original route. */
export type AnomalyKind = "DUPLICATE_PAYMENT" | "AMOUNT_MISMATCH" | "PAID_AFTER_CLOSE";

export type ChannelOutcome =
  | { kind: "paid"; channelTradeNo: string; amountFen: number; paidAt: Date }
  | { kind: "waiting" }
  | { kind: "closed" }
  | { kind: "unknown" };

export type Settlement =
  /** The order's first report of payment: complete the payment. */
  | { kind: "complete" }
  /** The same payment reported again (a duplicated or late notify, a query after it): nothing to do. */
  | { kind: "already-settled" }
  /** Money taken for a payment another order already paid, or an amount not the order's: hold it for refund. */
  | { kind: "anomaly"; anomaly: AnomalyKind }
  | { kind: "close-order" }
  | { kind: "nothing" };

/**
 * Decides what a channel's word about an order does. Pure: the caller holds the payment's and
 * the order's rows locked, so two notifies (or a notify and a query) decide one after the other.
 */
export function decideSettlement(
  payment: PaymentState,
  order: OrderState,
  outcome: ChannelOutcome,
): Settlement {
  if (outcome.kind === "paid") {
    if (order.status === "PAID") return { kind: "already-settled" };
    if (outcome.amountFen !== order.amountFen) return { kind: "anomaly", anomaly: "AMOUNT_MISMATCH" };
    if (payment.paidOrderId !== null && payment.paidOrderId !== order.id) {
      return { kind: "anomaly", anomaly: "DUPLICATE_PAYMENT" };
    }
    // The business system closed the payment (the case was settled otherwise) and the payer's
    // money still came (a close at the channel can lose a race with the payer): hold it for refund.
    if (payment.status === "CLOSED" || payment.status === "FAILED") {
      return { kind: "anomaly", anomaly: "PAID_AFTER_CLOSE" };
    }
    return { kind: "complete" };
  }
  if (outcome.kind === "closed" && order.status === "OPEN") return { kind: "close-order" };
  return { kind: "nothing" };
}

/** Whether a payment may be closed (关闭) by the business system that asked for it. */
export function decideClose(payment: PaymentState): "close" | "already-closed" {
  if (payment.status === "CLOSED") return "already-closed";
  if (payment.status !== "CREATED" && payment.status !== "PAYING") {
    throw new AppError(
      "conflict",
      `payment ${payment.id} is ${payment.status.toLowerCase()} and cannot be closed`,
      {
        code: payment.status === "PAID" ? "ALREADY_PAID" : "TRANSITION_REFUSED",
      },
    );
  }
  return "close";
}
