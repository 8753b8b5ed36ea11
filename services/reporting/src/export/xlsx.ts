import { shanghaiTimestamp } from "@piaoju/locale";
import ExcelJS from "exceljs";
import type { Cell, Column, ReportTable } from "../domain/report-table.ts";
import { headerLines, isInstant } from "./header.ts";

const YUAN = "#,##0.00;[Red]-#,##0.00";

/**
 * A report as an Excel workbook: a title, the agency, period, filters, when and by whom it was
 * made, then the table (money as numbers in yuan with 2 decimals, so sums in Excel stay right),
 * subtotal rows shaded, the totals row in bold, and the notes under it.
 */
export async function reportToXlsx(report: ReportTable): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  book.creator = report.generatedBy;
  book.created = new Date(report.generatedAt);
  const sheet = book.addWorksheet(report.title, {
    pageSetup: { orientation: "landscape", fitToPage: true, fitToWidth: 1, fitToHeight: 0, paperSize: 9 },
  });
  const width = report.columns.length;
  const title = sheet.addRow([report.title]);
  title.font = { size: 16, bold: true };
  sheet.mergeCells(1, 1, 1, width);
  title.alignment = { horizontal: "center" };
  for (const line of headerLines(report)) {
    const row = sheet.addRow([line]);
    sheet.mergeCells(row.number, 1, row.number, width);
  }
  sheet.addRow([]);
  const header = sheet.addRow(report.columns.map((c) => c.title));
  header.font = { bold: true };
  header.eachCell((cell) => {
    cell.fill = { type: "pattern", pattern: "solid", fgColor: { argb: "FFE8E8E8" } };
    cell.border = { bottom: { style: "thin" } };
  });
  sheet.views = [{ state: "frozen", ySplit: header.number }];
  for (const r of report.rows) {
    const row = sheet.addRow(report.columns.map((c) => cellValue(c, r.values[c.key])));
    if (r.type === "subtotal") {
      row.font = { italic: true };
      row.eachCell((cell) => {
        cell.fill = { type: "pattern", pattern: "solid", fgColor: { argb: "FFF5F5F5" } };
      });
    }
  }
  const totals = sheet.addRow(report.columns.map((c) => cellValue(c, report.totals[c.key])));
  totals.font = { bold: true };
  totals.eachCell((cell) => {
    cell.border = { top: { style: "thin" } };
  });
  for (const note of report.notes) sheet.addRow([note]);
  report.columns.forEach((c, i) => {
    const column = sheet.getColumn(i + 1);
    if (c.kind === "money") column.numFmt = YUAN;
    column.width = c.kind === "text" ? Math.max(10, Math.min(40, c.title.length * 2 + 6)) : 16;
  });
  sheet.headerFooter.oddFooter = `&L${report.agency.name ?? report.agency.code}&C第 &P 页，共 &N 页&R${shanghaiTimestamp(new Date(report.generatedAt))}`;
  return Buffer.from(await book.xlsx.writeBuffer());
}

function cellValue(column: Column, value: Cell | undefined): ExcelJS.CellValue {
  if (value === null || value === undefined) return null;
  if (column.kind === "money") return Number(value) / 100;
  if (column.kind === "datetime" && isInstant(value)) return shanghaiTimestamp(new Date(String(value)));
  return value;
}
