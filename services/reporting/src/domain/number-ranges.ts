/** A closed range of bill numbers. */
export interface NumberRange {
  start: bigint;
  end: bigint;
}

export const sizeOf = (r: NumberRange): bigint => r.end - r.start + 1n;

/** `whole` less every range in `taken`, as the pieces left, in order. */
export function subtract(whole: NumberRange, taken: readonly NumberRange[]): NumberRange[] {
  const left: NumberRange[] = [];
  let cursor = whole.start;
  for (const t of [...taken].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))) {
    if (t.end < cursor || t.start > whole.end) continue;
    if (t.start > cursor) left.push({ start: cursor, end: t.start - 1n });
    cursor = t.end + 1n > cursor ? t.end + 1n : cursor;
  }
  if (cursor <= whole.end) left.push({ start: cursor, end: whole.end });
  return left;
}

/** 10-digit bill number. */
export const formatNumber = (n: bigint): string => n.toString().padStart(10, "0");
