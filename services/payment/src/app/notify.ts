import { AppError } from "@piaoju/runtime";
import type { ChannelAccount, NotifyReply, NotifyRequest, RefundNotice } from "../adapters/channel.ts";
import { type PaymentContext, unsealJson } from "./context.ts";
import { finishRefund, type RefundRow, rejectRefund } from "./refunds.ts";
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
  if (verified.refundId !== undefined && verified.refund) {
    return takeRefundNotify(ctx, channelName, { ...verified, refund: verified.refund }, log);
  }
  if (verified.refundId !== undefined) {
    // A refund's result that says nothing itself: the refund is asked about at once (queryRefund).
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A verified refund notify that says what became of the refund (WeChat Pay's 退款结果通知). The
 * refund must be ours, of that channel, on an order of the account whose key verified it, for the
 * order the notify names; then it is applied as the refunder's query would apply the same word:
 * REFUND.SUCCESS for the refund's amount finishes a SENT refund (finishRefund: the payment locked,
 * only a SENT refund moves, so a duplicate notify, or one after the query settled it, changes
 * nothing); another amount is held (recorded, the refund asked about at once, nothing settled);
 * REFUND.CLOSED frees the reserved amount (FAILED); REFUND.ABNORMAL leaves it SENT, noted, for
 * a person to act at the channel. Taken (the channel stops sending) unless the refund is unknown.
 */
async function takeRefundNotify(
  ctx: PaymentContext,
  channelName: string,
  verified: { accountId: string; refundId: string; orderId?: string | undefined; refund: RefundNotice },
  log: (verified: boolean, outcome: string, orderId?: string) => Promise<unknown>,
): Promise<{ taken: boolean; reply: NotifyReply }> {
  const channel = ctx.channels.get(channelName)!;
  const [r] = UUID.test(verified.refundId)
    ? await ctx.db.query<RefundRow & { channel_account: string }>(
        `SELECT r.*, o.channel_account FROM payment_refund r JOIN payment_order o ON o.id = r.order_id
         WHERE r.id = $1 AND r.channel = $2`,
        [verified.refundId, channelName],
      )
    : [];
  if (
    !r ||
    r.channel_account !== verified.accountId ||
    (verified.orderId && verified.orderId !== r.order_id)
  ) {
    await log(true, "UNKNOWN_REFUND", r?.order_id);
    return { taken: false, reply: channel.notifyAnswer.refused };
  }
  const taken = { taken: true, reply: channel.notifyAnswer.taken };
  if (r.status !== "SENT") {
    // Settled already (by the query, or by this notify sent before): nothing more to do.
    await log(true, "REFUND_NOTIFY_SETTLED", r.order_id);
    return taken;
  }
  const notice = verified.refund;
  if (notice.kind === "abnormal") {
    await ctx.db.query("UPDATE payment_refund SET last_error = $2 WHERE id = $1 AND status = 'SENT'", [
      r.id,
      "退款异常 (REFUND.ABNORMAL): the payer's account cannot take it; act at the channel",
    ]);
    await log(true, "REFUND_ABNORMAL", r.order_id);
    return taken;
  }
  if (notice.kind === "closed") {
    const rejected = await rejectRefund(ctx, r, "channel", "退款关闭 (REFUND.CLOSED)");
    await log(true, rejected ? "REFUND_CLOSED" : "REFUND_NOTIFY_SETTLED", r.order_id);
    return taken;
  }
  if (notice.amountFen !== Number(r.amount_fen)) {
    // Signed by the channel, and not what we asked: held, and the channel asked at once.
    await ctx.db.query(
      "UPDATE payment_refund SET next_attempt_at = $2, last_error = $3 WHERE id = $1 AND status = 'SENT'",
      [
        r.id,
        ctx.clock(),
        `the refund notify says ${notice.amountFen} fen, the refund is ${Number(r.amount_fen)}`,
      ],
    );
    await log(true, "REFUND_AMOUNT_MISMATCH", r.order_id);
    return taken;
  }
  const finished = await finishRefund(ctx, r, notice);
  await log(true, finished ? "REFUNDED" : "REFUND_NOTIFY_SETTLED", r.order_id);
  return taken;
}
