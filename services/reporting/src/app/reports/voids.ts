import { formatNumber } from "../../domain/number-ranges.ts";
import { type ReportTable, sums, table, type Values, withSubtotals } from "../../domain/report-table.ts";
import { conditions, type ReportDeps, type ReportFilters, reportContext } from "./context.ts";

/**
 * 票据作废情况: numbers voided in the period, both receipts voided before they became formal
 * (开具作废: the number is used up) and unused stock voided (库存作废), with the reason and who.
 */
export async function voidsReport(deps: ReportDeps, f: ReportFilters, caller: string): Promise<ReportTable> {
  const { ctx, names } = await reportContext(deps, f, caller);
  const receiptParams: unknown[] = [f.agencyCode, f.period.from, f.period.to];
  const receipts = await deps.db.query<{
    at: Date;
    bill_code: string;
    number: string;
    issuing_point_code: string;
    total_fen: string;
    reason: string;
    clerk: string;
  }>(
    `SELECT voided_at AS at, bill_code, number, issuing_point_code, total_fen, void_reason AS reason,
            handling_person AS clerk
       FROM receipt WHERE agency_code = $1 AND void_day BETWEEN $2 AND $3${conditions(receiptParams, [
         ["bill_code", f.billCode],
         ["issuing_point_code", f.issuingPointCode],
         ["handling_person", f.clerk],
       ])}`,
    receiptParams,
  );
  const stockParams: unknown[] = [f.agencyCode, f.period.from, f.period.to];
  // Unused stock belongs to no issuing point: with a point chosen, there is none to list.
  const stock = f.issuingPointCode
    ? []
    : await deps.db.query<{
        at: Date;
        bill_code: string;
        start_number: string;
        end_number: string;
        count: number;
        reason: string | null;
        clerk: string;
      }>(
        `SELECT removed_at AS at, bill_code, start_number, end_number, count, reason, removed_by AS clerk
           FROM stock_removal WHERE kind = 'VOIDED' AND agency_code = $1 AND day BETWEEN $2 AND $3${conditions(
             stockParams,
             [
               ["bill_code", f.billCode],
               ["removed_by", f.clerk],
             ],
           )}`,
        stockParams,
      );
  const details: Values[] = [
    ...receipts.map((r) => ({
      kind: "开具作废",
      voidedAt: r.at.toISOString(),
      billCode: r.bill_code,
      billName: names.billKind(r.bill_code),
      startNumber: formatNumber(BigInt(r.number)),
      endNumber: formatNumber(BigInt(r.number)),
      quantity: 1,
      amountFen: Number(r.total_fen),
      issuingPoint: `${r.issuing_point_code} ${names.point(r.issuing_point_code)}`.trim(),
      reason: r.reason,
      clerk: r.clerk,
    })),
    ...stock.map((r) => ({
      kind: "库存作废",
      voidedAt: r.at.toISOString(),
      billCode: r.bill_code,
      billName: names.billKind(r.bill_code),
      startNumber: formatNumber(BigInt(r.start_number)),
      endNumber: formatNumber(BigInt(r.end_number)),
      quantity: r.count,
      amountFen: null,
      issuingPoint: "本单位库存",
      reason: r.reason ?? "",
      clerk: r.clerk,
    })),
  ].sort((a, b) => a.kind.localeCompare(b.kind) || a.voidedAt.localeCompare(b.voidedAt));
  return table(ctx, {
    report: "voids",
    title: "票据作废情况",
    columns: [
      { key: "kind", title: "作废类型", kind: "text" },
      { key: "voidedAt", title: "作废时间", kind: "datetime" },
      { key: "billCode", title: "票据代码", kind: "text" },
      { key: "billName", title: "票据名称", kind: "text" },
      { key: "startNumber", title: "起始号码", kind: "text" },
      { key: "endNumber", title: "终止号码", kind: "text" },
      { key: "quantity", title: "数量", kind: "count" },
      { key: "amountFen", title: "票面金额", kind: "money" },
      { key: "issuingPoint", title: "开票点", kind: "text" },
      { key: "reason", title: "作废原因", kind: "text" },
      { key: "clerk", title: "经办人", kind: "text" },
    ],
    rows: withSubtotals(
      details,
      (v) => String(v.kind),
      (v) => ({ kind: `${String(v.kind)} 小计` }),
      ["quantity", "amountFen"],
    ),
    totals: { kind: "合计", ...sums(details, ["quantity", "amountFen"]) },
  });
}
