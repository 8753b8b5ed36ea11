/**
 * The names personal data goes by in the platform's payloads: the payer (and its parts), the
 * receipt document (its XML names the payer), free text a clerk or business system may put a
 * name in, and the usual names of identity and contact fields. Events must declare such fields
 * to be sealed (the catalog's `personal`); the gateway's audit log seals values under these keys.
 */
export const PERSONAL_FIELD_NAMES: ReadonlySet<string> = new Set([
  "payer",
  "payerName",
  "payerCode",
  "payerPhone",
  "payerEmail",
  "idNumber",
  "idCard",
  "phone",
  "mobile",
  "email",
  "address",
  "document",
  "remark",
]);

/** Shows the start and end of an ID number or phone, masking the middle (for pages and PDFs seen by others). */
export function maskMiddle(text: string, keepStart = 3, keepEnd = 4): string {
  if (text.length <= keepStart + keepEnd) return "*".repeat(text.length);
  return (
    text.slice(0, keepStart) +
    "*".repeat(text.length - keepStart - keepEnd) +
    text.slice(text.length - keepEnd)
  );
}
