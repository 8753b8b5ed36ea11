import { transactionsWithEvents } from "@piaoju/bus";
import type { Emit } from "@piaoju/contracts";
import type { Database, SqlExecutor, UnitOfWork } from "@piaoju/persistence";
import type { Sealer } from "@piaoju/sealing";
import type { ChannelAccount, PaymentChannel } from "../adapters/channel.ts";
import type { ClearingSender, NoticeIssuer } from "../adapters/nontax.ts";
import type { PaymentCodeRule } from "../domain/payment-code.ts";

export type Tx = SqlExecutor;

/** What every use case gets: the database, the clock, the channels, the keys. */
export interface PaymentContext {
  db: Database;
  clock: () => Date;
  /** Wakes the outbox relay after a commit that wrote events. */
  published: () => void;
  /** Seals payers, channel keys and callback secrets at rest (@piaoju/sealing: key ids, rotation). */
  sealer: Sealer;
  /** The current root key, from which the cashier's token key is derived. */
  sealKey: Buffer;
  codeRule: PaymentCodeRule;
  /** Finance's non-tax system, when configured: it makes the notices and codes (else codeRule here). */
  noticeIssuer?: NoticeIssuer | undefined;
  /** Where clearing instructions go (the same non-tax system); unset: none are sent. */
  clearing?: ClearingSender | undefined;
  channels: ReadonlyMap<string, PaymentChannel>;
  /** Where channels send their notifies, and the cashier's QR URLs point: the platform's public address. */
  publicUrl: () => string;
  /** How long after opening an order the settler first asks the channel, if no notify came. */
  firstQueryAfterMs: number;
  /** How long a channel order stays payable at most (and never past the amount's next change). */
  orderTtlMs: number;
  /** How long a payment or refund may wait for its receipt before the three-way match reports it. */
  receiptGraceMs?: number;
  inTransaction: <T>(work: (tx: Tx, emit: Emit) => Promise<T>) => Promise<T>;
}

export function unitOfWork(db: Database): UnitOfWork<Tx> {
  return (work) => db.transaction((tx) => work(tx, tx));
}

export function makeContext(c: Omit<PaymentContext, "inTransaction">): PaymentContext {
  return {
    ...c,
    inTransaction: transactionsWithEvents({
      unitOfWork: unitOfWork(c.db),
      producer: "payment",
      clock: c.clock,
      published: c.published,
    }),
  };
}

/** What payment seals is bound to this context (a sealed value of another service does not open here). */
const SEAL_CONTEXT = "payment/v1";

export function sealJson(ctx: PaymentContext, value: unknown): Buffer {
  return ctx.sealer.sealJson(SEAL_CONTEXT, value);
}

/** Opens what sealJson made, under any key of the ring, and what was sealed before it (gm-crypto's sealSm4). */
export function unsealJson<T>(ctx: PaymentContext, sealed: Uint8Array): T {
  return ctx.sealer.unsealJson<T>(SEAL_CONTEXT, sealed);
}

export async function audit(
  tx: Tx,
  at: Date,
  actor: string,
  action: string,
  subject: string,
  detail: unknown,
) {
  await tx.query(
    "INSERT INTO audit_log (actor, action, subject, detail, occurred_at) VALUES ($1, $2, $3, $4::jsonb, $5)",
    [actor, action, subject, JSON.stringify(detail), at],
  );
}

/** The agency's merchant account at a channel, unsealed (in memory only). */
export async function channelAccount(
  ctx: PaymentContext,
  sql: SqlExecutor,
  agencyCode: string,
  channel: string,
): Promise<ChannelAccount | undefined> {
  const [row] = await sql.query<{ account_id: string; sealed: Uint8Array }>(
    "SELECT account_id, sealed FROM channel_account WHERE agency_code = $1 AND channel = $2",
    [agencyCode, channel],
  );
  if (!row) return undefined;
  return { accountId: row.account_id, config: unsealJson(ctx, row.sealed) };
}
