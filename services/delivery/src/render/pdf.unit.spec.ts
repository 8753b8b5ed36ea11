import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCjkFont } from "@piaoju/locale";
import { describe, expect, it } from "vitest";
import type { ReceiptView } from "../domain/receipt.ts";
import { cachedRenderer, renderReceiptPdf } from "./pdf.ts";

const view: ReceiptView = {
  receiptId: "0b7c1e7e-4a51-4f61-9a43-6f0f3f1b2a10",
  agencyCode: "110105001",
  agencyName: "北京市公安局出入境管理总队",
  billName: "北京市非税收入统一票据（电子）",
  billCode: "11010126",
  number: "0000012345",
  checkCode: "482913",
  kind: "blue",
  status: "ISSUED",
  issuedAt: new Date("2026-11-30T02:15:00Z"),
  supervisedAt: new Date("2026-11-30T02:15:03Z"),
  totalFen: 16050n,
  bizSerialNo: "CRJ-0001",
  payer: { type: 1, code: "110101199003074514", name: "王小明" },
  items: [{ itemCode: "103040101", itemName: "普通护照工本费", unit: "本", quantity: "1", amountFen: 16050 }],
  handlingPerson: "李收费",
  documentSm3: "ab".repeat(32),
};

describe("the receipt PDF", () => {
  const font = loadCjkFont();

  it("is byte-identical for the same receipt, and small with its CJK font subset", async () => {
    const [a, b] = [await renderReceiptPdf(view, font), await renderReceiptPdf(view, font)];
    expect(a.equals(b)).toBe(true);
    expect(a.subarray(0, 5).toString()).toBe("%PDF-");
    expect(a.length).toBeLessThan(100_000);
  });

  it("shows a person's ID number masked and an organisation's credit code in full (pdftotext)", async () => {
    const text = async (v: ReceiptView) => {
      const dir = mkdtempSync(join(tmpdir(), "delivery-pdf-"));
      try {
        writeFileSync(join(dir, "r.pdf"), await renderReceiptPdf(v, font));
        return execFileSync("pdftotext", ["-layout", join(dir, "r.pdf"), "-"], { encoding: "utf8" });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const person = await text(view);
    expect(person).toContain("王小明");
    expect(person).not.toContain("110101199003074514");
    expect(person).toContain("110***********4514");
    const org = await text({
      ...view,
      payer: { type: 2, code: "91110105MA01ABCD2X", name: "某某科技有限公司" },
    });
    expect(org).toContain("91110105MA01ABCD2X");
  });

  it("is rendered once per receipt state and served from the cache after", async () => {
    let renders = 0;
    const render = cachedRenderer(async (v) => {
      renders++;
      return Buffer.from(v.status);
    }, 2);
    await render(view);
    await render(view);
    expect(renders).toBe(1);
    await render({ ...view, status: "RED_FLUSHED" });
    expect(renders).toBe(2);
  });
});
