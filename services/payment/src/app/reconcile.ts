import { ChannelDifferenceFound, ChannelReconciled } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import type { StatementLine } from "../adapters/channel.ts";
import { audit, channelAccount, type PaymentContext } from "./context.ts";
import { keepHandledReconciliation } from "./handling.ts";
import { settleRefundByQuery } from "./refunds.ts";
import type { OrderRow } from "./rows.ts";
import { applyOutcome } from "./settle.ts";

export type DifferenceKind =
  | "ONLY_AT_CHANNEL"
  | "ONLY_HERE"
  | "AMOUNT"
  | "STATUS"
  | "LOST_NOTIFY"
  | "CROSS_DAY";

export interface Difference {
  kind: DifferenceKind;
  subject: "payment" | "refund";
  orderId?: string;
  refundId?: string;
  channelTradeNo?: string;
  ourFen?: number;
  channelFen?: number;
  /** OPEN: for a person (the work list); REPAIRED: settled here by query; HELD: the next day's statement has it. */
  resolution: "OPEN" | "REPAIRED" | "HELD";
}

export interface ReconciliationResult {
  agencyCode: string;
  channel: string;
  businessDay: string;
  matched: number;
  collectedFen: number;
  refundedFen: number;
  differences: Difference[];
}

const dayStart = (day: string) => new Date(`${day}T00:00:00+08:00`);
const nextDay = (day: string) =>
  new Date(dayStart(day).getTime() + 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 10);

/**
 * 日终对账: the channel's statement of an agency's day matched against the payments and refunds
 * booked here for it (Asia/Shanghai days). Payment lines by our out_trade_no, refund lines by our
 * refund id. Classified: only at the channel, only here, amount, status; a payment the channel
 * took that is not paid here is queried and completed (a lost notify: REPAIRED); one paid here
 * late in the day and booked on the channel's next day is held (CROSS_DAY), not a difference.
 * A rerun replaces the day's findings.
 */
export async function reconcileDay(
  ctx: PaymentContext,
  actor: string,
  input: { agencyCode: string; channel: string; businessDay: string },
): Promise<ReconciliationResult> {
  const channel = ctx.channels.get(input.channel);
  const account = await channelAccount(ctx, ctx.db, input.agencyCode, input.channel);
  if (!channel || !account) {
    throw new AppError("conflict", `agency ${input.agencyCode} has not enabled ${input.channel}`, {
      code: "CHANNEL_NOT_ENABLED",
    });
  }
  const lines = await channel.statement(account, input.businessDay);
  const from = dayStart(input.businessDay);
  const to = dayStart(nextDay(input.businessDay));
  const differences: Difference[] = [];
  let matched = 0;
  let collectedFen = 0;
  let refundedFen = 0;

  const seenOrders = new Set<string>();
  for (const line of lines.filter((l) => l.kind === "payment")) {
    seenOrders.add(line.orderId);
    let [order] = await ctx.db.query<OrderRow>(
      "SELECT * FROM payment_order WHERE id = $1 AND agency_code = $2 AND channel = $3",
      [line.orderId, input.agencyCode, input.channel],
    );
    const base = {
      subject: "payment" as const,
      orderId: line.orderId,
      channelTradeNo: line.channelTradeNo,
      channelFen: line.amountFen,
    };
    if (!order) {
      differences.push({ ...base, kind: "ONLY_AT_CHANNEL", resolution: "OPEN" });
      continue;
    }
    if (order.status !== "PAID") {
      // The channel took it and we do not know: its notify was lost. Ask, and settle as a notify would.
      const outcome = await channel.query(account, order.id, new Date(order.opened_at));
      await applyOutcome(ctx, order.id, outcome, "query");
      [order] = await ctx.db.query<OrderRow>("SELECT * FROM payment_order WHERE id = $1", [line.orderId]);
      const repaired = order?.status === "PAID";
      differences.push({
        ...base,
        kind: repaired ? "LOST_NOTIFY" : "STATUS",
        resolution: repaired ? "REPAIRED" : "OPEN",
      });
      if (!repaired) continue;
    }
    const taken = Number(order?.taken_fen ?? order?.amount_fen ?? 0);
    if (taken !== line.amountFen) {
      differences.push({ ...base, kind: "AMOUNT", ourFen: taken, resolution: "OPEN" });
      continue;
    }
    matched++;
    collectedFen += line.amountFen;
  }

  const ours = await ctx.db.query<OrderRow>(
    `SELECT * FROM payment_order WHERE agency_code = $1 AND channel = $2 AND status = 'PAID'
       AND paid_at >= $3 AND paid_at < $4 ORDER BY paid_at`,
    [input.agencyCode, input.channel, from, to],
  );
  let tomorrow: StatementLine[] | undefined;
  for (const order of ours) {
    if (seenOrders.has(order.id)) continue;
    const base = {
      subject: "payment" as const,
      orderId: order.id,
      ourFen: Number(order.taken_fen ?? order.amount_fen),
      ...(order.channel_trade_no ? { channelTradeNo: order.channel_trade_no } : {}),
    };
    // Paid here just before midnight, booked by the channel on its next day: held, not a difference.
    tomorrow ??= await channel.statement(account, nextDay(input.businessDay)).catch(() => []);
    const there = tomorrow.find((l) => l.kind === "payment" && l.orderId === order.id);
    differences.push(
      there
        ? { ...base, kind: "CROSS_DAY", channelFen: there.amountFen, resolution: "HELD" }
        : { ...base, kind: "ONLY_HERE", resolution: "OPEN" },
    );
  }

  const seenRefunds = new Set<string>();
  for (const line of lines.filter((l) => l.kind === "refund")) {
    const refundId = line.refundId ?? "";
    seenRefunds.add(refundId);
    let [refund] = /^[0-9a-f-]{36}$/.test(refundId)
      ? await ctx.db.query<{ status: string; amount_fen: string | number; answer_lost: boolean }>(
          "SELECT status, amount_fen, answer_lost FROM payment_refund WHERE id = $1 AND agency_code = $2",
          [refundId, input.agencyCode],
        )
      : [];
    const base = {
      subject: "refund" as const,
      orderId: line.orderId,
      refundId,
      channelTradeNo: line.channelTradeNo,
      channelFen: line.amountFen,
    };
    if (refund?.status === "SENT") {
      // The channel refunded it and its answer never came: ask, and finish as the answer would have.
      const repaired = await settleRefundByQuery(ctx, refundId).catch(() => undefined);
      if (repaired) refund = { status: "REFUNDED", amount_fen: repaired.amount_fen, answer_lost: true };
    }
    // Made at the channel, its answer lost here: settled by a query (here, or the refund round's).
    if (refund?.status === "REFUNDED" && refund.answer_lost) {
      differences.push({ ...base, kind: "LOST_NOTIFY", resolution: "REPAIRED" });
    }
    if (!refund) differences.push({ ...base, kind: "ONLY_AT_CHANNEL", resolution: "OPEN" });
    else if (refund.status !== "REFUNDED") differences.push({ ...base, kind: "STATUS", resolution: "OPEN" });
    else if (Number(refund.amount_fen) !== line.amountFen)
      differences.push({ ...base, kind: "AMOUNT", ourFen: Number(refund.amount_fen), resolution: "OPEN" });
    else {
      matched++;
      refundedFen += line.amountFen;
    }
  }
  const ourRefunds = await ctx.db.query<{
    id: string;
    order_id: string;
    channel_trade_no: string;
    amount_fen: string | number;
  }>(
    `SELECT id, order_id, channel_trade_no, amount_fen FROM payment_refund WHERE agency_code = $1 AND channel = $2
       AND status = 'REFUNDED' AND refunded_at >= $3 AND refunded_at < $4`,
    [input.agencyCode, input.channel, from, to],
  );
  for (const r of ourRefunds) {
    if (seenRefunds.has(r.id)) continue;
    differences.push({
      kind: "ONLY_HERE",
      subject: "refund",
      orderId: r.order_id,
      refundId: r.id,
      channelTradeNo: r.channel_trade_no,
      ourFen: Number(r.amount_fen),
      resolution: "OPEN",
    });
  }

  await ctx.inTransaction(async (tx, emit) => {
    const now = ctx.clock();
    const restoreHandled = await keepHandledReconciliation(
      tx,
      input.agencyCode,
      input.channel,
      input.businessDay,
    );
    await tx.query(
      "DELETE FROM payment_difference WHERE agency_code = $1 AND channel = $2 AND business_day = $3",
      [input.agencyCode, input.channel, input.businessDay],
    );
    for (const d of differences) {
      await tx.query(
        `INSERT INTO payment_difference (agency_code, channel, business_day, kind, subject, order_id, refund_id,
           channel_trade_no, our_fen, channel_fen, resolution, found_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
        [
          input.agencyCode,
          input.channel,
          input.businessDay,
          d.kind,
          d.subject,
          d.orderId ?? null,
          d.refundId ?? null,
          d.channelTradeNo ?? null,
          d.ourFen ?? null,
          d.channelFen ?? null,
          d.resolution,
          now,
        ],
      );
      emit(ChannelDifferenceFound, {
        agencyCode: input.agencyCode,
        channel: input.channel,
        businessDay: input.businessDay,
        ...d,
        foundAt: now.toISOString(),
      });
    }
    await restoreHandled();
    const count = (r: Difference["resolution"]) => differences.filter((d) => d.resolution === r).length;
    await tx.query(
      `INSERT INTO payment_reconciliation (agency_code, channel, business_day, matched, differences, repaired, held,
         collected_fen, refunded_fen, ran_at, ran_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
       ON CONFLICT (agency_code, channel, business_day) DO UPDATE SET matched = $4, differences = $5, repaired = $6,
         held = $7, collected_fen = $8, refunded_fen = $9, ran_at = $10, ran_by = $11`,
      [
        input.agencyCode,
        input.channel,
        input.businessDay,
        matched,
        count("OPEN"),
        count("REPAIRED"),
        count("HELD"),
        collectedFen,
        refundedFen,
        now,
        actor,
      ],
    );
    await audit(tx, now, actor, "payment.reconcile", `reconciliation:${input.channel}:${input.businessDay}`, {
      agencyCode: input.agencyCode,
      matched,
      differences: count("OPEN"),
    });
    emit(ChannelReconciled, {
      agencyCode: input.agencyCode,
      channel: input.channel,
      businessDay: input.businessDay,
      matched,
      differences: count("OPEN"),
      repaired: count("REPAIRED"),
      held: count("HELD"),
      collectedFen,
      refundedFen,
      completedAt: now.toISOString(),
    });
  });
  return { ...input, matched, collectedFen, refundedFen, differences };
}
