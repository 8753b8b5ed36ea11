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
    types: ["issuance.ReceiptIssued", "issuance.ReceiptRedFlushed"],
    topics: [topics.issuance],
    producer: "payment",
    clock: ctx.clock,
    published: ctx.published,
    handle: async (event, tx) => {
      if (event.type === "issuance.ReceiptRedFlushed") {
        // The three-way match's receipt leg: the original is red-flushed.
        const f = event.data;
        await tx.query(
          "UPDATE payment_receipt SET red_flushed_at = $2, red_receipt_id = $3 WHERE receipt_id = $1",
          [f.receiptId, new Date(f.redFlushedAt), f.redReceiptId],
        );
        return;
      }
      if (event.type !== "issuance.ReceiptIssued") return;
      const r = event.data;
      // Every receipt issued (blue, red, a partial refund's re-issue), for the three-way match.
      await tx.query(
        `INSERT INTO payment_receipt (receipt_id, agency_code, biz_serial_no, kind, original_receipt_id, bill_code,
           number, total_fen, handling_person, issued_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
         ON CONFLICT (receipt_id) DO NOTHING`,
        [
          r.receiptId,
          r.agencyCode,
          r.bizSerialNo,
          r.kind,
          r.originalReceiptId ?? null,
          r.billCode,
          r.number,
          r.totalFen,
          r.handlingPerson,
          new Date(r.issuedAt),
        ],
      );
      if (r.kind === "red" && r.originalReceiptId) {
        // The red receipt itself says what it flushes (ReceiptRedFlushed may come before or after).
        await tx.query(
          `UPDATE payment_receipt SET red_flushed_at = COALESCE(red_flushed_at, $2), red_receipt_id = $3
             WHERE receipt_id = $1`,
          [r.originalReceiptId, new Date(r.issuedAt), r.receiptId],
        );
      }
      if (r.kind !== "blue") return;
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
