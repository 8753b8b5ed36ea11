import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { receiptApi } from "../index.ts";
import { bizSerialNo, calendarDate, email, fen, personName, phone, singleLine } from "./rules.ts";
import { text, unstorableCharacter, unstorableTextProblem } from "./text.ts";

const ok = (schema: { safeParse(v: unknown): { success: boolean } }, v: unknown) =>
  schema.safeParse(v).success;

describe("the one text rule", () => {
  it("refuses exactly what XML 1.0 or PostgreSQL cannot hold", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (unit) => {
        const s = `a${String.fromCharCode(unit)}b`;
        const xmlChar =
          unit === 0x9 ||
          unit === 0xa ||
          unit === 0xd ||
          (unit >= 0x20 && unit <= 0xd7ff) ||
          (unit >= 0xe000 && unit <= 0xfffd);
        expect(unstorableCharacter(s) === undefined).toBe(xmlChar);
        expect(ok(text(), s)).toBe(xmlChar);
      }),
      { seed: 1, numRuns: 2000 },
    );
    // A surrogate pair is one character (U+10000 and up) and fine; either half alone is not.
    expect(unstorableCharacter("\u{1F600}\u{10FFFF}")).toBeUndefined();
    expect(unstorableCharacter("x\uD83D")).toEqual({ index: 1, codePoint: "U+D83D" });
    expect(unstorableCharacter("\uDE00x")).toEqual({ index: 0, codePoint: "U+DE00" });
    expect(unstorableTextProblem("a\u0000")).toMatch(/U\+0000 at position 1/);
  });

  it("says which rule broke in the issue (storable_text)", () => {
    const r = text().safeParse("\u0000");
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ code: "custom", params: { rule: "storable_text" } });
  });
});

describe("field rules, written once", () => {
  it("phone: mobiles, landlines with area code, E.164; never dashes or blanks", () => {
    for (const good of [
      "13800138000",
      "+8613800138000",
      "010-12345678",
      "0571-1234567",
      "02112345678",
      "+447911123456",
    ])
      expect(ok(phone, good), good).toBe(true);
    for (const bad of [
      "-----",
      "     ",
      "",
      "1",
      "call me",
      "12345",
      "138001380001",
      "+0123456789",
      "010-123",
      "1380013800\u0000",
    ])
      expect(ok(phone, bad), bad).toBe(false);
  });

  it("names: trimmed, one line, with a letter", () => {
    expect(personName(64).parse("  张三 ")).toBe("张三");
    for (const bad of ["", "   ", "-----", "a\nb", "a\tb", "x".repeat(65)])
      expect(ok(personName(64), bad), bad).toBe(false);
    expect(ok(singleLine(10), "WIN-01")).toBe(true);
  });

  it("business serial numbers do not differ by case: kept in capitals", () => {
    expect(bizSerialNo.parse("biz-0001")).toBe("BIZ-0001");
    expect(bizSerialNo.parse("Biz-0001")).toBe(bizSerialNo.parse("BIZ-0001"));
    for (const bad of ["", "a b", "x".repeat(65), "序号"]) expect(ok(bizSerialNo, bad), bad).toBe(false);
  });

  it("e-mail, amounts and dates", () => {
    expect(ok(email, "zhang.san@example.test")).toBe(true);
    for (const bad of ["not-an-address", "a@", "@b.c", " "]) expect(ok(email, bad), bad).toBe(false);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e14, "100"])
      expect(ok(fen, bad), String(bad)).toBe(false);
    expect(ok(calendarDate, "2024-02-29")).toBe(true);
    for (const bad of ["2026-02-29", "2026-02-30", "2026-13-01", "20260101"])
      expect(ok(calendarDate, bad), bad).toBe(false);
  });

  it("the issue body: strict (an unknown or platform-set field is refused by name), payer code checked by type", () => {
    const body = {
      issuingPointCode: "WIN-01",
      billCode: "11010126",
      bizSerialNo: "BIZ-1",
      payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
      items: [{ itemCode: "001", quantity: "1", amountFen: 100 }],
      totalFen: 100,
      handlingPerson: "li.si",
    };
    expect(ok(receiptApi.issueReceiptBody, body)).toBe(true);
    const spoofed = receiptApi.issueReceiptBody.safeParse({ ...body, source: "online" });
    expect(spoofed.error?.issues[0]).toMatchObject({ code: "unrecognized_keys", keys: ["source"] });
    expect(ok(receiptApi.issueReceiptBody, { ...body, agencyCode: "X" })).toBe(false);
    expect(ok(receiptApi.issueReceiptBody, { ...body, payer: { ...body.payer, type: 2 } })).toBe(false);
    expect(ok(receiptApi.issueReceiptBody, { ...body, payer: { ...body.payer, phone: "-----" } })).toBe(
      false,
    );
    expect(ok(receiptApi.issueReceiptBody, { ...body, items: [{ ...body.items[0], quantity: "0" }] })).toBe(
      false,
    );
  });
});
