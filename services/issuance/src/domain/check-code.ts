import { hmacSm3 } from "@piaoju/gm-crypto";
import { deriveKey, type Keyring } from "@piaoju/sealing";

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
 * The agency's check-code secret under one root key of PIAOJU_CHECK_CODE_KEY:
 *   secret = HMAC-SM3(SM3("piaoju/issuance/check-code" ‖ 0x00 ‖ root), agencyCode)
 * One secret per agency, none stored: the root key list and the agency code make it again.
 */
export function agencyCheckCodeSecret(root: Uint8Array, agencyCode: string): Buffer {
  return hmacSm3(deriveKey(root, "issuance/check-code"), agencyCode);
}

/**
 * The 6-character check code (校验码) a payer types to verify a receipt with its code and number.
 *
 *   text  = "PJCC2|" + billCode + "|" + number + "|" + issueDate + "|" + totalFen + "|"
 *           + agencyCode + "|" + payerCode + "|" + bizSerialNo          (UTF-8)
 *   h     = HMAC-SM3(the agency's secret, text)                         (32 bytes)
 *   code  = (first 8 bytes of h as an unsigned big-endian integer) mod 10^6, as 6 digits
 *
 * Keyed, so it cannot be computed from the receipt's public fields (PJCC1, an unkeyed SM3 of
 * them, could: issue 9, class 7). Digits only, because payers type it on a phone's numeric
 * keypad; 10^6 values against one (code, number) is enough with the lookups rate-limited. The
 * 64-bit prefix makes the modulo bias negligible. The code is stored with the receipt and the id
 * of the root key that made it (check_code_key_id): a receipt's code never changes, whatever
 * rotates later.
 */
export function deriveCheckCode(fields: CheckCodeFields, agencySecret: Uint8Array): string {
  const text = [
    "PJCC2",
    fields.billCode,
    fields.number,
    fields.issueDate,
    fields.totalFen.toString(),
    fields.agencyCode,
    fields.payerCode,
    fields.bizSerialNo,
  ].join("|");
  const prefix = hmacSm3(agencySecret, text).readBigUInt64BE(0);
  return (prefix % 1_000_000n).toString().padStart(6, "0");
}

/** The check code of a new receipt under the current root key, and that key's id to store with it. */
export function newCheckCode(
  keys: Keyring,
  fields: CheckCodeFields,
): { checkCode: string; checkCodeKeyId: string } {
  const root = keys.current;
  return {
    checkCode: deriveCheckCode(fields, agencyCheckCodeSecret(root.key, fields.agencyCode)),
    checkCodeKeyId: root.id,
  };
}
