import { addDays, lastDayOfMonth } from "@piaoju/locale";

/** A report's period: business days [from, to] in Asia/Shanghai, inclusive, and how to say it. */
export interface Period {
  from: string;
  to: string;
  label: string;
}

/** What a ticket manager picks: a day, a month, a year, or a range of days. */
export type PeriodChoice =
  | { day: string }
  | { month: string }
  | { year: string }
  | { from: string; to: string };

export function resolvePeriod(choice: PeriodChoice): Period {
  if ("day" in choice) return { from: choice.day, to: choice.day, label: choice.day };
  if ("month" in choice) {
    return { from: `${choice.month}-01`, to: lastDayOfMonth(choice.month), label: choice.month };
  }
  if ("year" in choice) {
    return { from: `${choice.year}-01-01`, to: `${choice.year}-12-31`, label: choice.year };
  }
  return { from: choice.from, to: choice.to, label: `${choice.from} 至 ${choice.to}` };
}

/** How many days a period spans (the largest a report accepts is bounded by the caller). */
export function periodDays(p: Period): number {
  return Math.round((Date.parse(p.to) - Date.parse(p.from)) / 86_400_000) + 1;
}

/** The day before a period begins: its opening balance is everything up to and including that day. */
export function dayBefore(p: Period): string {
  return addDays(p.from, -1);
}

/** Buckets a summary groups days into. */
export type Granularity = "day" | "month" | "year";
