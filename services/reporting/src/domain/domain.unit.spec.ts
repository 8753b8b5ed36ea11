import { Keyring } from "@piaoju/sealing";
import { describe, expect, it } from "vitest";
import { PayerProtection } from "../adapters/payer-protection.ts";
import { decodeCursor, encodeCursor, maskMiddle } from "./cursor.ts";
import { AGENCY_HOLDER, ledgerOf, type MovementTotal } from "./ledger.ts";
import { subtract } from "./number-ranges.ts";
import { resolvePeriod } from "./period.ts";
import { readReceiptDocument, UnreadableDocumentError, yuanToFen } from "./receipt-document.ts";
import { withSubtotals } from "./report-table.ts";

describe("the receipt document as reporting reads it", () => {
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?><EInvoice><Header><EInvoiceID>x</EInvoiceID></Header><EInvoiceData><Main>' +
    "<TotalAmount>-290.00</TotalAmount><PayerParty><PayerPartyType>1</PayerPartyType>" +
    "<PayerPartyCode>11010519491231002X</PayerPartyCode><PayerPartyName>张&amp;三</PayerPartyName></PayerParty>" +
    "<HandlingPerson>li.si</HandlingPerson></Main><Details>" +
    "<Item><ItemCode>001</ItemCode><ItemName>护照工本费</ItemName><ItemUnit>本</ItemUnit><ItemQuantity>2</ItemQuantity>" +
    "<ItemStd>120.00</ItemStd><ItemAmount>-240.00</ItemAmount></Item>" +
    "<Item><ItemCode>002</ItemCode><ItemName>加急费</ItemName><ItemUnit>次</ItemUnit><ItemQuantity>1</ItemQuantity>" +
    "<ItemAmount>-50.00</ItemAmount></Item></Details></EInvoiceData></EInvoice>";

  it("takes the payer, the handling person and every line, money in fen, entities unescaped", () => {
    expect(readReceiptDocument(xml)).toEqual({
      payer: { type: 1, code: "11010519491231002X", name: "张&三" },
      handlingPerson: "li.si",
      lines: [
        { itemCode: "001", itemName: "护照工本费", quantity: "2", amountFen: -24000n },
        { itemCode: "002", itemName: "加急费", quantity: "1", amountFen: -5000n },
      ],
    });
  });

  it("refuses a document without a payer, and money that is not yuan with 2 decimals", () => {
    expect(() => readReceiptDocument("<EInvoice></EInvoice>")).toThrowError(UnreadableDocumentError);
    expect(yuanToFen("0.05")).toBe(5n);
    expect(() => yuanToFen("12.5")).toThrowError(/amount in yuan/);
  });
});

describe("领用存 from movement totals", () => {
  const totals: MovementTotal[] = [
    { holder: AGENCY_HOLDER, movement: "STOCKED", before: 1000, within: 500 },
    { holder: AGENCY_HOLDER, movement: "RETURNED", before: 0, within: 50 },
    { holder: AGENCY_HOLDER, movement: "VOIDED", before: 0, within: 20 },
    { holder: "W1", movement: "DISTRIBUTED", before: 100, within: 60 },
    { holder: "W1", movement: "USED", before: 40, within: 30 },
    { holder: "W1", movement: "VOIDED", before: 1, within: 2 },
  ];

  it("counts the agency's from finance (入库) and every use, void and return, not moves to its points", () => {
    expect(ledgerOf(totals, AGENCY_HOLDER)).toEqual({
      opening: 1000 - 40 - 1,
      received: 500,
      used: 30,
      voided: 22,
      returned: 50,
      closing: 959 + 500 - 30 - 22 - 50,
    });
  });

  it("counts a point's from what was distributed to it; opening + received − used − voided − returned = closing", () => {
    const w1 = ledgerOf(totals, "W1");
    expect(w1).toEqual({ opening: 59, received: 60, used: 30, voided: 2, returned: 0, closing: 87 });
    expect(w1.opening + w1.received - w1.used - w1.voided - w1.returned).toBe(w1.closing);
  });
});

describe("number ranges", () => {
  it("takes distributed and removed runs out of a segment, leaving the pieces in order", () => {
    expect(
      subtract({ start: 1n, end: 100n }, [
        { start: 1n, end: 30n },
        { start: 51n, end: 60n },
        { start: 91n, end: 100n },
      ]),
    ).toEqual([
      { start: 31n, end: 50n },
      { start: 61n, end: 90n },
    ]);
    expect(subtract({ start: 1n, end: 10n }, [{ start: 1n, end: 10n }])).toEqual([]);
  });
});

describe("periods and pages", () => {
  it("reads a day, a month (leap February), a year and a range as business days", () => {
    expect(resolvePeriod({ month: "2028-02" })).toEqual({
      from: "2028-02-01",
      to: "2028-02-29",
      label: "2028-02",
    });
    expect(resolvePeriod({ year: "2026" })).toMatchObject({ from: "2026-01-01", to: "2026-12-31" });
    expect(resolvePeriod({ day: "2026-12-01" })).toMatchObject({ from: "2026-12-01", to: "2026-12-01" });
  });

  it("gives back the cursor it made and refuses any other text", () => {
    const c = { issuedAt: "2026-12-01T01:02:03.004Z", id: "7f1c2a8e-0b3d-4c5e-9f60-718293a4b5c6" };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    expect(decodeCursor("bm90IGEgY3Vyc29y")).toBeUndefined();
    expect(maskMiddle("11010519491231002X")).toBe("110***********002X");
  });

  it("puts each group's subtotal under its rows", () => {
    const rows = withSubtotals(
      [
        { p: "A", n: 1 },
        { p: "A", n: 2 },
        { p: "B", n: 5 },
      ],
      (v) => String(v.p),
      (v) => ({ p: `${String(v.p)} 小计` }),
      ["n"],
    );
    expect(rows.map((r) => [r.type, r.values.p, r.values.n])).toEqual([
      ["detail", "A", 1],
      ["detail", "A", 2],
      ["subtotal", "A 小计", 3],
      ["detail", "B", 5],
      ["subtotal", "B 小计", 5],
    ]);
  });
});

describe("the payer in the read model", () => {
  const protection = new PayerProtection(new Keyring(Buffer.alloc(16, 3)));

  it("is sealed (never in clear) and opens with the key; a changed byte is refused", () => {
    const sealed = protection.seal({ name: "张三", code: "11010519491231002X" });
    expect(sealed.toString("utf8")).not.toContain("张三");
    expect(protection.unseal(sealed)).toEqual({ name: "张三", code: "11010519491231002X" });
    sealed[20] = (sealed[20] ?? 0) ^ 1;
    expect(() => protection.unseal(sealed)).toThrowError(/altered/);
  });

  it("is found by a keyed hash that ignores blanks and case, and differs under another key", () => {
    expect(protection.digest("name", "李 四")).toBe(protection.digest("name", "李四"));
    expect(protection.digest("code", "11010519491231002x")).toBe(
      protection.digest("code", "11010519491231002X"),
    );
    expect(new PayerProtection(new Keyring(Buffer.alloc(16, 4))).digest("name", "李四")).not.toBe(
      protection.digest("name", "李四"),
    );
  });
});
