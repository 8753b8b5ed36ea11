/**
 * This (simulated) province's payment code (缴款识别码) rule: region (6) ‖ year (2) ‖ sequence
 * (11) ‖ check digit, the check digit by ISO 7064 MOD 11,10. Finance sets the rule; Piaoju's
 * payment service validates codes with its own copy of it (the two must agree, and a test of
 * the payment service checks codes made here).
 */
export function checkDigit(digits: string): number {
  let p = 10;
  for (const ch of digits) {
    let s = (p + Number(ch)) % 10;
    if (s === 0) s = 10;
    p = (s * 2) % 11;
  }
  return (11 - p) % 10;
}

export function paymentCodeOf(region: string, year: number, sequence: bigint): string {
  const body = `${region}${String(year % 100).padStart(2, "0")}${sequence.toString().padStart(11, "0")}`;
  return `${body}${checkDigit(body)}`;
}

export function isPaymentCode(code: string): boolean {
  return /^\d{20}$/.test(code) && checkDigit(code.slice(0, 19)) === Number(code[19]);
}
