import { type FontChoice, pdfBytes } from "@piaoju/locale";
import PDFDocument from "pdfkit";
import type { Column, ReportTable } from "../domain/report-table.ts";
import { headerLines, printed } from "./header.ts";

/**
 * A report as a printable PDF: A4 landscape, the CJK font embedded (subset), the title and the
 * header lines (agency, period, filters, made when and by whom) on the first page, the column
 * heads repeated on every page, subtotals shaded, totals in a ruled row, page numbers at the foot.
 */
const PAGE: [number, number] = [841.89, 595.28];
const MARGIN = 32;
const ROW = 16;
const FONT_SIZE = 7.5;

export async function reportToPdf(report: ReportTable, font: FontChoice): Promise<Buffer> {
  const doc = new PDFDocument({
    size: PAGE,
    margin: MARGIN,
    compress: true,
    bufferPages: true,
    info: {
      Title: `${report.title} ${report.period.from}~${report.period.to}`,
      Author: report.agency.name ?? report.agency.code,
      Creator: "Piaoju reporting",
      Producer: "Piaoju",
      CreationDate: new Date(report.generatedAt),
    },
  });
  doc.registerFont("cjk", font.data ?? font.path, font.postscriptName);
  doc.font("cjk");
  const done = pdfBytes(doc);
  const widths = columnWidths(doc, report);
  const bottom = PAGE[1] - MARGIN - 20;

  doc.fontSize(15).text(report.title, MARGIN, MARGIN, { width: PAGE[0] - 2 * MARGIN, align: "center" });
  doc.fontSize(8.5);
  let y = MARGIN + 26;
  for (const line of headerLines(report)) {
    doc.text(line, MARGIN, y);
    y += 13;
  }
  y = drawHead(doc, report.columns, widths, y + 4);
  for (const row of report.rows) {
    if (y + ROW > bottom) {
      doc.addPage();
      y = drawHead(doc, report.columns, widths, MARGIN);
    }
    if (row.type === "subtotal") doc.rect(MARGIN, y, sum(widths), ROW).fill("#f1f1f1").fillColor("#000");
    drawCells(doc, report.columns, widths, y, (c) => printed(c, row.values[c.key]));
    y += ROW;
  }
  if (y + ROW * (1 + report.notes.length) > bottom) {
    doc.addPage();
    y = drawHead(doc, report.columns, widths, MARGIN);
  }
  doc
    .moveTo(MARGIN, y)
    .lineTo(MARGIN + sum(widths), y)
    .lineWidth(0.8)
    .stroke();
  drawCells(doc, report.columns, widths, y, (c) => printed(c, report.totals[c.key]));
  y += ROW + 4;
  doc.fontSize(8);
  for (const note of report.notes) {
    doc.text(note, MARGIN, y);
    y += 12;
  }
  const pages = doc.bufferedPageRange();
  for (let i = 0; i < pages.count; i++) {
    doc.switchToPage(pages.start + i);
    doc
      .fontSize(7.5)
      .fillColor("#555")
      .text(
        `${report.agency.name ?? report.agency.code}　${report.title}　第 ${i + 1} 页，共 ${pages.count} 页`,
        MARGIN,
        PAGE[1] - MARGIN - 6,
        { width: PAGE[0] - 2 * MARGIN, align: "center", lineBreak: false },
      )
      .fillColor("#000");
  }
  doc.end();
  return done;
}

/** Widths proportional to what the column holds (its title and its longest printed value), to fill the page. */
function columnWidths(doc: PDFKit.PDFDocument, report: ReportTable): number[] {
  doc.fontSize(FONT_SIZE);
  const sample = [...report.rows.slice(0, 200).map((r) => r.values), report.totals];
  const natural = report.columns.map((c) =>
    Math.min(
      220,
      Math.max(
        doc.widthOfString(c.title) + 8,
        ...sample.map((v) => doc.widthOfString(printed(c, v[c.key])) + 8),
      ),
    ),
  );
  const available = PAGE[0] - 2 * MARGIN;
  const scale = available / sum(natural);
  return natural.map((w) => w * scale);
}

function drawHead(
  doc: PDFKit.PDFDocument,
  columns: readonly Column[],
  widths: readonly number[],
  y: number,
): number {
  doc.rect(MARGIN, y, sum(widths), ROW).fill("#dedede").fillColor("#000");
  drawCells(doc, columns, widths, y, (c) => c.title, true);
  return y + ROW;
}

function drawCells(
  doc: PDFKit.PDFDocument,
  columns: readonly Column[],
  widths: readonly number[],
  y: number,
  text: (c: Column) => string,
  head = false,
): void {
  doc.fontSize(FONT_SIZE);
  let x = MARGIN;
  columns.forEach((c, i) => {
    const numeric = !head && (c.kind === "money" || c.kind === "count" || c.kind === "number");
    doc.text(text(c), x + 3, y + 4, {
      width: widths[i]! - 6,
      height: ROW - 4,
      align: numeric ? "right" : "left",
      lineBreak: false,
      ellipsis: true,
    });
    x += widths[i]!;
  });
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
