/** Sorted, closed ranges of 10-digit bill numbers from a list of numbers (duplicates ignored). */
export function compactRanges(numbers: readonly string[]): Array<{ startNumber: string; endNumber: string }> {
  const sorted = [...new Set(numbers)].map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const ranges: Array<{ startNumber: string; endNumber: string }> = [];
  let start: bigint | undefined;
  let end: bigint | undefined;
  for (const n of sorted) {
    if (end !== undefined && n === end + 1n) {
      end = n;
      continue;
    }
    if (start !== undefined) ranges.push({ startNumber: pad(start), endNumber: pad(end!) });
    start = n;
    end = n;
  }
  if (start !== undefined) ranges.push({ startNumber: pad(start), endNumber: pad(end!) });
  return ranges;
}

function pad(n: bigint): string {
  return n.toString().padStart(10, "0");
}
