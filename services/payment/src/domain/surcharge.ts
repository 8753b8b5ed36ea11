import { businessDay, businessDayBounds } from "@piaoju/locale";

/**
 * 加处罚款 (Administrative Penalty Law, art. 72): a fine not paid by its deadline grows by 3%
 * of the fine for every day after the deadline, and the surcharge never exceeds the fine.
 * Days are Asia/Shanghai calendar days: paying on the deadline day costs nothing more, the day
 * after costs 3%. Fen are rounded down (the payer is never charged a fraction they owe not).
 */
export const SURCHARGE_PERCENT_PER_DAY = 3;

export interface AmountDue {
  principalFen: number;
  surchargeFen: number;
  totalFen: number;
  daysLate: number;
  /** The business day this amount is due on; it may change at the next midnight. */
  businessDay: string;
}

export function daysBetween(fromDay: string, toDay: string): number {
  return Math.round((Date.parse(`${toDay}T00:00:00Z`) - Date.parse(`${fromDay}T00:00:00Z`)) / 86_400_000);
}

export function amountDue(
  notice: { principalFen: number; fineFen: number; deadline?: string | undefined },
  at: Date,
): AmountDue {
  const day = businessDay(at);
  const daysLate = notice.deadline ? Math.max(0, daysBetween(notice.deadline, day)) : 0;
  const surchargeFen = Math.min(
    notice.fineFen,
    Math.floor((notice.fineFen * SURCHARGE_PERCENT_PER_DAY * daysLate) / 100),
  );
  return {
    principalFen: notice.principalFen,
    surchargeFen,
    totalFen: notice.principalFen + surchargeFen,
    daysLate,
    businessDay: day,
  };
}

/** The instant the amount due can next change: the next Asia/Shanghai midnight. */
export function amountFixedUntil(at: Date): Date {
  return businessDayBounds(businessDay(at)).end;
}
