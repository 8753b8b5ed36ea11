import { formatNumber } from "../../domain/number-ranges.ts";
import { type ReportTable, sums, table, type Values, withSubtotals } from "../../domain/report-table.ts";
import { conditions, type ReportDeps, type ReportFilters, reportContext } from "./context.ts";

/** 票据分发情况: runs handed to issuing points (分发) in the period, by issuing point. */
export async function distributionReport(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
): Promise<ReportTable> {
  const { ctx, names } = await reportContext(deps, f, caller);
  const params: unknown[] = [f.agencyCode, f.period.from, f.period.to];
  const rows = await deps.db.query<{
    distributed_at: Date;
    issuing_point_code: string;
    bill_code: string;
    start_number: string;
    end_number: string;
    count: number;
    distributed_by: string | null;
  }>(
    `SELECT distributed_at, issuing_point_code, bill_code, start_number, end_number, count, distributed_by
       FROM distribution WHERE agency_code = $1 AND day BETWEEN $2 AND $3${conditions(params, [
         ["bill_code", f.billCode],
         ["issuing_point_code", f.issuingPointCode],
         ["distributed_by", f.clerk],
       ])}
      ORDER BY issuing_point_code, bill_code, distributed_at, start_number`,
    params,
  );
  const details: Values[] = rows.map((r) => ({
    distributedAt: r.distributed_at.toISOString(),
    issuingPoint: `${r.issuing_point_code} ${names.point(r.issuing_point_code)}`.trim(),
    billCode: r.bill_code,
    billName: names.billKind(r.bill_code),
    startNumber: formatNumber(BigInt(r.start_number)),
    endNumber: formatNumber(BigInt(r.end_number)),
    quantity: r.count,
    distributedBy: r.distributed_by === "rule" ? "自动分发" : (r.distributed_by ?? ""),
  }));
  return table(ctx, {
    report: "distribution",
    title: "票据分发情况",
    columns: [
      { key: "distributedAt", title: "分发时间", kind: "datetime" },
      { key: "issuingPoint", title: "开票点", kind: "text" },
      { key: "billCode", title: "票据代码", kind: "text" },
      { key: "billName", title: "票据名称", kind: "text" },
      { key: "startNumber", title: "起始号码", kind: "text" },
      { key: "endNumber", title: "终止号码", kind: "text" },
      { key: "quantity", title: "数量", kind: "count" },
      { key: "distributedBy", title: "分发人", kind: "text" },
    ],
    rows: withSubtotals(
      details,
      (v) => String(v.issuingPoint),
      (v) => ({ issuingPoint: `${String(v.issuingPoint)} 小计` }),
      ["quantity"],
    ),
    totals: { issuingPoint: "合计", ...sums(details, ["quantity"]) },
  });
}
