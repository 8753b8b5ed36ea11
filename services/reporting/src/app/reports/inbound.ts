import { formatNumber } from "../../domain/number-ranges.ts";
import { type ReportTable, sums, table, type Values, withSubtotals } from "../../domain/report-table.ts";
import { conditions, type ReportDeps, type ReportFilters, reportContext } from "./context.ts";

const SOURCE: Record<string, string> = { finance: "财政下发", manual: "手工录入" };

/** 票据入库情况: segments confirmed into stock (入库) in the period, by bill kind. */
export async function inboundReport(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
): Promise<ReportTable> {
  const { ctx, names } = await reportContext(deps, f, caller);
  const params: unknown[] = [f.agencyCode, f.period.from, f.period.to];
  const rows = await deps.db.query<{
    stocked_at: Date;
    bill_code: string;
    start_number: string;
    end_number: string;
    count: number;
    source: string;
    finance_ref: string | null;
    stocked_by: string;
  }>(
    `SELECT stocked_at, bill_code, start_number, end_number, count, source, finance_ref, stocked_by FROM segment
      WHERE agency_code = $1 AND stocked_day BETWEEN $2 AND $3${conditions(params, [
        ["bill_code", f.billCode],
        ["stocked_by", f.clerk],
      ])}
      ORDER BY bill_code, stocked_at, start_number`,
    params,
  );
  const details: Values[] = rows.map((r) => ({
    stockedAt: r.stocked_at.toISOString(),
    billCode: r.bill_code,
    billName: names.billKind(r.bill_code),
    startNumber: formatNumber(BigInt(r.start_number)),
    endNumber: formatNumber(BigInt(r.end_number)),
    quantity: r.count,
    source: SOURCE[r.source] ?? r.source,
    financeRef: r.finance_ref,
    stockedBy: r.stocked_by,
  }));
  return table(ctx, {
    report: "inbound",
    title: "票据入库情况",
    columns: [
      { key: "stockedAt", title: "入库时间", kind: "datetime" },
      { key: "billCode", title: "票据代码", kind: "text" },
      { key: "billName", title: "票据名称", kind: "text" },
      { key: "startNumber", title: "起始号码", kind: "text" },
      { key: "endNumber", title: "终止号码", kind: "text" },
      { key: "quantity", title: "数量", kind: "count" },
      { key: "source", title: "来源", kind: "text" },
      { key: "financeRef", title: "财政下发单号", kind: "text" },
      { key: "stockedBy", title: "入库人", kind: "text" },
    ],
    rows: withSubtotals(
      details,
      (v) => String(v.billCode),
      (v) => ({ billCode: v.billCode, billName: `${String(v.billName)} 小计` }),
      ["quantity"],
    ),
    totals: { billName: "合计", ...sums(details, ["quantity"]) },
  });
}
