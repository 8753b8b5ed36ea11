/**
 * The payer's (交款人) identifying code, checked by payer type: a person's 18-digit resident ID
 * card number (GB 11643, ISO 7064 MOD 11-2 check character), or an organisation's 18-character
 * unified social credit code (统一社会信用代码, GB 32100-2015, MOD 31 check character).
 * Finance refuses receipts whose payer code does not validate, so issuance refuses them first.
 */

export type PayerType = 1 | 2;

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

/** Why a code is wrong, or undefined when it is a valid code for the payer type. */
export function payerCodeProblem(type: PayerType, code: string): string | undefined {
  return type === 1 ? idCardProblem(code) : usccProblem(code);
}

export function idCardProblem(code: string): string | undefined {
  if (!/^\d{17}[\dX]$/.test(code)) return "a person's ID card number is 17 digits and a digit or X";
  const birth = code.slice(6, 14);
  const date = new Date(`${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}T00:00:00Z`);
  if (
    Number.isNaN(date.getTime()) ||
    date.toISOString().slice(0, 10).replaceAll("-", "") !== birth ||
    Number(birth.slice(0, 4)) < 1900
  ) {
    return "the ID card number's birth date (digits 7-14) is not a date";
  }
  return idCardCheckChar(code.slice(0, 17)) === code[17]
    ? undefined
    : "the ID card number's check character (the 18th) does not match";
}

/** The 18th character of an ID card number, from its first 17 digits. */
export function idCardCheckChar(first17: string): string {
  const sum = ID_WEIGHTS.reduce((acc, w, i) => acc + w * Number(first17[i]), 0);
  return ID_CHECK[sum % 11]!;
}

// The code's alphabet: digits and upper-case letters without I, O, S, V, Z.
const USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

export function usccProblem(code: string): string | undefined {
  if (!/^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/.test(code)) {
    return "a unified social credit code is 18 characters: digits and capitals except I, O, S, V, Z";
  }
  return usccCheckChar(code.slice(0, 17)) === code[17]
    ? undefined
    : "the unified social credit code's check character (the 18th) does not match";
}

/** The 18th character of a unified social credit code, from its first 17. */
export function usccCheckChar(first17: string): string {
  const sum = USCC_WEIGHTS.reduce((acc, w, i) => acc + w * USCC_ALPHABET.indexOf(first17[i]!), 0);
  return USCC_ALPHABET[(31 - (sum % 31)) % 31]!;
}
