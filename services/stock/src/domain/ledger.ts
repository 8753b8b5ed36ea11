/** STOCKED comes into the agency from finance; DISTRIBUTED comes into an issuing point from the agency. */
export type Movement = "STOCKED" | "DISTRIBUTED" | "USED" | "VOIDED" | "RETURNED";

/** 领用存 for a period: what there was, what came in, what went out, what is left. */
export interface LedgerSummary {
  opening: number;
  received: number;
  used: number;
  voided: number;
  returned: number;
  closing: number;
}

const sign: Record<Movement, 1 | -1> = { STOCKED: 1, DISTRIBUTED: 1, USED: -1, VOIDED: -1, RETURNED: -1 };

/** Sums movements before the period (opening) and within it. Pure: totals in, summary out. */
export function summarize(
  before: ReadonlyArray<{ movement: Movement; quantity: number }>,
  within: ReadonlyArray<{ movement: Movement; quantity: number }>,
): LedgerSummary {
  const opening = before.reduce((n, e) => n + sign[e.movement] * e.quantity, 0);
  const total = (m: Movement) => within.filter((e) => e.movement === m).reduce((n, e) => n + e.quantity, 0);
  const summary = {
    opening,
    received: total("STOCKED") + total("DISTRIBUTED"),
    used: total("USED"),
    voided: total("VOIDED"),
    returned: total("RETURNED"),
  };
  return {
    ...summary,
    closing: opening + summary.received - summary.used - summary.voided - summary.returned,
  };
}
