/**
 * 领用存 (received / used / remaining) as stock's ledger counts it, from movement totals:
 * the agency's own ledger takes what came from finance (入库) and everything used, voided or
 * returned anywhere; an issuing point's takes what was distributed to it (分发) and what it
 * used and voided. opening + received − used − voided − returned = closing.
 */
export type Movement = "STOCKED" | "DISTRIBUTED" | "USED" | "VOIDED" | "RETURNED";

export interface LedgerFigures {
  opening: number;
  received: number;
  used: number;
  voided: number;
  returned: number;
  closing: number;
}

export interface MovementTotal {
  holder: string;
  movement: Movement;
  before: number;
  within: number;
}

/** The agency's own stock has holder "" (not an issuing point). */
export const AGENCY_HOLDER = "";

export function ledgerOf(
  totals: readonly MovementTotal[],
  holder: string | typeof AGENCY_HOLDER,
): LedgerFigures {
  const mine =
    holder === AGENCY_HOLDER
      ? totals.filter((t) => t.movement !== "DISTRIBUTED") // a move inside the agency, not a receipt from finance
      : totals.filter((t) => t.holder === holder);
  const sum = (m: Movement, field: "before" | "within") =>
    mine.filter((t) => t.movement === m).reduce((n, t) => n + t[field], 0);
  const net = (field: "before" | "within") =>
    sum("STOCKED", field) +
    sum("DISTRIBUTED", field) -
    sum("USED", field) -
    sum("VOIDED", field) -
    sum("RETURNED", field);
  const figures = {
    opening: net("before"),
    received: sum("STOCKED", "within") + sum("DISTRIBUTED", "within"),
    used: sum("USED", "within"),
    voided: sum("VOIDED", "within"),
    returned: sum("RETURNED", "within"),
  };
  return { ...figures, closing: figures.opening + net("within") };
}

export function addFigures(a: LedgerFigures, b: LedgerFigures): LedgerFigures {
  return {
    opening: a.opening + b.opening,
    received: a.received + b.received,
    used: a.used + b.used,
    voided: a.voided + b.voided,
    returned: a.returned + b.returned,
    closing: a.closing + b.closing,
  };
}

export const ZERO_FIGURES: LedgerFigures = {
  opening: 0,
  received: 0,
  used: 0,
  voided: 0,
  returned: 0,
  closing: 0,
};
