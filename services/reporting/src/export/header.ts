import { fenToYuan, shanghaiTimestamp } from "@piaoju/locale";
import type { Cell, Column, ReportTable } from "../domain/report-table.ts";

/** The lines above every exported table: who it is for, what period and filters, when and by whom it was made. */
export function headerLines(report: ReportTable): string[] {
  const filters = Object.entries(report.filters).map(([k, v]) => `${k}：${v}`);
  return [
    `单位：${report.agency.name ? `${report.agency.name}（${report.agency.code}）` : report.agency.code}`,
    `期间：${report.period.from} 至 ${report.period.to}${filters.length ? `　${filters.join("　")}` : ""}`,
    `制表时间：${shanghaiTimestamp(new Date(report.generatedAt))}（北京时间）　制表人：${report.generatedBy}`,
  ];
}

/** A cell as printed: money in yuan with 2 decimals, times in Beijing time, counts as they are. */
export function printed(column: Column, value: Cell | undefined): string {
  if (value === null || value === undefined || value === "") return "";
  if (column.kind === "money") return fenToYuan(BigInt(value));
  if (column.kind === "datetime" && isInstant(value)) return shanghaiTimestamp(new Date(String(value)));
  return String(value);
}

/** An ISO instant (a datetime column's total row holds a label instead). */
export function isInstant(value: Cell): boolean {
  return typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value));
}
