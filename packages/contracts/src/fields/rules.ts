import { z } from "zod";
import { text } from "./text.ts";

/**
 * Field rules, each written once: the gateway validates the business API with them and the
 * services validate their own APIs with the same ones, so the two can never disagree.
 */

/** One line of text (a name, a person, a bank): no tab or line break, trimmed, 1 to `max` characters. */
export function singleLine(max: number): z.ZodString {
  return text()
    .trim()
    .min(1, "must not be empty or blank")
    .max(max)
    .regex(/^[^\t\n\r]*$/, "one line: no tab or line break");
}

/** Free text (a remark, a reason): trimmed, line breaks allowed, at most `max` characters. */
export function freeText(max: number, options: { required?: boolean } = {}): z.ZodString {
  const base = text().trim().max(max);
  return options.required ? base.min(1, "must not be empty or blank") : base;
}

/** A person's or an organisation's name (交款人, 开票人, 复核人): one line, with at least one letter or CJK character. */
export function personName(max: number): z.ZodString {
  return singleLine(max).regex(/[\p{L}]/u, "a name has at least one letter");
}

/**
 * A phone number: a mainland mobile (11 digits, 1[3-9]…), a landline with area code
 * (010-12345678, 0571-1234567, optional -extension), or an international number in E.164 (+…).
 * "-----" and blanks are not phone numbers.
 */
export const phone = text()
  .trim()
  .regex(
    /^(?:(?:\+86[- ]?)?1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?|\+[1-9]\d{7,14})$/,
    "a mainland mobile (11 digits), a landline with its area code (010-12345678) or +country number",
  );

/** An e-mail address, at most 200 characters. */
export const email = text().trim().max(200).pipe(z.email("an e-mail address"));

/**
 * 业务流水号: the business system's serial number, the idempotency key per agency. Case does not
 * tell two serials apart (a system that upper-cases on retry must find its first receipt), so it
 * is kept in capitals.
 */
export const bizSerialNo = text()
  .trim()
  .regex(/^[0-9A-Za-z_.:-]{1,64}$/, "a business serial number is 1-64 letters, digits, _ . : or -")
  .toUpperCase();

/** An amount in integer fen (分), positive, at most 10^13 fen (a hundred billion yuan). */
export const MAX_FEN = 10_000_000_000_000;
export const fen = z
  .number("an amount in integer fen")
  .int("an amount in integer fen: no fractions")
  .positive()
  .max(MAX_FEN);

/** A calendar day, YYYY-MM-DD (a real day: 2026-02-30 is refused). */
export const calendarDate = z.iso.date("a calendar day, YYYY-MM-DD");

/** A time with its offset, ISO 8601. */
export const instant = z.iso.datetime({ offset: true, message: "an ISO 8601 time with offset" });

// ---- 交款人代码: resident ID card number (GB 11643) and unified social credit code (GB 32100) ----

export type PayerType = 1 | 2;

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

/** Why a payer code is wrong for the payer type, or undefined when it is valid. */
export function payerCodeProblem(type: PayerType, code: string): string | undefined {
  return type === 1 ? idCardProblem(code) : usccProblem(code);
}

/** An 18-digit resident ID card number: region, a real birth date, ISO 7064 MOD 11-2 check character. */
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

/** An 18-character unified social credit code with its GB 32100 MOD 31 check character. */
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

/** A payer code's shape before its check by type: 18 digits or capitals. */
export const payerCode = text()
  .trim()
  .regex(/^[0-9A-Z]{18}$/, "18 digits or capital letters");

/** A bank account number: letters and digits, optionally grouped by spaces or hyphens, 1-64 characters. */
export const bankAccount = singleLine(64).regex(
  /^[0-9A-Za-z](?:[0-9A-Za-z -]*[0-9A-Za-z])?$/,
  "a bank account: letters and digits, optionally grouped by spaces or hyphens",
);

/** A reference code (an item's code, a pay mode): 1-32 letters, digits, _ . or -. */
export const referenceCode = text().regex(/^[0-9A-Za-z_.-]{1,32}$/, "1-32 letters, digits, _ . or -");
