import { AppError } from "@piaoju/runtime/errors";

/** What is left to hand out of a stocked segment: [next, end]. */
export interface Undistributed {
  segmentId: string;
  next: bigint;
  end: bigint;
}

export interface Run {
  segmentId: string;
  startNumber: bigint;
  endNumber: bigint;
}

/**
 * Carves `count` numbers off the front of the stocked segments, oldest first, as one
 * run per segment touched. Refuses (409) when stock holds fewer than `count`.
 */
export function carve(stock: readonly Undistributed[], count: number): Run[] {
  const runs: Run[] = [];
  let wanted = BigInt(count);
  for (const s of stock) {
    if (wanted === 0n) break;
    const left = s.end - s.next + 1n;
    if (left <= 0n) continue;
    const take = left < wanted ? left : wanted;
    runs.push({ segmentId: s.segmentId, startNumber: s.next, endNumber: s.next + take - 1n });
    wanted -= take;
  }
  if (wanted > 0n) {
    const held = stock.reduce((n, s) => n + (s.end >= s.next ? s.end - s.next + 1n : 0n), 0n);
    throw new AppError(
      "conflict",
      `stock holds ${held} undistributed numbers, fewer than the ${count} asked for`,
      {
        code: "NOT_ENOUGH_STOCK",
      },
    );
  }
  return runs;
}

/**
 * The 分发 rule: when an issuing point's unused numbers fall below the threshold, top it
 * up by whole batches until it is at or above the threshold, as far as stock allows.
 * Returns how many numbers to hand over (0: none needed, or no stock).
 */
export function topUpSize(
  rule: { threshold: number; batchSize: number },
  unused: number,
  inStock: bigint,
): number {
  if (unused >= rule.threshold || rule.batchSize <= 0) return 0;
  const batches = Math.ceil((rule.threshold - unused) / rule.batchSize);
  const wanted = BigInt(batches * rule.batchSize);
  return Number(wanted <= inStock ? wanted : inStock);
}
