/** Finance counts days in China Standard Time (UTC+8), whatever the server's zone. */
const CST_OFFSET_MS = 8 * 3600_000;

/** The CST calendar day of an instant, YYYY-MM-DD. */
export function cstDay(at: Date): string {
  return new Date(at.getTime() + CST_OFFSET_MS).toISOString().slice(0, 10);
}

/** The instants [start, end) of a CST calendar day. */
export function cstDayBounds(day: string): { start: Date; end: Date } {
  const start = new Date(Date.parse(`${day}T00:00:00.000Z`) - CST_OFFSET_MS);
  return { start, end: new Date(start.getTime() + 24 * 3600_000) };
}

/** The CST day before `day`. */
export function previousDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) - 24 * 3600_000).toISOString().slice(0, 10);
}
