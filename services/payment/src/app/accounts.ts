import { audit, type PaymentContext, sealJson } from "./context.ts";

/**
 * Sets an agency's merchant account at a channel (its keys sealed at rest, never returned or
 * logged). Only the account id and the names of the configured fields are audited.
 */
export async function setChannelAccount(
  ctx: PaymentContext,
  actor: string,
  input: { agencyCode: string; channel: string; accountId: string; config: Record<string, string> },
): Promise<{ agencyCode: string; channel: string; accountId: string; fields: string[] }> {
  return ctx.db.transaction(async (tx) => {
    const now = ctx.clock();
    await tx.query(
      `INSERT INTO channel_account (agency_code, channel, account_id, sealed, updated_at, updated_by)
       VALUES ($1,$2,$3,$4,$5,$6)
       ON CONFLICT (agency_code, channel) DO UPDATE SET account_id = $3, sealed = $4, updated_at = $5, updated_by = $6`,
      [input.agencyCode, input.channel, input.accountId, sealJson(ctx, input.config), now, actor],
    );
    const fields = Object.keys(input.config).sort();
    await audit(
      tx,
      now,
      actor,
      "channel-account.set",
      `channel-account:${input.agencyCode}:${input.channel}`,
      {
        accountId: input.accountId,
        fields,
      },
    );
    return { agencyCode: input.agencyCode, channel: input.channel, accountId: input.accountId, fields };
  });
}
