import { type ReportTable, sums, table, type Values } from "../../domain/report-table.ts";
import { conditions, type ReportDeps, type ReportFilters, reportContext } from "./context.ts";

const KIND_TEXT: Record<string, string> = {
  MISSING_AT_FINANCE: "财政无此票",
  UNKNOWN_HERE: "本平台无此票",
  REJECTED_HERE_SUPERVISED_THERE: "本方拒绝而财政已监制",
  DOCUMENT_MISMATCH: "票面不一致",
  AGENCY_SIGNATURE_MISMATCH: "单位签名不一致",
  FINANCE_SIGNATURE_MISMATCH: "财政签名不一致",
  SIGNATURE_INVALID: "签名验证失败",
};

interface Summary {
  issuedHere: number;
  supervisedThere: number;
  matched: number;
  differences: number;
}

/**
 * 对账差异: each day of the period that finance-exchange reconciled, the day's figures (issued
 * here, supervised at finance, matched) and every difference it explained.
 */
export async function reconciliationReport(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
): Promise<ReportTable> {
  const { ctx } = await reportContext(deps, f, caller);
  const days = await deps.db.query<{
    day: string;
    summary: Summary;
    reconciled_at: Date;
    differences_omitted: number;
  }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, summary, reconciled_at, differences_omitted FROM reconciliation
      WHERE agency_code = $1 AND day BETWEEN $2 AND $3 ORDER BY day`,
    [f.agencyCode, f.period.from, f.period.to],
  );
  const params: unknown[] = [f.agencyCode, f.period.from, f.period.to];
  const differences = await deps.db.query<{
    day: string;
    kind: string;
    bill_code: string;
    number: string;
    finance_ref: string | null;
    explanation: string;
  }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, kind, bill_code, number, finance_ref, explanation
       FROM reconciliation_difference WHERE agency_code = $1 AND day BETWEEN $2 AND $3${conditions(params, [
         ["bill_code", f.billCode],
       ])}
      ORDER BY day, seq`,
    params,
  );
  const rows: ReportTable["rows"] = [];
  const dayTotals: Values[] = [];
  for (const d of days) {
    for (const x of differences.filter((x) => x.day === d.day)) {
      rows.push({
        type: "detail",
        values: {
          day: x.day,
          kind: KIND_TEXT[x.kind] ?? x.kind,
          billCode: x.bill_code,
          number: x.number,
          financeRef: x.finance_ref,
          explanation: x.explanation,
        },
      });
    }
    const totals = {
      issuedHere: d.summary.issuedHere,
      supervisedThere: d.summary.supervisedThere,
      matched: d.summary.matched,
      differences: d.summary.differences,
    };
    dayTotals.push(totals);
    rows.push({
      type: "subtotal",
      values: {
        day: d.day,
        kind:
          d.differences_omitted > 0 ? `当日小计（另有 ${d.differences_omitted} 条见对账报告）` : "当日小计",
        ...totals,
      },
    });
  }
  return table(ctx, {
    report: "reconciliation",
    title: "对账差异报表",
    columns: [
      { key: "day", title: "对账日期", kind: "date" },
      { key: "kind", title: "差异类型", kind: "text" },
      { key: "billCode", title: "票据代码", kind: "text" },
      { key: "number", title: "票据号码", kind: "text" },
      { key: "financeRef", title: "财政参考号", kind: "text" },
      { key: "explanation", title: "差异说明", kind: "text" },
      { key: "issuedHere", title: "本方开具", kind: "count" },
      { key: "supervisedThere", title: "财政监制", kind: "count" },
      { key: "matched", title: "一致", kind: "count" },
      { key: "differences", title: "差异数", kind: "count" },
    ],
    rows,
    totals: {
      day: `合计 ${days.length} 天`,
      ...sums(dayTotals, ["issuedHere", "supervisedThere", "matched", "differences"]),
    },
  });
}
