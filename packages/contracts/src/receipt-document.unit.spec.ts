import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  receiptDocumentVersion,
  signaturesOf,
  signedContentOf,
  unsignedDocumentOf,
  withSignatures,
} from "./receipt-document.ts";

const xmlText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const document = (version: string, payer: string, remark: string) =>
  Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?><EInvoice><Header><EInvoiceID>1-2</EInvoiceID><Version>${version}</Version></Header>` +
      `<EInvoiceData><PayerPartyName>${xmlText(payer)}</PayerPartyName><Remark>${xmlText(remark)}</Remark></EInvoiceData></EInvoice>`,
    "utf8",
  );
const signatures = {
  agency: { value: Buffer.from("agency").toString("base64"), time: "2026-12-03T08:00:00.000Z" },
  finance: { value: Buffer.from("finance").toString("base64"), time: "2026-12-03T08:00:01.000Z" },
};
// Text a payer may write, markup-looking text included (it is escaped in the document).
const text = fc
  .string({ unit: "grapheme", maxLength: 40 })
  .map((s) => `${s}</EInvoiceData><EInvoiceSignature>`);

describe("the receipt document's signed form", () => {
  it("signs Header + EInvoiceData of a 1.2.0 document, byte for byte, whatever the payer wrote", () => {
    fc.assert(
      fc.property(text, text, (payer, remark) => {
        const unsigned = document("1.2.0", payer, remark);
        const xml = unsigned.toString("utf8");
        const expected = xml.slice(xml.indexOf("<Header>"), xml.indexOf("</EInvoice>"));
        expect(signedContentOf(unsigned).toString("utf8")).toBe(expected);
        const served = withSignatures(unsigned, signatures);
        // The served document holds the signatures; taking them out gives the stored bytes back.
        expect(served.toString("utf8")).toContain("<EInvoiceSignature><InvoicingPartySignature>");
        expect(unsignedDocumentOf(served).equals(unsigned)).toBe(true);
        expect(signedContentOf(served).equals(signedContentOf(unsigned))).toBe(true);
        expect(signaturesOf(served)).toEqual(signatures);
      }),
      { seed: 20261203, numRuns: 200 },
    );
  });

  it("keeps an earlier receipt verifiable as it was issued: a 1.1.0 document was signed whole", () => {
    const unsigned = document("1.1.0", "张三", "");
    expect(receiptDocumentVersion(unsigned)).toBe("1.1.0");
    expect(signedContentOf(unsigned).equals(unsigned)).toBe(true);
    expect(signedContentOf(withSignatures(unsigned, signatures)).equals(unsigned)).toBe(true);
    // Later versions sign the portion; a document without a version is signed whole.
    expect(signedContentOf(document("1.10.0", "a", "")).toString()).toMatch(/^<Header>.*<\/EInvoiceData>$/);
    expect(signedContentOf(Buffer.from("<Receipt/>")).toString()).toBe("<Receipt/>");
  });

  it("serves only the signatures there are, and refuses values that are not base64", () => {
    const unsigned = document("1.2.0", "李四", "");
    expect(withSignatures(unsigned, {}).equals(unsigned)).toBe(true);
    const agencyOnly = withSignatures(unsigned, { agency: signatures.agency });
    expect(signaturesOf(agencyOnly)).toEqual({ agency: signatures.agency, finance: undefined });
    expect(() => withSignatures(unsigned, { agency: { value: "<x/>", time: "now" } })).toThrow(/base64/);
    expect(() =>
      signedContentOf(Buffer.from("<EInvoice><Header><Version>1.2.0</Version></EInvoice>")),
    ).toThrow(/Header and EInvoiceData/);
  });
});
