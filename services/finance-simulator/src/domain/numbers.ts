/**
 * Bill numbers as finance hands them out: 10 digits, allocated per bill code from one counter,
 * so that two segments of the same bill code never overlap, whichever agency holds them.
 */
export const MAX_NUMBER = 9_999_999_999n;

export function formatNumber(n: bigint): string {
  return n.toString().padStart(10, "0");
}

export interface PlannedSegment {
  start: bigint;
  end: bigint;
}

/** The next segment of `quantity` numbers from `next`, or null when the bill code's numbers run out. */
export function planSegment(next: bigint, quantity: number): PlannedSegment | null {
  if (!Number.isInteger(quantity) || quantity < 1) return null;
  const end = next + BigInt(quantity) - 1n;
  if (next < 1n || end > MAX_NUMBER) return null;
  return { start: next, end };
}

/** Whether two closed ranges share a number. */
export function overlaps(a: PlannedSegment, b: PlannedSegment): boolean {
  return a.start <= b.end && b.start <= a.end;
}

const CST_OFFSET_MS = 8 * 3600_000;

/** A calendar day in China Standard Time (UTC+8) as the half-open instant range [from, to). */
export function chinaDay(date: string): { from: Date; to: Date } {
  const midnightUtc = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(midnightUtc)) throw new RangeError(`not a date: ${date}`);
  const from = new Date(midnightUtc - CST_OFFSET_MS);
  return { from, to: new Date(from.getTime() + 24 * 3600_000) };
}

/** Periods from periodStart to periodEnd inclusive, in China Standard Time. */
export function chinaPeriod(periodStart: string, periodEnd: string): { from: Date; to: Date } {
  return { from: chinaDay(periodStart).from, to: chinaDay(periodEnd).to };
}

/** Every number of the ranges, or null when they hold more than `cap` numbers. */
export function expandRanges(
  ranges: readonly { startNumber: string; endNumber: string }[],
  cap: number,
): string[] | null {
  let total = 0n;
  for (const r of ranges) total += BigInt(r.endNumber) - BigInt(r.startNumber) + 1n;
  if (total > BigInt(cap)) return null;
  const out: string[] = [];
  for (const r of ranges) {
    for (let n = BigInt(r.startNumber); n <= BigInt(r.endNumber); n++) out.push(formatNumber(n));
  }
  return out;
}
