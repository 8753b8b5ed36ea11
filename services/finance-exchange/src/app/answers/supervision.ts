import { type Emit, ReceiptSupervised, ReceiptSupervisionRejected } from "@piaoju/contracts";
import type { SqlExecutor } from "@piaoju/persistence";
import type { AnswerBody } from "../../domain/messages.ts";
import { decisionCounter } from "../metrics.ts";
import type { ItemRow, RequestRow } from "../rows.ts";
import type { AnswerContext } from "./context.ts";

/** 监制 answers: each receipt of an upload supervised or rejected, once. */

/** Each receipt of the batch decided once: the status guard makes a repeated result a no-op. */
export async function supervised(
  ctx: AnswerContext,
  tx: SqlExecutor,
  emit: Emit,
  requestId: string,
  body: AnswerBody<"supervise">,
): Promise<void> {
  const seen = new Set<string>();
  for (const r of body.results) {
    if (seen.has(r.receiptId)) continue; // finance may list a result twice
    seen.add(r.receiptId);
    if (r.outcome === "supervised") {
      const [item] = await tx.query<ItemRow>(
        `UPDATE supervision_item SET status = 'SUPERVISED', finance_ref = $3, finance_signature = $4, decided_at = $5
          WHERE receipt_id = $1 AND request_id = $2 AND status = 'BATCHED' RETURNING *`,
        [r.receiptId, requestId, r.financeRef, r.financeSignature, r.supervisedAt],
      );
      if (!item) continue;
      decisionCounter.add(1, { outcome: "supervised" });
      emit(ReceiptSupervised, {
        receiptId: item.receipt_id,
        agencyCode: item.agency_code,
        billCode: item.bill_code,
        number: item.number,
        financeSignature: r.financeSignature,
        financeCertificateSm3: r.financeCertificateSm3,
        financeRef: r.financeRef,
        supervisedAt: r.supervisedAt,
      });
      ctx.financeCertificates?.observe(emit, r.financeSignature);
    } else {
      const [item] = await tx.query<ItemRow>(
        `UPDATE supervision_item SET status = 'REJECTED', rejection_code = $3, rejection_reason = $4, decided_at = $5
          WHERE receipt_id = $1 AND request_id = $2 AND status = 'BATCHED' RETURNING *`,
        [r.receiptId, requestId, r.code, r.reason, r.rejectedAt],
      );
      if (!item) continue;
      decisionCounter.add(1, { outcome: "rejected" });
      emit(ReceiptSupervisionRejected, {
        receiptId: item.receipt_id,
        agencyCode: item.agency_code,
        billCode: item.bill_code,
        number: item.number,
        code: r.code,
        reason: r.reason.slice(0, 500),
        rejectedAt: r.rejectedAt,
      });
    }
  }
  // Receipts finance did not answer about go back to the queue and are asked again.
  await tx.query(
    `UPDATE supervision_item SET status = 'QUEUED', request_id = NULL WHERE request_id = $1 AND status = 'BATCHED'`,
    [requestId],
  );
}

/**
 * Finance refused a whole batch (one receipt it cannot read spoils the request). Several
 * receipts: each goes again alone. One receipt alone: that receipt is rejected.
 */
export async function batchRefused(
  ctx: AnswerContext,
  tx: SqlExecutor,
  emit: Emit,
  row: RequestRow,
  code: string,
  reason: string,
): Promise<void> {
  const items = await tx.query<ItemRow>(
    `SELECT * FROM supervision_item WHERE request_id = $1 AND status = 'BATCHED'`,
    [row.id],
  );
  if (items.length > 1) {
    await tx.query(
      `UPDATE supervision_item SET status = 'QUEUED', request_id = NULL, batch_alone = true WHERE request_id = $1 AND status = 'BATCHED'`,
      [row.id],
    );
    return;
  }
  const now = ctx.clock().toISOString();
  await supervised(ctx, tx, emit, row.id, {
    results: items.map((i) => ({
      receiptId: i.receipt_id,
      outcome: "rejected" as const,
      code: code.slice(0, 64),
      reason: reason.slice(0, 500) || code,
      rejectedAt: now,
    })),
  });
}
