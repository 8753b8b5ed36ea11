import { AppError } from "@piaoju/runtime/errors";
import { formatNumber, type NumberRange } from "./segments.ts";

/** 申退 hands numbers back to finance; 库存作废 voids unused ones. Both take them out of stock. */
export type RemovalKind = "RETURNED" | "VOIDED";

export interface SegmentStock {
  id: string;
  status: "RECEIVED" | "STOCKED";
  startNumber: bigint;
  endNumber: bigint;
  nextUndistributed: bigint;
}

function label(range: NumberRange): string {
  return `${formatNumber(range.startNumber)}-${formatNumber(range.endNumber)}`;
}

/**
 * Numbers may leave stock only from the undistributed part of one stocked segment, and only
 * once: what was distributed belongs to an issuing point, what was removed is gone.
 * Refuses (409) naming the range and what it runs into.
 */
export function decideRemoval(
  range: NumberRange,
  segment: SegmentStock | undefined,
  removed: readonly NumberRange[],
): void {
  if (!segment) {
    throw new AppError("conflict", `numbers ${label(range)} do not lie inside one segment in stock`, {
      code: "RANGE_NOT_IN_STOCK",
    });
  }
  if (segment.status !== "STOCKED") {
    throw new AppError(
      "conflict",
      `numbers ${label(range)} belong to segment ${segment.id}, which is not yet in stock (入库)`,
      { code: "RANGE_NOT_IN_STOCK" },
    );
  }
  // Removed first: 分发 skips removed numbers, so nextUndistributed may lie past them.
  const hit = removed.find((r) => r.startNumber <= range.endNumber && r.endNumber >= range.startNumber);
  if (hit) {
    throw new AppError(
      "conflict",
      `numbers ${label(range)} overlap numbers already returned or voided (${label(hit)})`,
      { code: "RANGE_ALREADY_REMOVED" },
    );
  }
  if (range.startNumber < segment.nextUndistributed) {
    throw new AppError(
      "conflict",
      `numbers ${label(range)} overlap numbers already distributed ` +
        `(${label({ startNumber: segment.startNumber, endNumber: segment.nextUndistributed - 1n })})`,
      { code: "RANGE_DISTRIBUTED" },
    );
  }
}

/** The parts of [next, end] that were not removed, in order: what 分发 may still hand out. */
export function remaining(next: bigint, end: bigint, removed: readonly NumberRange[]): NumberRange[] {
  const pieces: NumberRange[] = [];
  let from = next;
  for (const r of [...removed].sort((a, b) => (a.startNumber < b.startNumber ? -1 : 1))) {
    if (r.endNumber < from) continue;
    if (r.startNumber > end) break;
    if (r.startNumber > from) pieces.push({ startNumber: from, endNumber: r.startNumber - 1n });
    from = r.endNumber + 1n;
  }
  if (from <= end) pieces.push({ startNumber: from, endNumber: end });
  return pieces;
}

/** A write-off period YYYY-MM as its first and last business day. */
export function periodDays(period: string): { from: string; to: string } {
  const [year, month] = period.split("-").map(Number) as [number, number];
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return { from: `${period}-01`, to: `${period}-${String(last).padStart(2, "0")}` };
}

/** A month not yet begun has no 领用存 to write off. `today` is the business day, YYYY-MM-DD. */
export function checkPeriod(period: string, today: string): void {
  if (period > today.slice(0, 7)) {
    throw AppError.validation([
      { field: "period", rule: "not_future", message: `period ${period} has not begun yet` },
    ]);
  }
}
