import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCjkFont } from "@piaoju/locale";
import ExcelJS from "exceljs";
import { describe, expect, it } from "vitest";
import type { ReportTable } from "../domain/report-table.ts";
import { reportToPdf } from "./pdf.ts";
import { reportToXlsx } from "./xlsx.ts";

const report: ReportTable = {
  report: "red-flush",
  title: "冲红明细查询",
  agency: { code: "110101", name: "北京市公安局出入境管理总队" },
  period: { from: "2026-11-01", to: "2026-11-30", label: "2026-11" },
  filters: { 开票点: "WIN-01 一号窗口" },
  generatedAt: "2026-11-30T17:30:05.000Z",
  generatedBy: "zhang.san",
  columns: [
    { key: "issuedAt", title: "冲红时间", kind: "datetime" },
    { key: "redNumber", title: "红票号码", kind: "text" },
    { key: "amountFen", title: "冲红金额", kind: "money" },
    { key: "receipts", title: "张数", kind: "count" },
  ],
  rows: [
    {
      type: "detail",
      values: {
        issuedAt: "2026-11-03T02:00:00.000Z",
        redNumber: "0000000102",
        amountFen: -12050,
        receipts: 1,
      },
    },
    { type: "subtotal", values: { redNumber: "WIN-01 小计", amountFen: -12050, receipts: 1 } },
  ],
  totals: { issuedAt: "合计", amountFen: -12050, receipts: 1 },
  notes: ["报表数据尚在追赶"],
};

describe("exports", () => {
  it("writes an xlsx with the agency, period, maker and time, money in yuan as numbers", async () => {
    const book = new ExcelJS.Workbook();
    await book.xlsx.load((await reportToXlsx(report)) as unknown as ArrayBuffer);
    const sheet = book.worksheets[0]!;
    const text = sheet.getSheetValues().flat().filter(Boolean).map(String).join("|");
    expect(text).toContain("冲红明细查询");
    expect(text).toContain("单位：北京市公安局出入境管理总队（110101）");
    expect(text).toContain("期间：2026-11-01 至 2026-11-30　开票点：WIN-01 一号窗口");
    expect(text).toContain("制表时间：2026-12-01 01:30:05（北京时间）　制表人：zhang.san");
    expect(text).toContain("2026-11-03 10:00:00");
    expect(text).toContain("-120.5");
    expect(text).toContain("报表数据尚在追赶");
  });

  it("prints a PDF whose text (pdftotext) carries the same header and the figures in yuan", async () => {
    const pdf = await reportToPdf(report, loadCjkFont());
    const dir = mkdtempSync(join(tmpdir(), "reporting-pdf-"));
    try {
      writeFileSync(join(dir, "r.pdf"), pdf);
      const text = execFileSync("pdftotext", ["-layout", join(dir, "r.pdf"), "-"], { encoding: "utf8" });
      for (const expected of [
        "冲红明细查询",
        "北京市公安局出入境管理总队",
        "制表人：zhang.san",
        "-120.50",
        "合计",
        "第 1 页，共 1 页",
      ])
        expect(text).toContain(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(pdf.length).toBeLessThan(200_000);
  });
});
