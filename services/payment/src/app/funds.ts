import { FundsArrivalReconciled } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import type { BankChannel } from "../adapters/bank/bank-channel.ts";
import { ChannelRefusedError, ChannelUnavailableError } from "../adapters/channel.ts";
import { audit, channelAccount, type PaymentContext, unsealJson } from "./context.ts";
import { keepHandledFunds } from "./handling.ts";

export type FundsDifferenceKind = "SETTLED_NOT_ARRIVED" | "ARRIVED_NOT_SETTLED" | "AMOUNT_DIFFERS";

export interface FundsDifference {
  kind: FundsDifferenceKind;
  channel?: string;
  entryRef?: string;
  debtorAccount?: string;
  expectedFen?: number;
  arrivedFen?: number;
}

export interface FundsResult {
  agencyCode: string;
  settlementDay: string;
  arrivalDay: string;
  matched: number;
  expectedFen: number;
  arrivedFen: number;
  settlements: Array<{ channel: string; expectedFen: number; arrivedFen: number; entries: number }>;
  differences: FundsDifference[];
}

const nextDay = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/**
 * 到账资金对账 (issue 14 item 5): what each channel says it settled for the agency's day (its own
 * statement: taken − refunded − fees) against what arrived on the agency's account, read from the
 * account statement the agency bank gives (camt.053, booking day = the arrival day, T+1 unless
 * told). A channel's credits are known by the account they come from (the channel account's
 * `settlementAccount`: Alipay's and WeChat Pay's settlement accounts, the bank's own clearing
 * account for counter collections). Found: SETTLED_NOT_ARRIVED (a settlement with no credit),
 * AMOUNT_DIFFERS (credits from the channel that do not add up to its settlement),
 * ARRIVED_NOT_SETTLED (a credit from no channel's account). Only booked CNY credits count. A
 * rerun replaces the day's findings; one event for reporting.
 */
export async function reconcileFunds(
  ctx: PaymentContext,
  actor: string,
  input: { agencyCode: string; settlementDay: string; arrivalDay?: string | undefined },
): Promise<FundsResult> {
  const arrivalDay = input.arrivalDay ?? nextDay(input.settlementDay);
  const bank = ctx.channels.get("bank") as BankChannel | undefined;
  const bankAccount = await channelAccount(ctx, ctx.db, input.agencyCode, "bank");
  if (!bank || !bankAccount?.config.account) {
    throw new AppError("conflict", `agency ${input.agencyCode} has no account at its bank configured`, {
      code: "CHANNEL_NOT_ENABLED",
    });
  }
  const accounts = await ctx.db.query<{ channel: string; account_id: string; sealed: Uint8Array }>(
    "SELECT channel, account_id, sealed FROM channel_account WHERE agency_code = $1 ORDER BY channel",
    [input.agencyCode],
  );
  const unavailable = (what: string, error: unknown): never => {
    if (error instanceof ChannelUnavailableError || error instanceof ChannelRefusedError) {
      throw new AppError("unavailable", `${what} could not be read: ${error.message}`, {
        code: "CHANNEL_UNAVAILABLE",
        cause: error,
      });
    }
    throw error;
  };
  const statement = await bank
    .accountStatement(bankAccount, arrivalDay)
    .catch((e) => unavailable("the account statement", e));
  const credits = statement.entries.filter((e) => e.credit && e.status === "BOOK" && e.currency === "CNY");
  const claimed = new Set<string>();
  const settlements: FundsResult["settlements"] = [];
  const differences: FundsDifference[] = [];
  let matched = 0;
  for (const row of accounts) {
    const channel = ctx.channels.get(row.channel);
    if (!channel) continue;
    const account = {
      accountId: row.account_id,
      config: unsealJson<Record<string, string>>(ctx, row.sealed),
    };
    const lines = await channel
      .statement(account, input.settlementDay)
      .catch((e) => unavailable(`${row.channel}'s statement`, e));
    const expectedFen = lines.reduce(
      (sum, l) => sum + (l.kind === "payment" ? l.amountFen : -l.amountFen) - (l.feeFen ?? 0),
      0,
    );
    const from = account.config.settlementAccount;
    const mine = from ? credits.filter((e) => e.debtorAccount === from && !claimed.has(e.ref)) : [];
    for (const e of mine) claimed.add(e.ref);
    const arrivedFen = mine.reduce((s, e) => s + e.amountFen, 0);
    if (lines.length === 0 && mine.length === 0) continue;
    settlements.push({ channel: row.channel, expectedFen, arrivedFen, entries: mine.length });
    const base = { channel: row.channel, expectedFen, ...(from ? { debtorAccount: from } : {}) };
    if (mine.length === 0) {
      if (expectedFen !== 0) differences.push({ ...base, kind: "SETTLED_NOT_ARRIVED" });
      else matched++;
    } else if (arrivedFen !== expectedFen) {
      differences.push({
        ...base,
        kind: "AMOUNT_DIFFERS",
        arrivedFen,
        ...(mine.length === 1 ? { entryRef: mine[0]?.ref } : {}),
      });
    } else matched++;
  }
  for (const e of credits) {
    if (claimed.has(e.ref)) continue;
    differences.push({
      kind: "ARRIVED_NOT_SETTLED",
      entryRef: e.ref,
      arrivedFen: e.amountFen,
      ...(e.debtorAccount ? { debtorAccount: e.debtorAccount } : {}),
    });
  }
  const expectedFen = settlements.reduce((s, x) => s + x.expectedFen, 0);
  const arrivedFen = credits.reduce((s, e) => s + e.amountFen, 0);
  await ctx.inTransaction(async (tx, emit) => {
    const now = ctx.clock();
    const restoreHandled = await keepHandledFunds(tx, input.agencyCode, input.settlementDay);
    await tx.query("DELETE FROM funds_difference WHERE agency_code = $1 AND settlement_day = $2", [
      input.agencyCode,
      input.settlementDay,
    ]);
    for (const d of differences) {
      await tx.query(
        `INSERT INTO funds_difference (agency_code, settlement_day, kind, channel, entry_ref, debtor_account,
           expected_fen, arrived_fen, found_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
        [
          input.agencyCode,
          input.settlementDay,
          d.kind,
          d.channel ?? null,
          d.entryRef ?? null,
          d.debtorAccount ?? null,
          d.expectedFen ?? null,
          d.arrivedFen ?? null,
          now,
        ],
      );
    }
    await restoreHandled();
    await tx.query(
      `INSERT INTO funds_reconciliation (agency_code, settlement_day, arrival_day, matched, differences, expected_fen,
         arrived_fen, ran_at, ran_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
       ON CONFLICT (agency_code, settlement_day) DO UPDATE SET arrival_day = $3, matched = $4, differences = $5,
         expected_fen = $6, arrived_fen = $7, ran_at = $8, ran_by = $9`,
      [
        input.agencyCode,
        input.settlementDay,
        arrivalDay,
        matched,
        differences.length,
        expectedFen,
        arrivedFen,
        now,
        actor,
      ],
    );
    await audit(
      tx,
      now,
      actor,
      "payment.funds.reconcile",
      `funds:${input.agencyCode}:${input.settlementDay}`,
      {
        arrivalDay,
        matched,
        differences: differences.length,
      },
    );
    emit(FundsArrivalReconciled, {
      agencyCode: input.agencyCode,
      settlementDay: input.settlementDay,
      arrivalDay,
      matched,
      expectedFen,
      arrivedFen,
      differences: differences.map((d) => ({
        kind: d.kind,
        ...(d.channel ? { channel: d.channel } : {}),
        ...(d.entryRef ? { entryRef: d.entryRef.slice(0, 64) } : {}),
        ...(d.expectedFen !== undefined ? { expectedFen: d.expectedFen } : {}),
        ...(d.arrivedFen !== undefined ? { arrivedFen: d.arrivedFen } : {}),
      })),
      completedAt: now.toISOString(),
    });
  });
  return {
    agencyCode: input.agencyCode,
    settlementDay: input.settlementDay,
    arrivalDay,
    matched,
    expectedFen,
    arrivedFen,
    settlements,
    differences,
  };
}

/** The stored result of a day's funds arrival match (GET …/funds-arrivals/:day). */
export async function fundsResultOf(ctx: PaymentContext, agencyCode: string, settlementDay: string) {
  const [run] = await ctx.db.query<Record<string, unknown>>(
    "SELECT * FROM funds_reconciliation WHERE agency_code = $1 AND settlement_day = $2",
    [agencyCode, settlementDay],
  );
  if (!run) {
    throw new AppError("not_found", `no funds arrival match of ${settlementDay} for ${agencyCode}`, {
      code: "FUNDS_RECONCILIATION_NOT_FOUND",
    });
  }
  const rows = await ctx.db.query<Record<string, unknown>>(
    "SELECT * FROM funds_difference WHERE agency_code = $1 AND settlement_day = $2 ORDER BY id",
    [agencyCode, settlementDay],
  );
  const n = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
  return {
    agencyCode,
    settlementDay,
    arrivalDay: String(run.arrival_day),
    matched: Number(run.matched),
    expectedFen: Number(run.expected_fen),
    arrivedFen: Number(run.arrived_fen),
    ranAt: new Date(run.ran_at as Date).toISOString(),
    differences: rows.map((r) => ({
      kind: r.kind as FundsDifferenceKind,
      ...(r.channel ? { channel: String(r.channel) } : {}),
      ...(r.entry_ref ? { entryRef: String(r.entry_ref) } : {}),
      ...(r.debtor_account ? { debtorAccount: String(r.debtor_account) } : {}),
      ...(n(r.expected_fen) !== undefined ? { expectedFen: n(r.expected_fen) } : {}),
      ...(n(r.arrived_fen) !== undefined ? { arrivedFen: n(r.arrived_fen) } : {}),
      id: String(r.id),
      resolution: r.handled_at ? "HANDLED" : "OPEN",
      ...(r.handled_at
        ? {
            handledBy: String(r.handled_by),
            handledAt: new Date(r.handled_at as Date).toISOString(),
            handledNote: String(r.handled_note),
          }
        : {}),
    })),
  };
}
