import { AppError } from "@piaoju/runtime";
import type { ChannelAccount, NotifyReply, NotifyRequest } from "../adapters/channel.ts";
import { type PaymentContext, unsealJson } from "./context.ts";
import { applyOutcome } from "./settle.ts";

/**
 * A channel's asynchronous notify (异步通知). Its signature is checked with the channel's public
 * key of the account it names (in the form for Alipay, in the URL for WeChat Pay) before any
 * payment or order is read; then the order named must be that account's, and the amount is
 * matched against the order in applyOutcome. The answer is what the channel expects to read
 * ("success" for Alipay, HTTP 204 for WeChat Pay) once the notify is taken: a duplicate is taken
 * too (it changes nothing), a forgery or an unknown order is refused (the channel sends again).
 * Verified notifies are recorded in channel_notify; a forgery is not (the caller logs it), since
 * its sender is unknown.
 */
export async function takeNotify(
  ctx: PaymentContext,
  channelName: string,
  notify: NotifyRequest,
): Promise<{ taken: boolean; reply: NotifyReply; forged?: boolean }> {
  const channel = ctx.channels.get(channelName);
  // No channel by that name: nobody's protocol to answer in, so a problem document like any route's.
  if (!channel) throw new AppError("not_found", `no channel ${channelName}`, { code: "CHANNEL_UNKNOWN" });
  const log = (verified: boolean, outcome: string, orderId?: string) =>
    ctx.db.query(
      "INSERT INTO channel_notify (channel, order_id, verified, outcome, received_at) VALUES ($1,$2,$3,$4,$5)",
      [channelName, orderId ?? null, verified, outcome, ctx.clock()],
    );
  const accountId = channel.notifyAccountId(notify);
  const [row] = accountId
    ? await ctx.db.query<{ account_id: string; sealed: Uint8Array }>(
        "SELECT account_id, sealed FROM channel_account WHERE channel = $1 AND account_id = $2 LIMIT 1",
        [channelName, accountId],
      )
    : [];
  const account: ChannelAccount | undefined = row
    ? { accountId: row.account_id, config: unsealJson(ctx, row.sealed) }
    : undefined;
  const verified = account ? channel.verifyNotify(account, notify) : undefined;
  // A notify whose signature does not verify is anyone's request: it is refused without a write
  // (the caller logs it), so that nobody outside can add rows to the payment database.
  if (!verified) return { taken: false, reply: channel.notifyAnswer.refused, forged: true };
  if (verified.refundId !== undefined) {
    // A refund's result: the refund is asked about at once (queryRefund), not read from here.
    const woken = await ctx.db.query<{ id: string }>(
      `UPDATE payment_refund SET next_attempt_at = $2 WHERE id = $1 AND channel = $3 AND status = 'SENT'
         RETURNING id`,
      [verified.refundId, ctx.clock(), channelName],
    );
    await log(true, woken.length > 0 ? "REFUND_NOTIFY" : "REFUND_NOTIFY_SETTLED");
    return { taken: true, reply: channel.notifyAnswer.taken };
  }
  const [order] = await ctx.db.query<{ id: string }>(
    "SELECT id FROM payment_order WHERE id = $1 AND channel = $2 AND channel_account = $3",
    [verified.orderId, channelName, verified.accountId],
  );
  if (!order) {
    await log(true, "UNKNOWN_ORDER", verified.orderId);
    return { taken: false, reply: channel.notifyAnswer.refused };
  }
  const result = await applyOutcome(ctx, order.id, verified.outcome, "notify");
  await log(true, result, order.id);
  return { taken: true, reply: channel.notifyAnswer.taken };
}
