import type { RejectionCode } from "../api.ts";

/**
 * The fields of the receipt document (`<EInvoice>`, domain.md) that must agree with what the
 * agency declares beside it: finance signs the document, so the document, not the envelope,
 * is what the payer will read. A document without these elements (a non-standard test
 * document) is not checked here; its signature still is.
 */
const FIELDS = [
  ["EInvoiceCode", "billCode"],
  ["EInvoiceNumber", "number"],
  ["RandomNumber", "checkCode"],
  ["InvoicingPartyCode", "agencyCode"],
] as const;

export function checkDocumentFields(
  document: Buffer,
  declared: { billCode: string; number: string; checkCode: string; agencyCode: string; totalFen: number },
): { code: RejectionCode; reason: string } | undefined {
  const xml = document.toString("utf8");
  const total = /<TotalAmount>([^<]*)<\/TotalAmount>/.exec(xml)?.[1]?.trim();
  if (total !== undefined && yuanToFen(total) !== declared.totalFen) {
    return {
      code: "DOCUMENT_MISMATCH",
      reason: `the document's TotalAmount is ${total} yuan, but the receipt declares ${declared.totalFen} fen`,
    };
  }
  for (const [element, field] of FIELDS) {
    const match = new RegExp(`<${element}>([^<]*)</${element}>`).exec(xml);
    if (match && match[1]!.trim() !== declared[field]) {
      return {
        code: "DOCUMENT_MISMATCH",
        reason: `the document's ${element} is ${match[1]!.trim()}, but the receipt declares ${field} ${declared[field]}`,
      };
    }
  }
  return undefined;
}

/** "120.00" → 12000, "-0.5" → -50; NaN for anything that is not a decimal amount. */
export function yuanToFen(yuan: string): number {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(yuan);
  if (!match) return Number.NaN;
  const fen = Number(match[2]) * 100 + Number((match[3] ?? "").padEnd(2, "0"));
  return match[1] === "-" ? -fen : fen;
}
