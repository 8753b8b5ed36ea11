/** The channels a receipt can be delivered by (交付渠道). */
export const CHANNELS = ["EMAIL", "SMS", "WEBHOOK"] as const;
export type Channel = (typeof CHANNELS)[number];

/** What an agency authorized (交付渠道授权). */
export interface Authorization {
  email: boolean;
  sms: boolean;
  webhook: boolean;
}

export const NOTHING_AUTHORIZED: Authorization = { email: false, sms: false, webhook: false };

/**
 * The channels one receipt goes out on: those the agency authorized, the platform has a
 * provider for, and (for the payer's channels) the payer gave a contact for. The business
 * system's webhook needs no payer contact.
 */
export function planChannels(
  authorized: Authorization,
  providers: ReadonlySet<Channel>,
  contact: { email?: string | undefined; phone?: string | undefined },
): Channel[] {
  const wanted: Channel[] = [];
  if (authorized.email && contact.email) wanted.push("EMAIL");
  if (authorized.sms && contact.phone) wanted.push("SMS");
  if (authorized.webhook) wanted.push("WEBHOOK");
  return wanted.filter((c) => providers.has(c));
}
