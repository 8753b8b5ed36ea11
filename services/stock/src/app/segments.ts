import { randomUUID } from "node:crypto";
import { type Emit, SegmentReceived, SegmentStocked } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import { businessDate, checkRange, decideConfirm, refuseOverlap } from "../domain/segments.ts";
import { audit, lockBillKind, type StockContext, type Tx } from "./context.ts";
import { applyRules } from "./distribution.ts";
import { type ReceiveSegment, type SegmentView, segmentView } from "./views.ts";

/** 号段: segments finance issued (or a ticket manager entered), taken in and confirmed into stock (入库). */

/** A manual receipt of a segment by a ticket manager. */
export async function receiveManually(
  ctx: StockContext,
  actor: string,
  input: Omit<ReceiveSegment, "source" | "financeRef">,
): Promise<SegmentView> {
  return ctx.inTransaction(async (tx, emit) => {
    const segment = await receiveIn(ctx, tx, emit, { ...input, source: "MANUAL" });
    await audit(tx, actor, "segment.receive", `segment:${segment.id}`, segment);
    return segment;
  });
}

/**
 * Takes in a segment finance issued. Idempotent by finance reference: the same
 * reference with the same numbers returns the segment already held.
 */
export async function receiveIn(
  ctx: StockContext,
  tx: Tx,
  emit: Emit,
  input: ReceiveSegment,
): Promise<SegmentView> {
  checkRange(input);
  // Serialises intake per bill kind, so two overlapping segments cannot both pass the check.
  const kinds = await tx.$queryRaw<unknown[]>`
    SELECT 1 FROM bill_kind WHERE agency_code = ${input.agencyCode} AND bill_code = ${input.billCode} AND enabled FOR UPDATE`;
  if (kinds.length === 0) {
    throw new AppError(
      "not_found",
      `bill kind ${input.billCode} is not registered (or disabled) for ${input.agencyCode}`,
      {
        code: "BILL_KIND_UNKNOWN",
      },
    );
  }
  if (input.financeRef) {
    const same = await tx.segment.findUnique({
      where: { agencyCode_financeRef: { agencyCode: input.agencyCode, financeRef: input.financeRef } },
    });
    if (same && same.startNumber === input.startNumber && same.endNumber === input.endNumber)
      return segmentView(same);
    if (same) {
      throw new AppError(
        "conflict",
        `finance reference ${input.financeRef} was already received with other numbers`,
        {
          code: "FINANCE_REF_REUSED",
        },
      );
    }
  }
  const held = await tx.segment.findFirst({
    where: {
      agencyCode: input.agencyCode,
      billCode: input.billCode,
      startNumber: { lte: input.endNumber },
      endNumber: { gte: input.startNumber },
    },
  });
  refuseOverlap(input, held);
  const segment = await tx.segment.create({
    data: {
      id: randomUUID(),
      agencyCode: input.agencyCode,
      billCode: input.billCode,
      startNumber: input.startNumber,
      endNumber: input.endNumber,
      status: "RECEIVED",
      source: input.source,
      financeRef: input.financeRef ?? null,
      receivedAt: ctx.clock(),
      nextUndistributed: input.startNumber,
    },
  });
  const result = segmentView(segment);
  emit(SegmentReceived, {
    segmentId: result.id,
    agencyCode: result.agencyCode,
    billCode: result.billCode,
    startNumber: result.startNumber,
    endNumber: result.endNumber,
    count: result.count,
    source: input.source === "FINANCE" ? "finance" : "manual",
    ...(input.financeRef ? { financeRef: input.financeRef } : {}),
  });
  return result;
}

/** 入库: a ticket manager confirms a received segment into stock. */
export async function confirm(
  ctx: StockContext,
  actor: string,
  segmentId: string,
  inScope: (agencyCode: string) => void,
): Promise<SegmentView> {
  return ctx.inTransaction(async (tx, emit) => {
    const [locked] = await tx.$queryRaw<
      Array<{ id: string }>
    >`SELECT id FROM segment WHERE id = ${segmentId}::uuid FOR UPDATE`;
    if (!locked)
      throw new AppError("not_found", `segment ${segmentId} does not exist`, { code: "SEGMENT_UNKNOWN" });
    const segment = await tx.segment.findUniqueOrThrow({ where: { id: segmentId } });
    inScope(segment.agencyCode);
    decideConfirm(segment);
    await lockBillKind(tx, segment.agencyCode, segment.billCode);
    const now = ctx.clock();
    const stocked = await tx.segment.update({
      where: { id: segmentId },
      data: { status: "STOCKED", stockedAt: now, stockedBy: actor },
    });
    const result = segmentView(stocked);
    await tx.ledgerEntry.create({
      data: {
        agencyCode: result.agencyCode,
        billCode: result.billCode,
        movement: "STOCKED",
        quantity: result.count,
        segmentId,
        businessDate: new Date(`${businessDate(now)}T00:00:00Z`),
      },
    });
    await audit(tx, actor, "segment.confirm", `segment:${segmentId}`, { count: result.count });
    emit(SegmentStocked, {
      segmentId,
      agencyCode: result.agencyCode,
      billCode: result.billCode,
      startNumber: result.startNumber,
      endNumber: result.endNumber,
      count: result.count,
      confirmedBy: actor,
      confirmedAt: now.toISOString(),
    });
    // New stock may be what a point was waiting for.
    await applyRules(ctx, tx, emit, result.agencyCode, result.billCode);
    return result;
  });
}

export async function findSegment(ctx: StockContext, id: string): Promise<SegmentView | undefined> {
  const segment = await ctx.prisma.segment.findUnique({ where: { id } });
  return segment ? segmentView(segment) : undefined;
}

export async function listSegments(
  ctx: StockContext,
  filter: {
    agencyCode: string;
    billCode?: string | undefined;
    status?: "RECEIVED" | "STOCKED" | undefined;
  },
) {
  const rows = await ctx.prisma.segment.findMany({
    where: {
      agencyCode: filter.agencyCode,
      ...(filter.billCode ? { billCode: filter.billCode } : {}),
      ...(filter.status ? { status: filter.status } : {}),
    },
    orderBy: [{ billCode: "asc" }, { startNumber: "asc" }],
    take: 1000,
  });
  return rows.map(segmentView);
}
