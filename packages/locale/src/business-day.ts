/**
 * The business day (营业日) of agencies and finance: the calendar day in Asia/Shanghai, which is
 * UTC+8 all year (China has had no daylight saving since 1991), so plain offset arithmetic is exact.
 */
const CST_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** "2026-12-01" for 2026-11-30T17:30:00Z. */
export function businessDay(at: Date): string {
  return new Date(at.getTime() + CST_OFFSET_MS).toISOString().slice(0, 10);
}

/** The instants a business day spans: [start, end). */
export function businessDayBounds(day: string): { start: Date; end: Date } {
  const start = new Date(Date.parse(`${day}T00:00:00Z`) - CST_OFFSET_MS);
  return { start, end: new Date(start.getTime() + DAY_MS) };
}

/** The day after (or `days` after) a business day, as YYYY-MM-DD. */
export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The last day of a month (YYYY-MM). */
export function lastDayOfMonth(month: string): string {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

/** "YYYY-MM-DD HH:mm:ss" in Asia/Shanghai, for the time a report was made. */
export function shanghaiTimestamp(at: Date): string {
  return new Date(at.getTime() + CST_OFFSET_MS).toISOString().slice(0, 19).replace("T", " ");
}
