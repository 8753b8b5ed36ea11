import type { OrderState, OrderStatus, PaymentState, PaymentStatus } from "../domain/payment.ts";
import type { Tx } from "./context.ts";

export interface PaymentRow {
  id: string;
  agency_code: string;
  biz_serial_no: string;
  request_sm3: string;
  notice_no: string;
  payment_code: string;
  decision_no: string | null;
  payer_sealed: Uint8Array;
  items: Array<{ itemCode: string; quantity: string; amountFen: number }>;
  principal_fen: string | number;
  fine_fen: string | number;
  deadline: string | Date | null;
  surcharge_item_code: string | null;
  issuing_point_code: string;
  bill_code: string;
  remark: string | null;
  status: PaymentStatus;
  paid_order_id: string | null;
  paid_at: Date | null;
  paid_fen: string | number | null;
  refunded_fen: string | number;
  surcharge_fen: string | number | null;
  closed_at: Date | null;
  close_reason: string | null;
  receipt: Record<string, unknown> | null;
  requested_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface OrderRow {
  id: string;
  payment_id: string;
  agency_code: string;
  channel: string;
  scene: string;
  amount_fen: string | number;
  status: OrderStatus;
  channel_trade_no: string | null;
  channel_account: string;
  pay_target: string | null;
  expires_at: Date;
  opened_at: Date;
  paid_at: Date | null;
  closed_at: Date | null;
  next_query_at: Date;
  queries: number;
  taken_fen: string | number | null;
  refunded_fen: string | number;
}

/** PGlite and pg give dates back as Date or string depending on the column; a day as YYYY-MM-DD. */
export function dayOf(value: string | Date | null): string | undefined {
  if (value === null) return undefined;
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  return String(value).slice(0, 10);
}

export const paymentState = (p: PaymentRow): PaymentState => ({
  id: p.id,
  status: p.status,
  paidOrderId: p.paid_order_id,
});

export const orderState = (o: OrderRow): OrderState => ({
  id: o.id,
  paymentId: o.payment_id,
  status: o.status,
  amountFen: Number(o.amount_fen),
  channelTradeNo: o.channel_trade_no,
  expiresAt: new Date(o.expires_at),
});

export async function lockPayment(tx: Tx, id: string): Promise<PaymentRow | undefined> {
  const [row] = await tx.query<PaymentRow>("SELECT * FROM payment WHERE id = $1 FOR UPDATE", [id]);
  return row;
}

export async function lockOrder(tx: Tx, id: string): Promise<OrderRow | undefined> {
  const [row] = await tx.query<OrderRow>("SELECT * FROM payment_order WHERE id = $1 FOR UPDATE", [id]);
  return row;
}

export const dueInputs = (p: PaymentRow) => ({
  principalFen: Number(p.principal_fen),
  fineFen: Number(p.fine_fen),
  deadline: dayOf(p.deadline),
});
