import { AppError, type Caller } from "@piaoju/runtime";
import { audit, type PaymentContext, type Tx } from "./context.ts";

/**
 * The finance office's decisions on what reconciliation and clearing left for a person:
 * a difference marked handled with a note (差异处理), and a refused clearing instruction sent
 * again (重新发送). Each is audited (who, when, why) in the transaction that makes it.
 */

/** Where a difference lives: a channel's or the three-way match (payment_difference), or funds arrival's. */
export type DifferenceSource = "reconciliation" | "funds";

/**
 * A difference concerns the agency's money as a whole (an account, a channel's statement), not one
 * issuing point: only a grant that reaches the whole agency decides on it.
 */
export function requireWholeAgency(c: Caller, agencyCode: string): void {
  const reach = c.access && c.permission ? c.access.reach(c.permission, agencyCode) : undefined;
  if (reach && (reach.points !== "*" || reach.ownOnly)) {
    throw new AppError("forbidden", `${c.actor}'s data scope does not reach all of ${agencyCode}`, {
      code: "OUT_OF_SCOPE",
    });
  }
}

export interface HandledView {
  source: DifferenceSource;
  id: string;
  agencyCode: string;
  businessDay: string;
  kind: string;
  resolution: "HANDLED";
  handledBy: string;
  handledAt: string;
  handledNote: string;
}

/**
 * Marks one OPEN difference handled: `404 DIFFERENCE_NOT_FOUND` (not there, or another agency's:
 * the same answer, nothing is told of another agency), `409 DIFFERENCE_NOT_OPEN` for one repaired,
 * held or handled already (the first note stays). A channel or three-way difference handled no
 * longer holds the day's clearing.
 */
export async function markHandled(
  ctx: PaymentContext,
  actor: string,
  input: { source: DifferenceSource; id: string; agencyCode: string; note: string },
): Promise<HandledView> {
  const table = input.source === "funds" ? "funds_difference" : "payment_difference";
  const dayColumn = input.source === "funds" ? "settlement_day" : "business_day";
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx.query<Record<string, unknown>>(
      `SELECT id, agency_code, ${dayColumn} AS day, kind, channel,
              ${input.source === "funds" ? "CASE WHEN handled_at IS NULL THEN 'OPEN' ELSE 'HANDLED' END" : "resolution"} AS resolution
         FROM ${table} WHERE id = $1 AND agency_code = $2 FOR UPDATE`,
      [input.id, input.agencyCode],
    );
    if (!row) {
      throw new AppError("not_found", `no difference ${input.id} of ${input.agencyCode}`, {
        code: "DIFFERENCE_NOT_FOUND",
      });
    }
    if (row.resolution !== "OPEN") {
      throw new AppError("conflict", `difference ${input.id} is ${String(row.resolution)}, not open`, {
        code: "DIFFERENCE_NOT_OPEN",
      });
    }
    const now = ctx.clock();
    await tx.query(
      `UPDATE ${table} SET handled_by = $2, handled_at = $3, handled_note = $4
         ${input.source === "funds" ? "" : ", resolution = 'HANDLED'"} WHERE id = $1`,
      [input.id, actor, now, input.note],
    );
    await audit(tx, now, actor, "difference.handled", `difference:${input.source}:${input.id}`, {
      agencyCode: input.agencyCode,
      businessDay: String(row.day),
      kind: row.kind,
      ...(row.channel ? { channel: row.channel } : {}),
      note: input.note,
    });
    return {
      source: input.source,
      id: String(row.id),
      agencyCode: input.agencyCode,
      businessDay: String(row.day),
      kind: String(row.kind),
      resolution: "HANDLED",
      handledBy: actor,
      handledAt: now.toISOString(),
      handledNote: input.note,
    };
  });
}

/**
 * A rerun replaces a day's findings. What a person marked handled stays handled when the rerun
 * finds the same difference again (same kind, subject, ids and amounts): call before the rerun's
 * DELETE, and the returned function after its INSERTs, in the same transaction.
 */
export async function keepHandledReconciliation(
  tx: Tx,
  agencyCode: string,
  channel: string,
  businessDay: string,
): Promise<() => Promise<void>> {
  const handled = await tx.query<Record<string, unknown>>(
    `SELECT kind, subject, order_id, refund_id, payment_id, receipt_id, channel_trade_no, our_fen, channel_fen,
            handled_by, handled_at, handled_note
       FROM payment_difference
      WHERE agency_code = $1 AND channel = $2 AND business_day = $3 AND resolution = 'HANDLED'`,
    [agencyCode, channel, businessDay],
  );
  return async () => {
    for (const h of handled) {
      await tx.query(
        `UPDATE payment_difference SET resolution = 'HANDLED', handled_by = $13, handled_at = $14, handled_note = $15
          WHERE id = (SELECT id FROM payment_difference
                       WHERE agency_code = $1 AND channel = $2 AND business_day = $3 AND resolution = 'OPEN'
                         AND kind = $4 AND subject = $5 AND order_id IS NOT DISTINCT FROM $6
                         AND refund_id IS NOT DISTINCT FROM $7 AND payment_id IS NOT DISTINCT FROM $8
                         AND receipt_id IS NOT DISTINCT FROM $9 AND channel_trade_no IS NOT DISTINCT FROM $10
                         AND our_fen IS NOT DISTINCT FROM $11::bigint AND channel_fen IS NOT DISTINCT FROM $12::bigint
                       ORDER BY id LIMIT 1)`,
        [
          agencyCode,
          channel,
          businessDay,
          h.kind,
          h.subject,
          h.order_id,
          h.refund_id,
          h.payment_id,
          h.receipt_id,
          h.channel_trade_no,
          h.our_fen,
          h.channel_fen,
          h.handled_by,
          h.handled_at,
          h.handled_note,
        ],
      );
    }
  };
}

/** As `keepHandledReconciliation`, for a settlement day's funds arrival differences. */
export async function keepHandledFunds(
  tx: Tx,
  agencyCode: string,
  settlementDay: string,
): Promise<() => Promise<void>> {
  const handled = await tx.query<Record<string, unknown>>(
    `SELECT kind, channel, entry_ref, debtor_account, expected_fen, arrived_fen, handled_by, handled_at, handled_note
       FROM funds_difference WHERE agency_code = $1 AND settlement_day = $2 AND handled_at IS NOT NULL`,
    [agencyCode, settlementDay],
  );
  return async () => {
    for (const h of handled) {
      await tx.query(
        `UPDATE funds_difference SET handled_by = $9, handled_at = $10, handled_note = $11
          WHERE id = (SELECT id FROM funds_difference
                       WHERE agency_code = $1 AND settlement_day = $2 AND handled_at IS NULL AND kind = $3
                         AND channel IS NOT DISTINCT FROM $4 AND entry_ref IS NOT DISTINCT FROM $5
                         AND debtor_account IS NOT DISTINCT FROM $6
                         AND expected_fen IS NOT DISTINCT FROM $7::bigint AND arrived_fen IS NOT DISTINCT FROM $8::bigint
                       ORDER BY id LIMIT 1)`,
        [
          agencyCode,
          settlementDay,
          h.kind,
          h.channel,
          h.entry_ref,
          h.debtor_account,
          h.expected_fen,
          h.arrived_fen,
          h.handled_by,
          h.handled_at,
          h.handled_note,
        ],
      );
    }
  };
}

/** The key of an instruction's attempt at the non-tax system: its id, then `<id>-R<n>` after the n-th re-send. */
export const sendKeyOf = (id: string, resends: number) => (resends > 0 ? `${id}-R${resends}` : id);

/**
 * 重新发送: a REFUSED instruction (the non-tax system or the bank said no) or a PARKED one (never
 * taken after every try) goes out again after a person's decision. A refused one is a new attempt
 * there under its next key (the refusal under the old key is final there); a parked one keeps its
 * key (it may have been taken with the answer lost: the same key is the same instruction). The
 * row is locked: a second re-send while this one is in flight (PENDING or ACCEPTED) is `409
 * CLEARING_RESEND_IN_FLIGHT`, a DONE instruction is `409 CLEARING_INSTRUCTION_DONE` and never sent
 * again. The batch goes back to INSTRUCTED until the instruction ends again.
 */
export async function resendInstruction(
  ctx: PaymentContext,
  actor: string,
  input: { id: string; agencyCode: string; note: string },
): Promise<Record<string, unknown>> {
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx.query<Record<string, unknown>>(
      `SELECT id, batch_id, business_day, account_no, amount_fen, status, resends, note
         FROM clearing_instruction WHERE id = $1 AND agency_code = $2 FOR UPDATE`,
      [input.id, input.agencyCode],
    );
    if (!row) {
      throw new AppError("not_found", `no clearing instruction ${input.id} of ${input.agencyCode}`, {
        code: "CLEARING_INSTRUCTION_NOT_FOUND",
      });
    }
    const status = String(row.status);
    if (status === "DONE") {
      throw new AppError("conflict", `instruction ${input.id} is done: it is never sent again`, {
        code: "CLEARING_INSTRUCTION_DONE",
      });
    }
    if (status === "PENDING" || status === "ACCEPTED") {
      throw new AppError("conflict", `instruction ${input.id} is ${status}: an attempt is in flight`, {
        code: "CLEARING_RESEND_IN_FLIGHT",
      });
    }
    const resends = Number(row.resends) + (status === "REFUSED" ? 1 : 0);
    const now = ctx.clock();
    await tx.query(
      `UPDATE clearing_instruction SET status = 'PENDING', attempts = 0, next_attempt_at = $2, last_error = NULL,
         note = NULL, settled_at = NULL, resends = $3, resent_by = $4, resent_at = $2, resend_note = $5 WHERE id = $1`,
      [input.id, now, resends, actor, input.note],
    );
    await tx.query("UPDATE clearing_batch SET status = 'INSTRUCTED' WHERE id = $1 AND status = 'REFUSED'", [
      row.batch_id,
    ]);
    await audit(tx, now, actor, "clearing-instruction.resend", `clearing-instruction:${input.id}`, {
      agencyCode: input.agencyCode,
      businessDay: String(row.business_day),
      accountNo: row.account_no,
      amountFen: Number(row.amount_fen),
      before: { status, ...(row.note ? { refusal: row.note } : {}) },
      after: { status: "PENDING", sendKey: sendKeyOf(input.id, resends) },
      note: input.note,
    });
    return {
      instructionId: input.id,
      status: "PENDING",
      resends,
      sendKey: sendKeyOf(input.id, resends),
      resentBy: actor,
      resentAt: now.toISOString(),
      resendNote: input.note,
    };
  });
}

/**
 * The differences work list (差异工作台) for the console: every difference of channel,
 * three-way and funds arrival reconciliation of an agency over days, newest day first, one list.
 */
export async function listDifferences(
  ctx: PaymentContext,
  q: {
    agencyCode: string;
    status?: "OPEN" | "HANDLED" | undefined;
    leg?: "channel" | "receipt" | "funds" | undefined;
    from?: string | undefined;
    to?: string | undefined;
    limit: number;
    offset: number;
  },
): Promise<{ total: number; items: Array<Record<string, unknown>> }> {
  const union = `
    SELECT 'reconciliation' AS source, id, agency_code, business_day AS day,
           CASE WHEN channel = 'receipt' THEN 'receipt' ELSE 'channel' END AS leg, channel, kind, subject,
           order_id, refund_id, payment_id, receipt_id, channel_trade_no, NULL AS entry_ref, NULL AS debtor_account,
           our_fen, channel_fen AS other_fen, resolution, found_at, handled_by, handled_at, handled_note
      FROM payment_difference
    UNION ALL
    SELECT 'funds', id, agency_code, settlement_day, 'funds', channel, kind, NULL, NULL, NULL, NULL, NULL, NULL,
           entry_ref, debtor_account, expected_fen, arrived_fen,
           CASE WHEN handled_at IS NULL THEN 'OPEN' ELSE 'HANDLED' END, found_at, handled_by, handled_at, handled_note
      FROM funds_difference`;
  const where: string[] = ["agency_code = $1"];
  const args: unknown[] = [q.agencyCode];
  const add = (sql: string, value: unknown) => {
    args.push(value);
    where.push(sql.replace("?", `$${args.length}`));
  };
  // OPEN and HANDLED are the person's; REPAIRED and HELD (done here, or waiting) show only unfiltered.
  if (q.status) add("resolution = ?", q.status);
  if (q.leg) add("leg = ?", q.leg);
  if (q.from) add("day >= ?", q.from);
  if (q.to) add("day <= ?", q.to);
  const clause = where.join(" AND ");
  const [count] = await ctx.db.query<{ n: string | number }>(
    `SELECT count(*) AS n FROM (${union}) d WHERE ${clause}`,
    args,
  );
  const rows = await ctx.db.query<Record<string, unknown>>(
    `SELECT * FROM (${union}) d WHERE ${clause}
      ORDER BY day DESC, source, id LIMIT ${q.limit} OFFSET ${q.offset}`,
    args,
  );
  const n = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
  const s = (v: unknown) => (v === null || v === undefined ? undefined : String(v));
  return {
    total: Number(count?.n ?? 0),
    items: rows.map((r) => ({
      source: r.source,
      id: String(r.id),
      businessDay: String(r.day),
      leg: r.leg,
      channel: s(r.channel),
      kind: r.kind,
      subject: s(r.subject),
      orderId: s(r.order_id),
      refundId: s(r.refund_id),
      paymentId: s(r.payment_id),
      receiptId: s(r.receipt_id),
      channelTradeNo: s(r.channel_trade_no),
      entryRef: s(r.entry_ref),
      debtorAccount: s(r.debtor_account),
      ourFen: n(r.our_fen),
      otherFen: n(r.other_fen),
      resolution: r.resolution,
      foundAt: new Date(r.found_at as string).toISOString(),
      handledBy: s(r.handled_by),
      handledAt: r.handled_at ? new Date(r.handled_at as string).toISOString() : undefined,
      handledNote: s(r.handled_note),
    })),
  };
}
