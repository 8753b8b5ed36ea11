import { ChannelUnavailableError } from "../adapters/channel.ts";
import { channelAccount, type PaymentContext } from "./context.ts";
import type { OrderRow } from "./rows.ts";
import { applyOutcome } from "./settle.ts";

const MAX_QUERY_GAP_MS = 10 * 60_000;

/**
 * Settles by query what no notify settled (掉单处理): claims open orders whose next query is due
 * (SKIP LOCKED: replicas share them), asks the channel, and applies the answer like a notify.
 * An order past its expiry, or one whose payment another order already paid or that was closed,
 * is closed at the channel; if the payer got there first, the query's answer settles it (a
 * duplicate payment is held for refund, never a second completion). A channel that does not
 * answer leaves the order as it is, for the next round.
 */
export async function settleDueOrders(ctx: PaymentContext, limit = 20): Promise<number> {
  const now = ctx.clock();
  const due = await ctx.db.query<OrderRow & { payment_status: string; paid_order_id: string | null }>(
    `WITH claimed AS (
       SELECT id FROM payment_order WHERE status = 'OPEN' AND next_query_at <= $1
       ORDER BY next_query_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     UPDATE payment_order o SET queries = o.queries + 1,
       next_query_at = $1::timestamptz + LEAST($3::bigint * power(2, o.queries)::bigint, $4::bigint) * interval '1 millisecond'
     FROM claimed, payment p WHERE o.id = claimed.id AND p.id = o.payment_id
     RETURNING o.*, p.status AS payment_status, p.paid_order_id`,
    [now, limit, ctx.firstQueryAfterMs, MAX_QUERY_GAP_MS],
  );
  let settled = 0;
  for (const order of due) {
    const channel = ctx.channels.get(order.channel);
    const account = await channelAccount(ctx, ctx.db, order.agency_code, order.channel);
    if (!channel || !account) continue;
    try {
      const finished =
        new Date(order.expires_at).getTime() <= now.getTime() ||
        order.payment_status === "CLOSED" ||
        (order.paid_order_id !== null && order.paid_order_id !== order.id);
      if (finished) {
        const closed = await channel.close(account, order.id, new Date(order.opened_at));
        const outcome =
          closed === "closed"
            ? { kind: "closed" as const }
            : await channel.query(account, order.id, new Date(order.opened_at));
        await applyOutcome(ctx, order.id, outcome, "close");
      } else {
        const outcome = await channel.query(account, order.id, new Date(order.opened_at));
        await applyOutcome(ctx, order.id, outcome, "query");
        // Ask again no later than just after expiry, so an unpaid order is closed on time.
        await ctx.db.query(
          "UPDATE payment_order SET next_query_at = LEAST(next_query_at, expires_at + interval '1 second') WHERE id = $1 AND status = 'OPEN'",
          [order.id],
        );
      }
      settled++;
    } catch (error) {
      if (!(error instanceof ChannelUnavailableError)) throw error;
    }
  }
  return settled;
}
