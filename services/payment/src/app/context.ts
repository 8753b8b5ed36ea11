import { transactionsWithEvents } from "@piaoju/bus";
import type { Emit } from "@piaoju/contracts";
import { sealSm4, unsealSm4 } from "@piaoju/gm-crypto";
import type { Database, SqlExecutor, UnitOfWork } from "@piaoju/persistence";
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
  /** SM4 key sealing payers, channel keys and callback secrets at rest. */
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

export function sealJson(ctx: PaymentContext, value: unknown): Buffer {
  return sealSm4(ctx.sealKey, Buffer.from(JSON.stringify(value), "utf8"));
}

export function unsealJson<T>(ctx: PaymentContext, sealed: Uint8Array): T {
  return JSON.parse(unsealSm4(ctx.sealKey, Buffer.from(sealed)).toString("utf8")) as T;
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
