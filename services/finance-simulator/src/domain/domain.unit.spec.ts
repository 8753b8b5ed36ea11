import { describe, expect, it } from "vitest";
import { auditFindings } from "./audit.ts";
import { checkDocumentFields, yuanToFen } from "./document-fields.ts";
import { chinaDay, expandRanges, formatNumber, overlaps, planSegment } from "./numbers.ts";

describe("numbers", () => {
  it("a planned segment starts at the counter and holds exactly the quantity", () => {
    expect(planSegment(101n, 50)).toEqual({ start: 101n, end: 150n });
  });
  it("no segment past 9999999999 or of a non-positive quantity", () => {
    expect(planSegment(9_999_999_990n, 11)).toBeNull();
    expect(planSegment(9_999_999_990n, 10)).toEqual({ start: 9_999_999_990n, end: 9_999_999_999n });
    expect(planSegment(1n, 0)).toBeNull();
  });
  it("consecutive segments do not overlap; sharing one number does", () => {
    expect(overlaps({ start: 1n, end: 10n }, { start: 11n, end: 20n })).toBe(false);
    expect(overlaps({ start: 1n, end: 10n }, { start: 10n, end: 20n })).toBe(true);
  });
  it("numbers are 10 digits", () => {
    expect(formatNumber(42n)).toBe("0000000042");
  });
  it("a China day starts at 16:00 UTC the day before", () => {
    expect(chinaDay("2026-12-01")).toEqual({
      from: new Date("2026-11-30T16:00:00Z"),
      to: new Date("2026-12-01T16:00:00Z"),
    });
  });
  it("ranges expand to every number, and refuse more than the cap", () => {
    expect(expandRanges([{ startNumber: "0000000009", endNumber: "0000000011" }], 10)).toEqual([
      "0000000009",
      "0000000010",
      "0000000011",
    ]);
    expect(expandRanges([{ startNumber: "0000000001", endNumber: "0000000100" }], 10)).toBeNull();
  });
});

describe("audit findings", () => {
  const supervised = new Map([
    ["0000000001", { number: "0000000001", voided: false, issuedInPeriod: true }],
    ["0000000002", { number: "0000000002", voided: true, issuedInPeriod: true }],
    ["0000000003", { number: "0000000003", voided: false, issuedInPeriod: true }],
  ]);
  const isIssued = (n: string) => n <= "0000000010";

  it("a report that matches finance's records has no findings", () => {
    expect(
      auditFindings({
        used: ["0000000001", "0000000003"],
        voided: ["0000000002"],
        destroyed: ["0000000009"],
        isIssued,
        supervised,
      }),
    ).toEqual([]);
  });
  it("names each kind of difference", () => {
    const findings = auditFindings({
      used: ["0000000001", "0000000004", "0000000020"],
      voided: ["0000000002", "0000000003", "0000000001"],
      destroyed: [],
      isIssued,
      supervised,
    });
    expect(findings.map((f) => `${f.code}:${f.number}`)).toEqual([
      "NOT_SUPERVISED:0000000004",
      "NOT_ISSUED:0000000020",
      "VOIDED_BUT_SUPERVISED:0000000003",
      "DOUBLE_REPORTED:0000000001",
    ]);
  });
  it("a receipt supervised in the period and missing from the report is UNREPORTED", () => {
    const findings = auditFindings({
      used: ["0000000001"],
      voided: ["0000000002"],
      destroyed: [],
      isIssued,
      supervised,
    });
    expect(findings.map((f) => `${f.code}:${f.number}`)).toEqual(["UNREPORTED:0000000003"]);
  });
});

describe("document fields", () => {
  const declared = {
    billCode: "11010126",
    number: "0000000001",
    checkCode: "123456",
    agencyCode: "110101",
    totalFen: 12_000,
  };
  const doc = (number: string, total = "120.00") =>
    Buffer.from(
      `<EInvoice><EInvoiceData><EInvoiceCode>11010126</EInvoiceCode><EInvoiceNumber>${number}</EInvoiceNumber>` +
        `<RandomNumber>123456</RandomNumber><TotalAmount>${total}</TotalAmount>` +
        `<InvoicingParty><InvoicingPartyCode>110101</InvoicingPartyCode></InvoicingParty></EInvoiceData></EInvoice>`,
    );
  it("a document that says what the receipt declares passes", () => {
    expect(checkDocumentFields(doc("0000000001"), declared)).toBeUndefined();
  });
  it("a document with another number or total is a DOCUMENT_MISMATCH", () => {
    expect(checkDocumentFields(doc("0000000002"), declared)?.code).toBe("DOCUMENT_MISMATCH");
    expect(checkDocumentFields(doc("0000000001", "12.00"), declared)?.code).toBe("DOCUMENT_MISMATCH");
  });
  it("a document without the standard elements is not checked here", () => {
    expect(checkDocumentFields(Buffer.from("<Other/>"), declared)).toBeUndefined();
  });
  it("yuan amounts convert to fen exactly", () => {
    expect([yuanToFen("120.00"), yuanToFen("-0.5"), yuanToFen("3"), yuanToFen("1.234")]).toEqual([
      12_000,
      -50,
      300,
      Number.NaN,
    ]);
  });
});
