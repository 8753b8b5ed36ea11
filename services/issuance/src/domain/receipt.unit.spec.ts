import { createHash, createHmac } from "node:crypto";
import { issuesFromZod } from "@piaoju/runtime/errors";
import { Keyring, keyIdOf } from "@piaoju/sealing";
import { describe, expect, it } from "vitest";
import { agencyCheckCodeSecret, deriveCheckCode, newCheckCode } from "./check-code.ts";
import { buildReceiptDocument, type ReceiptDocumentInput, shanghaiDateTime } from "./document.ts";
import { amountForStandard, fenToYuan, normalizeQuantity } from "./money.ts";
import { checkAgainstReference, type IncomeItem } from "./reference.ts";
import { canonicalRequest, type IssueRequest, issueRequestShape } from "./request.ts";

/** The rules across fields are the shared schema's (packages/contracts). */
function checkIssueRequest(r: IssueRequest) {
  const parsed = issueRequestShape.safeParse(r);
  return parsed.success ? [] : issuesFromZod(parsed.error);
}

const request: IssueRequest = issueRequestShape.parse({
  agencyCode: "110101",
  issuingPointCode: "WIN-01",
  billCode: "11010126",
  bizSerialNo: "BIZ-0001",
  payer: { type: 1, code: "11010519491231002X", name: "张三" },
  items: [
    { itemCode: "001", quantity: "2", amountFen: 4000 },
    { itemCode: "002", quantity: "1.5", amountFen: 1235 },
  ],
  totalFen: 5235,
  handlingPerson: "li.si",
});

const items = new Map<string, IncomeItem>([
  ["001", { code: "001", name: "护照工本费", unit: "本", standardFen: 2000n, enabled: true }],
  ["002", { code: "002", name: "加急费", unit: "件", standardFen: 823n, enabled: true }],
  ["003", { code: "003", name: "停用项目", unit: "件", standardFen: null, enabled: false }],
]);
const point = { code: "WIN-01", name: "一号窗口", enabled: true };

describe("money in integer fen", () => {
  it("formats fen as yuan with 2 decimals", () => {
    expect(fenToYuan(0n)).toBe("0.00");
    expect(fenToYuan(5n)).toBe("0.05");
    expect(fenToYuan(210000000000n)).toBe("2100000000.00");
  });

  it("computes quantity × standard exactly, rounding half up to the fen", () => {
    expect(amountForStandard("2", 2000n)).toBe(4000n);
    expect(amountForStandard("1.5", 823n)).toBe(1235n); // 1234.5 → 1235
    expect(amountForStandard("0.0001", 4999n)).toBe(0n);
    expect(normalizeQuantity("002.50")).toBe("2.5");
    expect(normalizeQuantity("3.0")).toBe("3");
  });
});

describe("issue request rules", () => {
  it("accepts a request whose total is the sum of its items and whose payer code validates", () => {
    expect(checkIssueRequest(request)).toEqual([]);
    expect(checkAgainstReference(request, point, items)).toEqual([]);
  });

  it("refuses a total that is not the sum of the items, naming totalFen", () => {
    expect(checkIssueRequest({ ...request, totalFen: 5234 })).toEqual([
      expect.objectContaining({ field: "totalFen", rule: "total_equals_sum_of_items" }),
    ]);
  });

  it("refuses a payer code that does not validate for the payer type", () => {
    expect(checkIssueRequest({ ...request, payer: { ...request.payer, type: 2 } })).toEqual([
      expect.objectContaining({ field: "payer.code", rule: "unified_social_credit_code" }),
    ]);
  });

  it("refuses an item amount that is not quantity × standard, naming the item", () => {
    const wrong = { ...request, items: [request.items[0]!, { ...request.items[1]!, amountFen: 1234 }] };
    expect(checkAgainstReference(wrong, point, items)).toEqual([
      expect.objectContaining({ field: "items.1.amountFen", rule: "amount_equals_quantity_times_standard" }),
    ]);
  });

  it("refuses unknown and disabled items and issuing points", () => {
    const bad = {
      ...request,
      items: [
        { itemCode: "003", quantity: "1", amountFen: 1 },
        { itemCode: "404", quantity: "1", amountFen: 1 },
      ],
    };
    const issues = checkAgainstReference(bad, { ...point, enabled: false }, items);
    expect(issues.map((i) => [i.field, i.rule])).toEqual([
      ["issuingPointCode", "issuing_point_enabled"],
      ["items.0.itemCode", "income_item_enabled"],
      ["items.1.itemCode", "income_item_enabled"],
    ]);
    expect(checkAgainstReference(request, undefined, items)[0]!.message).toMatch(/does not exist/);
  });

  it("fingerprints the same request the same way however its quantities are written", () => {
    const same = { ...request, items: request.items.map((i) => ({ ...i, quantity: `${i.quantity}.0` })) };
    same.items[1] = { ...same.items[1]!, quantity: "1.50" };
    expect(canonicalRequest(same)).toBe(canonicalRequest(request));
    expect(canonicalRequest({ ...request, remark: "x" })).not.toBe(canonicalRequest(request));
  });
});

describe("check code (校验码)", () => {
  const fields = {
    billCode: "11010126",
    number: "0000000001",
    issueDate: "20260315",
    totalFen: 12345n,
    agencyCode: "110101",
    payerCode: "11010519491231002X",
    bizSerialNo: "BIZ-0001",
  };

  const root = Buffer.from("000102030405060708090a0b0c0d0e0f", "hex");
  const secret = agencyCheckCodeSecret(root, fields.agencyCode);

  it("is 6 digits of HMAC-SM3 under the agency's secret, as the README documents", () => {
    const text = "PJCC2|11010126|0000000001|20260315|12345|110101|11010519491231002X|BIZ-0001";
    const expected = (createHmac("sm3", secret).update(text).digest().readBigUInt64BE(0) % 1_000_000n)
      .toString()
      .padStart(6, "0");
    expect(deriveCheckCode(fields, secret)).toBe(expected);
    // pinned: changing the recipe would change what payers verify issued receipts with
    expect(deriveCheckCode(fields, secret)).toBe("044655");
  });

  it("cannot be computed from the public fields: the unkeyed SM3 of PJCC1 does not give it", () => {
    const unkeyed = (
      createHash("sm3")
        .update("PJCC1|11010126|0000000001|20260315|12345|110101|11010519491231002X|BIZ-0001")
        .digest()
        .readBigUInt64BE(0) % 1_000_000n
    )
      .toString()
      .padStart(6, "0");
    expect(deriveCheckCode(fields, secret)).not.toBe(unkeyed);
  });

  it("differs per agency and per root key, and names the key that made it", () => {
    const other = Buffer.from("f0e0d0c0b0a090807060504030201000", "hex");
    expect(agencyCheckCodeSecret(root, "110101").equals(agencyCheckCodeSecret(root, "110102"))).toBe(false);
    const codes = new Set(
      Array.from({ length: 50 }, (_, i) => {
        const f = { ...fields, number: String(i + 1).padStart(10, "0") };
        return `${deriveCheckCode(f, secret)}/${deriveCheckCode(f, agencyCheckCodeSecret(other, "110101"))}`;
      }).filter((pair) => pair.split("/")[0] !== pair.split("/")[1]),
    );
    expect(codes.size).toBeGreaterThan(45);
    const made = newCheckCode(new Keyring(other, [root]), fields);
    expect(made).toEqual({
      checkCode: deriveCheckCode(fields, agencyCheckCodeSecret(other, "110101")),
      checkCodeKeyId: keyIdOf(other),
    });
  });

  it("changes when any key field changes", () => {
    const base = deriveCheckCode(fields, secret);
    for (const change of [
      { number: "0000000002" },
      { totalFen: 12346n },
      { payerCode: "440304199001011233" },
    ]) {
      expect(deriveCheckCode({ ...fields, ...change }, secret)).not.toBe(base);
    }
  });
});

describe("receipt document", () => {
  const input: ReceiptDocumentInput = {
    billName: "北京市非税收入一般缴款书（电子）",
    billCode: "11010126",
    number: "0000000123",
    checkCode: "899491",
    totalFen: 5235n,
    issuedAt: new Date("2026-03-15T16:30:05Z"), // 00:30:05 on the 16th in Beijing
    agencyCode: "110101",
    payer: { type: 1, code: "11010519491231002X", name: "张<三>&" },
    bizSerialNo: "BIZ-0001",
    handlingPerson: "li.si",
    items: [
      { code: "001", name: "护照工本费", unit: "本", quantity: "2", standardFen: 2000n, amountFen: 4000n },
      { code: "002", name: "加急费", unit: "件", quantity: "1.50", standardFen: null, amountFen: 1235n },
    ],
  };

  it("is the same bytes for the same receipt", () => {
    expect(buildReceiptDocument(input).equals(buildReceiptDocument({ ...input }))).toBe(true);
  });

  it("carries Header and EInvoiceData as domain.md describes, dates in Asia/Shanghai, money with 2 decimals", () => {
    const xml = buildReceiptDocument(input).toString("utf8");
    expect(xml).toContain(
      "<Header><EInvoiceID>3210000000-62101011</EInvoiceID><EInvoiceTag>CZ-EI-11</EInvoiceTag><Version>1.2.0</Version></Header>",
    );
    expect(xml).toContain(
      "<TotalAmount>52.35</TotalAmount><IssueDate>20260316</IssueDate><IssueTime>00:30:05</IssueTime>",
    );
    expect(xml).toContain("<RandomNumber>899491</RandomNumber>");
    expect(xml).toContain("<PayerPartyName>张&lt;三&gt;&amp;</PayerPartyName>");
    expect(xml).toContain(
      "<Item><ItemCode>002</ItemCode><ItemName>加急费</ItemName><ItemUnit>件</ItemUnit><ItemQuantity>1.5</ItemQuantity><ItemAmount>12.35</ItemAmount></Item>",
    );
    expect(xml).toContain("<ItemStd>20.00</ItemStd>");
    expect(xml).toMatch(
      /^<\?xml version="1\.0" encoding="UTF-8"\?><EInvoice><Header>.*<\/EInvoiceData><\/EInvoice>$/,
    );
  });

  it("formats the issue time in Asia/Shanghai across midnight", () => {
    expect(shanghaiDateTime(new Date("2025-12-31T15:59:59Z"))).toEqual({
      date: "20251231",
      time: "23:59:59",
    });
    expect(shanghaiDateTime(new Date("2025-12-31T16:00:00Z"))).toEqual({
      date: "20260101",
      time: "00:00:00",
    });
  });
});
