import { randomUUID } from "node:crypto";
import { type Emit, SegmentDistributed } from "@piaoju/contracts";
import { carve, type Run, topUpSize, type Undistributed } from "../domain/distribution.ts";
import { remaining } from "../domain/removals.ts";
import { businessDate } from "../domain/segments.ts";
import { audit, lockBillKind, type StockContext, type Tx } from "./context.ts";
import { type DistributionView, distributionView, type RuleInput } from "./views.ts";

/** 分发: numbers handed to issuing points, by rule (top-ups when a point runs low) or by hand. */

/** Sets the 分发 rule of an issuing point for a bill kind, and applies it at once. */
export async function setRule(ctx: StockContext, actor: string, rule: RuleInput): Promise<RuleInput> {
  return ctx.inTransaction(async (tx, emit) => {
    await lockBillKind(tx, rule.agencyCode, rule.billCode);
    const key = {
      agencyCode: rule.agencyCode,
      billCode: rule.billCode,
      issuingPointCode: rule.issuingPointCode,
    };
    const values = {
      threshold: rule.threshold,
      batchSize: rule.batchSize,
      enabled: rule.enabled,
      updatedBy: actor,
    };
    await tx.distributionRule.upsert({
      where: { agencyCode_billCode_issuingPointCode: key },
      create: { ...key, ...values },
      update: values,
    });
    await audit(
      tx,
      actor,
      "distribution-rule.set",
      `rule:${rule.agencyCode}:${rule.billCode}:${rule.issuingPointCode}`,
      rule,
    );
    await applyRules(ctx, tx, emit, rule.agencyCode, rule.billCode);
    return rule;
  });
}

export function listRules(ctx: StockContext, agencyCode: string) {
  return ctx.prisma.distributionRule.findMany({
    where: { agencyCode },
    orderBy: [{ billCode: "asc" }, { issuingPointCode: "asc" }],
  });
}

/** A ticket manager hands `count` numbers to an issuing point by hand. */
export async function distribute(
  ctx: StockContext,
  actor: string,
  input: { agencyCode: string; billCode: string; issuingPointCode: string; count: number },
): Promise<DistributionView[]> {
  return ctx.inTransaction(async (tx, emit) => {
    await lockBillKind(tx, input.agencyCode, input.billCode);
    const runs = carve(await undistributed(tx, input.agencyCode, input.billCode), input.count);
    const handed = await handOut(
      ctx,
      tx,
      emit,
      input.agencyCode,
      input.billCode,
      input.issuingPointCode,
      runs,
      actor,
    );
    await audit(
      tx,
      actor,
      "distribution.manual",
      `point:${input.agencyCode}:${input.issuingPointCode}`,
      input,
    );
    return handed;
  });
}

export async function listDistributions(
  ctx: StockContext,
  q: {
    agencyCode: string;
    billCode?: string | undefined;
    issuingPointCode?: string | undefined;
  },
) {
  const rows = await ctx.prisma.distribution.findMany({
    where: {
      agencyCode: q.agencyCode,
      ...(q.billCode ? { billCode: q.billCode } : {}),
      ...(q.issuingPointCode ? { issuingPointCode: q.issuingPointCode } : {}),
    },
    orderBy: [{ distributedAt: "asc" }, { startNumber: "asc" }],
    take: 1000,
  });
  return rows.map(distributionView);
}

/**
 * Tops up every issuing point of the bill kind whose rule says it runs low, or only `onlyPoint`
 * (a number used there moves no other point's balance, and adds nothing to stock: a point that
 * found stock empty earlier is topped up when stock next comes in, which applies every rule).
 * Stock is read only for a point below its threshold. Caller holds the bill kind lock.
 */
export async function applyRules(
  ctx: StockContext,
  tx: Tx,
  emit: Emit,
  agencyCode: string,
  billCode: string,
  onlyPoint?: string,
): Promise<void> {
  const rules = await tx.distributionRule.findMany({
    where: {
      agencyCode,
      billCode,
      enabled: true,
      ...(onlyPoint === undefined ? {} : { issuingPointCode: onlyPoint }),
    },
    orderBy: { issuingPointCode: "asc" },
  });
  for (const rule of rules) {
    const unused = await unusedAt(tx, agencyCode, billCode, rule.issuingPointCode);
    if (topUpSize(rule, unused, BigInt(Number.MAX_SAFE_INTEGER)) === 0) continue;
    const stock = await undistributed(tx, agencyCode, billCode);
    const inStock = stock.reduce((n, s) => n + (s.end - s.next + 1n), 0n);
    const size = topUpSize(rule, unused, inStock);
    if (size > 0) {
      await handOut(ctx, tx, emit, agencyCode, billCode, rule.issuingPointCode, carve(stock, size), "rule");
    }
  }
}

async function handOut(
  ctx: StockContext,
  tx: Tx,
  emit: Emit,
  agencyCode: string,
  billCode: string,
  issuingPointCode: string,
  runs: readonly Run[],
  by: string,
): Promise<DistributionView[]> {
  const now = ctx.clock();
  const handed: DistributionView[] = [];
  for (const run of runs) {
    const row = await tx.distribution.create({
      data: {
        id: randomUUID(),
        segmentId: run.segmentId,
        agencyCode,
        billCode,
        issuingPointCode,
        startNumber: run.startNumber,
        endNumber: run.endNumber,
        distributedAt: now,
        distributedBy: by,
      },
    });
    await tx.segment.update({
      where: { id: run.segmentId },
      data: { nextUndistributed: run.endNumber + 1n },
    });
    const view = distributionView(row);
    await tx.ledgerEntry.create({
      data: {
        agencyCode,
        billCode,
        issuingPointCode,
        movement: "DISTRIBUTED",
        quantity: view.count,
        segmentId: run.segmentId,
        businessDate: new Date(`${businessDate(now)}T00:00:00Z`),
      },
    });
    emit(SegmentDistributed, {
      distributionId: view.id,
      segmentId: view.segmentId,
      agencyCode,
      billCode,
      issuingPointCode,
      startNumber: view.startNumber,
      endNumber: view.endNumber,
      count: view.count,
      distributedAt: now.toISOString(),
      distributedBy: by,
    });
    handed.push(view);
  }
  return handed;
}

async function undistributed(tx: Tx, agencyCode: string, billCode: string): Promise<Undistributed[]> {
  const rows = await tx.segment.findMany({
    where: { agencyCode, billCode, status: "STOCKED" },
    orderBy: [{ stockedAt: "asc" }, { startNumber: "asc" }],
    include: { removals: { select: { startNumber: true, endNumber: true } } },
  });
  return rows.flatMap((r) =>
    remaining(r.nextUndistributed, r.endNumber, r.removals).map((piece) => ({
      segmentId: r.id,
      next: piece.startNumber,
      end: piece.endNumber,
    })),
  );
}

/** Unused numbers at a point: its balance, kept with every ledger entry (migration 0004_point_stock). */
async function unusedAt(
  tx: Tx,
  agencyCode: string,
  billCode: string,
  issuingPointCode: string,
): Promise<number> {
  const row = await tx.pointStock.findUnique({
    where: { agencyCode_billCode_issuingPointCode: { agencyCode, billCode, issuingPointCode } },
    select: { unused: true },
  });
  return row?.unused ?? 0;
}
