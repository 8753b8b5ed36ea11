import { maskMiddle } from "../../domain/cursor.ts";
import { formatNumber } from "../../domain/number-ranges.ts";
import { type ReportTable, sums, table, type Values, withSubtotals } from "../../domain/report-table.ts";
import { conditions, type ReportDeps, type ReportFilters, reportContext } from "./context.ts";

/**
 * 冲红明细查询: the red receipts made in the period, each beside the receipt it red-flushes,
 * the reason, who issued it, and its amount (negative: the refund). By issuing point.
 */
export async function redFlushReport(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
): Promise<ReportTable> {
  const { ctx, names } = await reportContext(deps, f, caller);
  const params: unknown[] = [f.agencyCode, f.period.from, f.period.to];
  let where = conditions(params, [
    ["r.bill_code", f.billCode],
    ["r.issuing_point_code", f.issuingPointCode],
    ["r.handling_person", f.clerk],
  ]);
  if (f.itemCode) {
    params.push(f.itemCode);
    where += ` AND EXISTS (SELECT 1 FROM receipt_line l WHERE l.receipt_id = r.id AND l.item_code = $${params.length})`;
  }
  const rows = await deps.db.query<{
    issued_at: Date;
    bill_code: string;
    number: string;
    status: string;
    issuing_point_code: string;
    handling_person: string;
    total_fen: string;
    payer_sealed: Uint8Array;
    original_bill_code: string | null;
    original_number: string | null;
    original_issued_at: Date | null;
    reason: string | null;
  }>(
    `SELECT r.issued_at, r.bill_code, r.number, r.status, r.issuing_point_code, r.handling_person, r.total_fen,
            r.payer_sealed, o.bill_code AS original_bill_code, o.number AS original_number,
            o.issued_at AS original_issued_at, o.red_flush_reason AS reason
       FROM receipt r LEFT JOIN receipt o ON o.id = r.original_receipt_id
      WHERE r.agency_code = $1 AND r.kind = 'red' AND r.issue_day BETWEEN $2 AND $3${where}
      ORDER BY r.issuing_point_code, r.issued_at, r.number`,
    params,
  );
  const details: Values[] = rows.map((r) => {
    const payer = deps.protection.unseal(r.payer_sealed);
    return {
      issuedAt: r.issued_at.toISOString(),
      issuingPoint: `${r.issuing_point_code} ${names.point(r.issuing_point_code)}`.trim(),
      redBillCode: r.bill_code,
      redNumber: formatNumber(BigInt(r.number)),
      originalBillCode: r.original_bill_code,
      originalNumber: r.original_number ? formatNumber(BigInt(r.original_number)) : null,
      originalIssuedAt: r.original_issued_at?.toISOString() ?? null,
      amountFen: Number(r.total_fen),
      reason: r.reason ?? "",
      payerName: payer.name,
      payerCode: maskMiddle(payer.code),
      handlingPerson: r.handling_person,
      status: r.status === "ISSUED" ? "已开具" : r.status === "VOIDED" ? "已作废" : "待监制",
      receipts: 1,
    };
  });
  return table(ctx, {
    report: "red-flush",
    title: "冲红明细查询",
    columns: [
      { key: "issuedAt", title: "冲红时间", kind: "datetime" },
      { key: "issuingPoint", title: "开票点", kind: "text" },
      { key: "redBillCode", title: "红票代码", kind: "text" },
      { key: "redNumber", title: "红票号码", kind: "text" },
      { key: "originalBillCode", title: "原票代码", kind: "text" },
      { key: "originalNumber", title: "原票号码", kind: "text" },
      { key: "originalIssuedAt", title: "原票开票时间", kind: "datetime" },
      { key: "amountFen", title: "冲红金额", kind: "money" },
      { key: "reason", title: "冲红原因", kind: "text" },
      { key: "payerName", title: "交款人", kind: "text" },
      { key: "payerCode", title: "证件号码", kind: "text" },
      { key: "handlingPerson", title: "开票人", kind: "text" },
      { key: "status", title: "状态", kind: "text" },
      { key: "receipts", title: "张数", kind: "count" },
    ],
    rows: withSubtotals(
      details,
      (v) => String(v.issuingPoint),
      (v) => ({ issuingPoint: `${String(v.issuingPoint)} 小计` }),
      ["amountFen", "receipts"],
    ),
    totals: { issuedAt: "合计", ...sums(details, ["amountFen", "receipts"]) },
  });
}
