import { randomUUID } from "node:crypto";
import { NumbersReturned, NumbersVoided } from "@piaoju/contracts";
import { decideRemoval, type RemovalKind } from "../domain/removals.ts";
import { businessDate, checkRange } from "../domain/segments.ts";
import { audit, lockBillKind, type StockContext } from "./context.ts";
import { type RemovalInput, type RemovalView, removalView } from "./views.ts";

/** 申退 and 库存作废: undistributed numbers taken out of stock. */

/** 申退: undistributed numbers of a stocked segment go back to finance. */
export function returnNumbers(ctx: StockContext, actor: string, range: RemovalInput): Promise<RemovalView> {
  return removeFromStock(ctx, actor, "RETURNED", range);
}

/** 库存作废: undistributed numbers of a stocked segment are voided unused, for a reason. */
export function voidNumbers(
  ctx: StockContext,
  actor: string,
  range: RemovalInput & { reason: string },
): Promise<RemovalView> {
  return removeFromStock(ctx, actor, "VOIDED", range);
}

/**
 * Takes a range out of stock. The bill kind lock serialises it with distribution and other
 * removals, so of two requests for the same numbers exactly one finds them still there.
 */
async function removeFromStock(
  ctx: StockContext,
  actor: string,
  kind: RemovalKind,
  input: RemovalInput & { reason?: string },
): Promise<RemovalView> {
  checkRange(input);
  return ctx.inTransaction(async (tx, emit) => {
    await lockBillKind(tx, input.agencyCode, input.billCode);
    const segment = await tx.segment.findFirst({
      where: {
        agencyCode: input.agencyCode,
        billCode: input.billCode,
        startNumber: { lte: input.startNumber },
        endNumber: { gte: input.endNumber },
      },
    });
    const removed = segment ? await tx.stockRemoval.findMany({ where: { segmentId: segment.id } }) : [];
    decideRemoval(input, segment ?? undefined, removed);
    const now = ctx.clock();
    const row = await tx.stockRemoval.create({
      data: {
        id: randomUUID(),
        segmentId: segment!.id,
        agencyCode: input.agencyCode,
        billCode: input.billCode,
        kind,
        startNumber: input.startNumber,
        endNumber: input.endNumber,
        reason: input.reason ?? null,
        removedBy: actor,
        removedAt: now,
      },
    });
    const result = removalView(row);
    // No issuing point: the numbers leave the agency's own stock, not a point's.
    await tx.ledgerEntry.create({
      data: {
        agencyCode: input.agencyCode,
        billCode: input.billCode,
        movement: kind,
        quantity: result.count,
        segmentId: row.segmentId,
        removalId: row.id,
        businessDate: new Date(`${businessDate(now)}T00:00:00Z`),
      },
    });
    const action = kind === "RETURNED" ? "stock.return" : "stock.void";
    await audit(tx, actor, action, `segment:${row.segmentId}`, result);
    const moved = {
      removalId: result.id,
      segmentId: result.segmentId,
      agencyCode: result.agencyCode,
      billCode: result.billCode,
      startNumber: result.startNumber,
      endNumber: result.endNumber,
      count: result.count,
    };
    if (kind === "RETURNED") {
      emit(NumbersReturned, { ...moved, returnedBy: actor, returnedAt: result.removedAt });
    } else {
      emit(NumbersVoided, {
        ...moved,
        reason: result.reason ?? "",
        voidedBy: actor,
        voidedAt: result.removedAt,
      });
    }
    return result;
  });
}

export async function listRemovals(
  ctx: StockContext,
  q: {
    agencyCode: string;
    billCode?: string | undefined;
    kind?: RemovalKind | undefined;
  },
) {
  const rows = await ctx.prisma.stockRemoval.findMany({
    where: {
      agencyCode: q.agencyCode,
      ...(q.billCode ? { billCode: q.billCode } : {}),
      ...(q.kind ? { kind: q.kind } : {}),
    },
    orderBy: [{ billCode: "asc" }, { startNumber: "asc" }],
    take: 1000,
  });
  return rows.map(removalView);
}
