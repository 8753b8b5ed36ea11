import type { CatalogEvent } from "@piaoju/contracts";
import { businessDay } from "@piaoju/locale";
import type { SqlExecutor } from "@piaoju/persistence";

type Of<T extends CatalogEvent["type"]> = Extract<CatalogEvent, { type: T }>["data"];

/** 缴款收缴: a payment taken, on the day its channel booked it (a business system's own payment on its paid day). */
export async function paymentCompleted(sql: SqlExecutor, d: Of<"payment.PaymentCompleted">): Promise<void> {
  await sql.query(
    `INSERT INTO payment_collected (payment_id, agency_code, channel, business_day, paid_fen, paid_at)
     VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (payment_id) DO NOTHING`,
    [
      d.paymentId,
      d.agencyCode,
      d.channel,
      d.settlement?.businessDay ?? businessDay(new Date(d.paidAt)),
      d.settlement?.paidFen ?? d.totalFen,
      d.paidAt,
    ],
  );
}

/** 退付: a refund paid back by the original route, the payer's or a duplicate payment's. */
export async function refundCompleted(sql: SqlExecutor, d: Of<"payment.RefundCompleted">): Promise<void> {
  await sql.query(
    `INSERT INTO payment_refunded (refund_id, agency_code, payment_id, biz_serial_no, refund_serial_no, kind, channel,
       channel_trade_no, business_day, amount_fen, remaining_fen, refunded_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT (refund_id) DO NOTHING`,
    [
      d.refundId,
      d.agencyCode,
      d.paymentId,
      d.bizSerialNo,
      d.refundSerialNo,
      d.kind,
      d.channel,
      d.channelTradeNo,
      d.businessDay,
      d.amountFen,
      d.remainingFen,
      d.refundedAt,
    ],
  );
}

/**
 * A channel's day matched: the newest run's figures stand; the findings of older runs go (a
 * rerun replaces the day's findings at the payment service too). A run's findings and its
 * figures carry the same time and share a partition, so they arrive together and in order.
 */
export async function channelReconciled(sql: SqlExecutor, d: Of<"payment.ChannelReconciled">): Promise<void> {
  const [kept] = await sql.query<{ channel: string }>(
    `INSERT INTO channel_reconciliation (agency_code, channel, business_day, matched, differences, repaired, held,
       collected_fen, refunded_fen, completed_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
     ON CONFLICT (agency_code, channel, business_day) DO UPDATE SET matched = EXCLUDED.matched,
       differences = EXCLUDED.differences, repaired = EXCLUDED.repaired, held = EXCLUDED.held,
       collected_fen = EXCLUDED.collected_fen, refunded_fen = EXCLUDED.refunded_fen, completed_at = EXCLUDED.completed_at
       WHERE channel_reconciliation.completed_at <= EXCLUDED.completed_at
     RETURNING channel`,
    [
      d.agencyCode,
      d.channel,
      d.businessDay,
      d.matched,
      d.differences,
      d.repaired,
      d.held,
      d.collectedFen,
      d.refundedFen,
      d.completedAt,
    ],
  );
  if (!kept) return;
  await sql.query(
    "DELETE FROM channel_difference WHERE agency_code = $1 AND channel = $2 AND business_day = $3 AND found_at < $4",
    [d.agencyCode, d.channel, d.businessDay, d.completedAt],
  );
}

export async function channelDifferenceFound(
  sql: SqlExecutor,
  d: Of<"payment.ChannelDifferenceFound">,
): Promise<void> {
  await sql.query(
    `INSERT INTO channel_difference (agency_code, channel, business_day, kind, subject, order_id, refund_id,
       channel_trade_no, our_fen, channel_fen, resolution, found_at)
     SELECT $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12
      WHERE NOT EXISTS (SELECT 1 FROM channel_reconciliation r WHERE r.agency_code = $1 AND r.channel = $2
                          AND r.business_day = $3 AND r.completed_at > $12)`,
    [
      d.agencyCode,
      d.channel,
      d.businessDay,
      d.kind,
      d.subject,
      d.orderId ?? null,
      d.refundId ?? null,
      d.channelTradeNo ?? null,
      d.ourFen ?? null,
      d.channelFen ?? null,
      d.resolution,
      d.foundAt,
    ],
  );
}

/** 资金清分: a day's instructions, one per finance special account. */
export async function clearingInstructed(
  sql: SqlExecutor,
  d: Of<"payment.ClearingInstructed">,
): Promise<void> {
  for (const i of d.instructions) {
    await sql.query(
      `INSERT INTO clearing_instruction (instruction_id, batch_id, agency_code, business_day, account_no, account_name,
         collected_fen, refunded_fen, amount_fen, status, instructed_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'INSTRUCTED',$10) ON CONFLICT (instruction_id) DO NOTHING`,
      [
        i.instructionId,
        d.batchId,
        d.agencyCode,
        d.businessDay,
        i.accountNo,
        i.accountName,
        i.collectedFen,
        i.refundedFen,
        i.amountFen,
        d.instructedAt,
      ],
    );
  }
}

/** An instruction's end (same partition as its batch: it comes after it). */
export async function clearingSettled(sql: SqlExecutor, d: Of<"payment.ClearingSettled">): Promise<void> {
  await sql.query(
    "UPDATE clearing_instruction SET status = $2, note = $3, settled_at = $4 WHERE instruction_id = $1",
    [d.instructionId, d.status, d.note ?? null, d.settledAt],
  );
}
