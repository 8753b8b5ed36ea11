import { AppError } from "@piaoju/runtime/errors";

/**
 * 缴款识别码 (payment code): 20 digits. Each province sets its structure; the default here,
 * configurable per finance region, is
 *
 *   region (6, the finance region's administrative code) ‖ year (2) ‖ sequence (11) ‖ check (1)
 *
 * with the check digit by ISO 7064 MOD 11,10 (a pure-digit hybrid system: it catches every
 * single-digit error and every swap of two neighbours, which is what a person keying the code
 * at a bank counter gets wrong). The rule is the region's; the sequence is ours, per region
 * and year, never reused.
 */
export interface PaymentCodeRule {
  /** The finance region's 6-digit code (行政区划代码). */
  region: string;
  check: "iso7064-mod11-10";
}

const SEQUENCE_DIGITS = 11;

export function checkDigit(digits: string): number {
  let p = 10;
  for (const ch of digits) {
    let s = (p + Number(ch)) % 10;
    if (s === 0) s = 10;
    p = (s * 2) % 11;
  }
  return (11 - p) % 10;
}

export function makePaymentCode(rule: PaymentCodeRule, year: number, sequence: bigint): string {
  if (!/^\d{6}$/.test(rule.region)) throw new Error(`payment code region ${rule.region} is not 6 digits`);
  if (sequence < 1n || sequence >= 10n ** BigInt(SEQUENCE_DIGITS)) {
    throw new AppError("unavailable", `payment code sequence ${sequence} is exhausted for ${rule.region}`, {
      code: "PAYMENT_CODE_EXHAUSTED",
    });
  }
  const body = `${rule.region}${String(year % 100).padStart(2, "0")}${sequence.toString().padStart(SEQUENCE_DIGITS, "0")}`;
  return `${body}${checkDigit(body)}`;
}

/** A payment code as a payer or a bank keys it: 20 digits and a right check digit. */
export function isValidPaymentCode(code: string): boolean {
  return /^\d{20}$/.test(code) && checkDigit(code.slice(0, 19)) === Number(code[19]);
}
