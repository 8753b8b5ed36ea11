import { type Bus, consumeEvents, type Subscription } from "@piaoju/bus";
import { topics } from "@piaoju/contracts";
import { enqueueCallback } from "../app/callbacks.ts";
import { type PaymentContext, type Tx, unitOfWork } from "../app/context.ts";
import type { PaymentRow } from "../app/rows.ts";

export const RECEIPT_OUTCOME_GROUP = "payment.receipt-outcome";

/**
 * 即缴即开's answer: issuance.ReceiptIssued for a payment's business serial records the receipt
 * (code, number, check code, pick-up link) on the payment and pushes it to the business system
 * that asked, exactly once per event (inbox) and once per payment (the callback's unique key).
 */
export function consumeIssuanceEvents(
  ctx: PaymentContext,
  bus: Bus,
  pickupUrl: () => string,
): Promise<Subscription> {
  return consumeEvents<Tx>(bus, unitOfWork(ctx.db), {
    group: RECEIPT_OUTCOME_GROUP,
    types: ["issuance.ReceiptIssued"],
    topics: [topics.issuance],
    producer: "payment",
    clock: ctx.clock,
    published: ctx.published,
    handle: async (event, tx) => {
      if (event.type !== "issuance.ReceiptIssued" || event.data.kind !== "blue") return;
      const r = event.data;
      const [payment] = await tx.query<PaymentRow>(
        "SELECT * FROM payment WHERE agency_code = $1 AND biz_serial_no = $2 AND status = 'PAID' FOR UPDATE",
        [r.agencyCode, r.bizSerialNo],
      );
      if (!payment || payment.receipt) return;
      const receipt = {
        receiptId: r.receiptId,
        billCode: r.billCode,
        number: r.number,
        checkCode: r.checkCode,
        totalFen: r.totalFen,
        issuedAt: r.issuedAt,
        pickupUrl: `${pickupUrl()}/h5/pickup?agency=${encodeURIComponent(r.agencyCode)}`,
      };
      const now = ctx.clock();
      await tx.query("UPDATE payment SET receipt = $2::jsonb, updated_at = $3 WHERE id = $1", [
        payment.id,
        JSON.stringify(receipt),
        now,
      ]);
      await enqueueCallback(tx, payment, "payment.receiptIssued", now, {
        paymentCode: payment.payment_code,
        receipt,
      });
    },
  });
}
