import { unstorableCharacter } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime/errors";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseXml } from "../testing/xml.ts";
import { buildReceiptDocument, type ReceiptDocumentInput } from "./document.ts";

/** Characters that break XML or databases, markup, line ends, and any code point at all. */
const hostileChar = fc.oneof(
  fc.constantFrom("&", "<", ">", '"', "'", "\r", "\n", "\t", "]]>", "\r\n", "&amp;", "<![CDATA[", "\u0085"),
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.constantFrom("\uFFFE", "\uFFFF", "\uD800", "\uDFFF", "\uDBFF\uDFFF", "\u{1F600}"),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
  fc.constantFrom("张", "三", "a", " "),
);
const hostileText = fc.array(hostileChar, { minLength: 1, maxLength: 12 }).map((parts) => parts.join(""));
/** Markup, line ends and any character XML can hold; mostly these, so that documents do get built. */
const storableText = hostileText.filter((t) => unstorableCharacter(t) === undefined);
const fieldText = fc.oneof({ arbitrary: storableText, weight: 12 }, { arbitrary: hostileText, weight: 1 });

const base: ReceiptDocumentInput = {
  billName: "北京市非税收入一般缴款书（电子）",
  billCode: "11010126",
  number: "0000000123",
  checkCode: "899491",
  totalFen: 5235n,
  issuedAt: new Date("2026-03-15T16:30:05Z"),
  agencyCode: "110101",
  payer: { type: 1, code: "11010519491231002X", name: "张三" },
  bizSerialNo: "BIZ-0001",
  handlingPerson: "li.si",
  items: [
    { code: "001", name: "护照工本费", unit: "本", quantity: "2", standardFen: 2000n, amountFen: 4000n },
  ],
};

/** Every text a person or system supplies that ends up in the document, by its element. */
function withTexts(t: Record<string, string>): ReceiptDocumentInput {
  return {
    ...base,
    billName: t.EInvoiceName!,
    payer: { ...base.payer, name: t.PayerPartyName!, account: t.PayerAcct!, bank: t.PayerOpBk! },
    payMode: t.PayMode!,
    remark: t.Remark!,
    handlingPerson: t.HandlingPerson!,
    checker: t.Checker!,
    items: [{ ...base.items[0]!, name: t.ItemName!, unit: t.ItemUnit! }],
  };
}
const FIELDS = [
  "EInvoiceName",
  "PayerPartyName",
  "PayerAcct",
  "PayerOpBk",
  "PayMode",
  "Remark",
  "HandlingPerson",
  "Checker",
  "ItemName",
  "ItemUnit",
] as const;

describe("the receipt document is well-formed XML whatever its texts hold", () => {
  it("a real parser reads back every text exactly, or the builder refuses the text by name", () => {
    let built = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.record(Object.fromEntries(FIELDS.map((f) => [f, fieldText]))), (texts) => {
        const unstorable = FIELDS.find((f) => unstorableCharacter(texts[f]!) !== undefined);
        let document: Buffer;
        try {
          document = buildReceiptDocument(withTexts(texts));
        } catch (error) {
          // Refused: only for a text XML cannot hold, and naming that element.
          expect(error).toBeInstanceOf(AppError);
          expect(unstorable).toBeDefined();
          expect((error as AppError).details.issues?.[0]?.field).toMatch(/^document\./);
          refused++;
          return;
        }
        expect(unstorable).toBeUndefined();
        const parsed = parseXml(document);
        expect(parsed.error).toBeUndefined();
        const read = new Map(parsed.texts);
        for (const f of FIELDS) expect(read.get(f)).toBe(texts[f]);
        built++;
      }),
      { seed: 20261202, numRuns: 400 },
    );
    // Both outcomes were exercised (the generator is built so that they are).
    expect(built).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
  });

  it("refuses each character class XML 1.0 cannot hold: NUL, C0 controls, U+FFFE/U+FFFF, lone surrogates", () => {
    for (const bad of ["\u0000", "\u0001", "\u001B", "\u000B", "\uFFFE", "\uFFFF", "\uD800", "a\uDC00"]) {
      expect(() => buildReceiptDocument({ ...base, remark: `x${bad}y` })).toThrow(/Remark contains U\+/);
    }
    // Tab, LF and CR are text; CR survives the parser's line-end normalisation as a reference.
    const doc = buildReceiptDocument({ ...base, remark: "a\tb\nc\rd\r\ne" });
    expect(doc.toString()).toContain("<Remark>a\tb\nc&#13;d&#13;\ne</Remark>");
    expect(new Map(parseXml(doc).texts).get("Remark")).toBe("a\tb\nc\rd\r\ne");
  });

  it("the parser is a real one: it refuses what is not well-formed", () => {
    expect(parseXml("<a>\u0001</a>").error).toBeDefined();
    expect(parseXml("<a>&</a>").error).toBeDefined();
    expect(parseXml("<a><b></a>").error).toBeDefined();
    expect(parseXml("<a>\uFFFE</a>").error).toBeDefined();
    expect(parseXml("<a>x</a>").error).toBeUndefined();
  });
});
