/**
 * The texts a receipt shows that are derived, not stored: the QR code's text, the issue
 * date and time in China, and the fields read back from the receipt's signed document.
 */

/** yyyyMMdd and HH:mm:ss in Asia/Shanghai (UTC+8 all year, no daylight saving since 1991). */
export function shanghaiDateTime(at: Date): { date: string; time: string } {
  const iso = new Date(at.getTime() + 8 * 3_600_000).toISOString();
  return { date: iso.slice(0, 10).replaceAll("-", ""), time: iso.slice(11, 19) };
}

/** EInvoiceTag: "CZ-EI-" and the province, the bill code's first two digits. */
export function invoiceTag(billCode: string): string {
  return `CZ-EI-${billCode.slice(0, 2)}`;
}

export interface QrFields {
  billCode: string;
  number: string;
  checkCode: string;
  issuedAt: Date;
  totalYuan: string;
}

/**
 * The QR code's text (domain.md): EInvoiceTag, then code, number, check code, issue date
 * (yyyyMMdd, China) and total, comma-separated. It carries no personal data: a finance
 * verification app or our pick-up page finds the receipt from code + number + check code.
 */
export function qrText(f: QrFields): string {
  return [
    invoiceTag(f.billCode),
    f.billCode,
    f.number,
    f.checkCode,
    shanghaiDateTime(f.issuedAt).date,
    f.totalYuan,
  ].join(",");
}

/** Reads code, number and check code back from a QR text; undefined when it is not one of ours. */
export function parseQrText(
  text: string,
): { billCode: string; number: string; checkCode: string } | undefined {
  const parts = text.trim().split(",");
  const [tag, billCode, number, checkCode] = parts;
  if (!tag?.startsWith("CZ-EI-") || !billCode || !number || !checkCode) return undefined;
  if (!/^\d{8}$/.test(billCode) || !/^\d{10}$/.test(number) || !/^\d{6}$/.test(checkCode)) return undefined;
  return { billCode, number, checkCode };
}

/** The fields of the receipt document that the event does not repeat. */
export interface DocumentFields {
  billName?: string;
  agencyName?: string;
  payMode?: string;
  relatedBillCode?: string;
  relatedNumber?: string;
}

/**
 * Reads a few elements of the receipt's XML. The document is issuance's own output (flat,
 * no attributes, no CDATA), so a tag scan is enough; a missing element is simply absent.
 */
export function readDocumentFields(xml: string): DocumentFields {
  const pick = (name: string) => {
    const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
    return m ? unescapeXml(m[1]!) : undefined;
  };
  const fields: DocumentFields = {};
  const set = (key: keyof DocumentFields, value: string | undefined) => {
    if (value) fields[key] = value;
  };
  set("billName", pick("EInvoiceName"));
  set("agencyName", pick("InvoicingPartyName"));
  set("payMode", pick("PayMode"));
  set("relatedBillCode", pick("RelatedInvoiceCode"));
  set("relatedNumber", pick("RelatedInvoiceNumber"));
  return fields;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#13);/g, (_, name: string) => ENTITIES[name] ?? "\r");
}

export { maskMiddle } from "@piaoju/contracts";
