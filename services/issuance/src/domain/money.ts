/** Money is integer fen (分) everywhere; yuan strings exist only in documents. */

/** "12.34" from 1234 fen: the receipt document's money format (2 decimals, no grouping). */
export function fenToYuan(fen: bigint): string {
  const sign = fen < 0n ? "-" : "";
  const abs = fen < 0n ? -fen : fen;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, "0")}`;
}

/** Quantities are decimal strings with at most this many places, kept exact as scaled integers. */
export const QUANTITY_PLACES = 4;
const SCALE = 10n ** BigInt(QUANTITY_PLACES);

/** "2.5" → 25000n (quantity × 10^4). */
export function scaleQuantity(quantity: string): bigint {
  const [whole = "0", fraction = ""] = quantity.split(".");
  return BigInt(whole) * SCALE + BigInt(fraction.padEnd(QUANTITY_PLACES, "0") || "0");
}

/** A quantity in its canonical form: "2.50" → "2.5", "3.0" → "3", "007" → "7". */
export function normalizeQuantity(quantity: string): string {
  const scaled = scaleQuantity(quantity);
  const whole = (scaled / SCALE).toString();
  const fraction = (scaled % SCALE).toString().padStart(QUANTITY_PLACES, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/**
 * What an item under a standard (收费标准) must cost: quantity × standard, rounded half up to
 * the fen. Exact (integer arithmetic); rounding only matters for fractional quantities.
 */
export function amountForStandard(quantity: string, standardFen: bigint): bigint {
  const product = scaleQuantity(quantity) * standardFen;
  return (product + SCALE / 2n) / SCALE;
}
