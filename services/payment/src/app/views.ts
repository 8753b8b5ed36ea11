import { cashierKey, cashierToken } from "../domain/cashier-token.ts";
import { amountDue } from "../domain/surcharge.ts";
import { type PaymentContext, unsealJson } from "./context.ts";
import { dayOf, dueInputs, type PaymentRow } from "./rows.ts";

export interface PaymentView {
  id: string;
  agencyCode: string;
  bizSerialNo: string;
  noticeNo: string;
  paymentCode: string;
  decisionNo?: string;
  status: string;
  /** The payer's name only (personal data stays sealed); the cashier shows it masked. */
  payerName: string;
  items: Array<{ itemCode: string; quantity: string; amountFen: number }>;
  principalFen: number;
  deadline?: string;
  /** The amount due now, with the surcharge as of today (Asia/Shanghai). */
  amountDue: {
    principalFen: number;
    surchargeFen: number;
    totalFen: number;
    daysLate: number;
    businessDay: string;
  };
  qrUrl: string;
  paid?: { orderId: string; paidAt: string; paidFen: number; surchargeFen: number; refundedFen: number };
  closed?: { at: string; reason: string };
  receipt?: Record<string, unknown>;
  createdAt: string;
}

/** The cashier's page for the payment: what the QR code on the decision opens, and the bureau links to. */
export function qrUrlOf(ctx: PaymentContext, paymentId: string): string {
  return `${ctx.publicUrl()}/h5/pay/${cashierToken(cashierKey(ctx.sealKey), paymentId)}`;
}

export function viewOf(ctx: PaymentContext, p: PaymentRow): PaymentView {
  const payer = unsealJson<{ name: string }>(ctx, p.payer_sealed);
  const deadline = dayOf(p.deadline);
  return {
    id: p.id,
    agencyCode: p.agency_code,
    bizSerialNo: p.biz_serial_no,
    noticeNo: p.notice_no,
    paymentCode: p.payment_code,
    ...(p.decision_no ? { decisionNo: p.decision_no } : {}),
    status: p.status,
    payerName: payer.name,
    items: p.items,
    principalFen: Number(p.principal_fen),
    ...(deadline ? { deadline } : {}),
    amountDue: amountDue(dueInputs(p), ctx.clock()),
    qrUrl: qrUrlOf(ctx, p.id),
    ...(p.paid_order_id && p.paid_at
      ? {
          paid: {
            orderId: p.paid_order_id,
            paidAt: new Date(p.paid_at).toISOString(),
            paidFen: Number(p.paid_fen),
            surchargeFen: Number(p.surcharge_fen),
            refundedFen: Number(p.refunded_fen ?? 0),
          },
        }
      : {}),
    ...(p.closed_at
      ? { closed: { at: new Date(p.closed_at).toISOString(), reason: p.close_reason ?? "" } }
      : {}),
    ...(p.receipt ? { receipt: p.receipt } : {}),
    createdAt: new Date(p.created_at).toISOString(),
  };
}
