import { sm3 } from "@piaoju/gm-crypto";

/** What the check code (校验码, RandomNumber) is derived from: the receipt's key fields. */
export interface CheckCodeFields {
  billCode: string;
  /** 10 digits. */
  number: string;
  /** yyyyMMdd, Asia/Shanghai. */
  issueDate: string;
  totalFen: bigint;
  agencyCode: string;
  payerCode: string;
  bizSerialNo: string;
}

/**
 * The 6-character check code (校验码) a payer types to verify a receipt with its code and number.
 *
 *   text  = "PJCC1|" + billCode + "|" + number + "|" + issueDate + "|" + totalFen + "|"
 *           + agencyCode + "|" + payerCode + "|" + bizSerialNo          (UTF-8)
 *   h     = SM3(text)                                                     (32 bytes)
 *   code  = (first 8 bytes of h as an unsigned big-endian integer) mod 10^6, as 6 digits
 *
 * Digits only, because payers type it on a phone's numeric keypad and read it off a QR code's
 * text; 10^6 values against a guess at one (code, number) is enough for a check code (it is
 * not an authenticator: the agency's and finance's signatures are). The 64-bit prefix makes
 * the modulo bias negligible (2^64 mod 10^6 / 2^64 < 10^-13). "PJCC1" versions the recipe.
 */
export function deriveCheckCode(fields: CheckCodeFields): string {
  const text = [
    "PJCC1",
    fields.billCode,
    fields.number,
    fields.issueDate,
    fields.totalFen.toString(),
    fields.agencyCode,
    fields.payerCode,
    fields.bizSerialNo,
  ].join("|");
  const prefix = sm3(text).readBigUInt64BE(0);
  return (prefix % 1_000_000n).toString().padStart(6, "0");
}
