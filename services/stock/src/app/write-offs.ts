import { randomUUID } from "node:crypto";
import { WriteOffRequested } from "@piaoju/contracts";
import type { LedgerSummary } from "../domain/ledger.ts";
import { checkPeriod, periodDays } from "../domain/removals.ts";
import { businessDate } from "../domain/segments.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { audit, lockBillKind, type StockContext, type Tx } from "./context.ts";
import { ledger } from "./ledger.ts";
import { type WriteOffView, writeOffView } from "./views.ts";

/** 核销: the month's write-off application, built from the ledger. */

/**
 * 核销申请 for a bill kind's month, built from the ledger. Idempotent per (agency, bill
 * kind, period): asking again returns the record already submitted, unchanged.
 */
export async function requestWriteOff(
  ctx: StockContext,
  actor: string,
  input: { agencyCode: string; billCode: string; period: string },
): Promise<{ created: boolean; writeOff: WriteOffView }> {
  checkPeriod(input.period, businessDate(ctx.clock()));
  return ctx.inTransaction(async (tx, emit) => {
    await lockBillKind(tx, input.agencyCode, input.billCode);
    const key = { agencyCode: input.agencyCode, billCode: input.billCode, period: input.period };
    const existing = await tx.writeOff.findUnique({ where: { agencyCode_billCode_period: key } });
    if (existing) return { created: false, writeOff: writeOffView(existing) };
    const record = await writeOffRecord(ctx, tx, input);
    const now = ctx.clock();
    const row = await tx.writeOff.create({
      data: {
        id: randomUUID(),
        ...key,
        status: "SUBMITTED",
        record: JSON.parse(JSON.stringify(record)) as Prisma.InputJsonValue,
        submittedBy: actor,
        submittedAt: now,
      },
    });
    await audit(tx, actor, "write-off.request", `write-off:${row.id}`, key);
    emit(WriteOffRequested, {
      writeOffId: row.id,
      ...key,
      ...record,
      submittedBy: actor,
      submittedAt: now.toISOString(),
    });
    return { created: true, writeOff: writeOffView(row) };
  });
}

export async function listWriteOffs(
  ctx: StockContext,
  q: { agencyCode: string; billCode?: string | undefined },
) {
  const rows = await ctx.prisma.writeOff.findMany({
    where: { agencyCode: q.agencyCode, ...(q.billCode ? { billCode: q.billCode } : {}) },
    orderBy: [{ period: "desc" }, { billCode: "asc" }],
    take: 1000,
  });
  return rows.map(writeOffView);
}

async function writeOffRecord(
  ctx: StockContext,
  tx: Tx,
  q: { agencyCode: string; billCode: string; period: string },
) {
  const days = periodDays(q.period);
  const base = { agencyCode: q.agencyCode, billCode: q.billCode, ...days };
  const points = await tx.ledgerEntry.findMany({
    where: { agencyCode: q.agencyCode, billCode: q.billCode, issuingPointCode: { not: null } },
    distinct: ["issuingPointCode"],
    select: { issuingPointCode: true },
    orderBy: { issuingPointCode: "asc" },
  });
  const agency = await ledger(ctx, base, tx);
  const perPoint: Array<LedgerSummary & { issuingPointCode: string }> = [];
  for (const p of points) {
    const code = p.issuingPointCode!;
    perPoint.push({
      issuingPointCode: code,
      ...(await ledger(ctx, { ...base, issuingPointCode: code }, tx)),
    });
  }
  // What the agency holds undistributed at the period's end: all it holds, less what its points hold.
  const inStock = agency.closing - perPoint.reduce((n, p) => n + p.closing, 0);
  return { agency, points: perPoint, inStock };
}
