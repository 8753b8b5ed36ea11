import { AppError } from "@piaoju/runtime/errors";

/** A closed range of bill numbers. */
export interface NumberRange {
  startNumber: bigint;
  endNumber: bigint;
}

/** Finance issues segments of at most this many numbers; larger is a typing error. */
export const MAX_SEGMENT_SIZE = 1_000_000n;

export function rangeSize(range: NumberRange): number {
  return Number(range.endNumber - range.startNumber + 1n);
}

export function formatNumber(n: bigint): string {
  return n.toString().padStart(10, "0");
}

/** Refuses a segment that is inverted or oversized; the message names the field. */
export function checkRange(range: NumberRange): void {
  if (range.endNumber < range.startNumber) {
    throw AppError.validation([
      { field: "endNumber", rule: "range", message: "endNumber must not be below startNumber" },
    ]);
  }
  if (range.endNumber - range.startNumber + 1n > MAX_SEGMENT_SIZE) {
    throw AppError.validation([
      {
        field: "endNumber",
        rule: "max_size",
        message: `a segment holds at most ${MAX_SEGMENT_SIZE} numbers`,
      },
    ]);
  }
}

/** A number may be in stock once only: a segment overlapping one already held is refused. */
export function refuseOverlap(
  range: NumberRange,
  held: (NumberRange & { id: string }) | null | undefined,
): void {
  if (!held) return;
  throw new AppError(
    "conflict",
    `numbers ${formatNumber(range.startNumber)}-${formatNumber(range.endNumber)} overlap segment ${held.id} ` +
      `(${formatNumber(held.startNumber)}-${formatNumber(held.endNumber)})`,
    { code: "SEGMENT_OVERLAPS" },
  );
}

/** 入库 applies to a received segment once. */
export function decideConfirm(segment: { id: string; status: "RECEIVED" | "STOCKED" }): void {
  if (segment.status === "STOCKED") {
    throw new AppError("conflict", `segment ${segment.id} is already in stock`, {
      code: "SEGMENT_ALREADY_STOCKED",
    });
  }
}

/** The business day of an instant: agencies and finance count days in Asia/Shanghai. */
export function businessDate(at: Date): string {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(at);
}
