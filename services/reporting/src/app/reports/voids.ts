import { formatNumber } from "../../domain/number-ranges.ts";
import { type ReportTable, table, type Values } from "../../domain/report-table.ts";
import { conditions, type ReportDeps, type ReportFilters, reportContext } from "./context.ts";

/**
 * 票据作废情况: numbers voided in the period, both receipts voided before they became formal
 * (开具作废: the number is used up) and unused stock voided (库存作废), with the reason and who.
 */
export async function voidsReport(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
  page?: { number: number; size: number },
): Promise<ReportTable> {
  const { ctx, names } = await reportContext(deps, f, caller);
  const receiptParams: unknown[] = [f.agencyCode, f.period.from, f.period.to];
  const receiptWhere = `agency_code = $1 AND void_day BETWEEN $2 AND $3${conditions(receiptParams, [
    ["bill_code", f.billCode],
    ["issuing_point_code", f.issuingPointCode],
    ["handling_person", f.clerk],
  ])}`;
  const stockParams: unknown[] = [f.agencyCode, f.period.from, f.period.to];
  const stockWhere = `kind = 'VOIDED' AND agency_code = $1 AND day BETWEEN $2 AND $3${conditions(
    stockParams,
    [
      ["bill_code", f.billCode],
      ["removed_by", f.clerk],
    ],
  )}`;
  // Counts and sums by one aggregate each: the totals are over every row, whatever page is read.
  const [voided] = await deps.db.query<{ n: number; fen: string }>(
    `SELECT count(*)::int AS n, coalesce(sum(total_fen), 0)::text AS fen FROM receipt WHERE ${receiptWhere}`,
    receiptParams,
  );
  // Unused stock belongs to no issuing point: with a point chosen, there is none to list.
  const [removed] = f.issuingPointCode
    ? [{ n: 0, q: "0" }]
    : await deps.db.query<{ n: number; q: string }>(
        `SELECT count(*)::int AS n, coalesce(sum(count), 0)::text AS q FROM stock_removal WHERE ${stockWhere}`,
        stockParams,
      );
  const receiptRows = async (limit: number, offset: number): Promise<Values[]> => {
    const rows = await deps.db.query<{
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
         FROM receipt WHERE ${receiptWhere} ORDER BY void_day, voided_at, id LIMIT ${limit} OFFSET ${offset}`,
      receiptParams,
    );
    return rows.map((r) => ({
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
    }));
  };
  const stockRows = async (limit: number, offset: number): Promise<Values[]> => {
    const rows = await deps.db.query<{
      at: Date;
      bill_code: string;
      start_number: string;
      end_number: string;
      count: number;
      reason: string | null;
      clerk: string;
    }>(
      `SELECT removed_at AS at, bill_code, start_number, end_number, count, reason, removed_by AS clerk
         FROM stock_removal WHERE ${stockWhere} ORDER BY removed_at, id LIMIT ${limit} OFFSET ${offset}`,
      stockParams,
    );
    return rows.map((r) => ({
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
    }));
  };
  const groups = [
    {
      kind: "开具作废",
      n: Number(voided!.n),
      quantity: Number(voided!.n),
      amountFen: Number(voided!.fen),
      read: receiptRows,
    },
    { kind: "库存作废", n: Number(removed!.n), quantity: Number(removed!.q), amountFen: 0, read: stockRows },
  ].sort((a, b) => a.kind.localeCompare(b.kind));
  // The rows as a whole: each kind's details in time order, then its subtotal; a page is a window of them.
  const all = groups.reduce((n, g) => n + (g.n > 0 ? g.n + 1 : 0), 0);
  const [start, end] = page ? [(page.number - 1) * page.size, page.number * page.size] : [0, all];
  const rows: ReportTable["rows"] = [];
  let at = 0;
  for (const g of groups) {
    if (g.n === 0) continue;
    const from = Math.max(start - at, 0);
    const to = Math.min(end - at, g.n);
    if (to > from)
      rows.push(...(await g.read(to - from, from)).map((values) => ({ type: "detail" as const, values })));
    at += g.n;
    if (at >= start && at < end)
      rows.push({
        type: "subtotal",
        values: { kind: `${g.kind} 小计`, quantity: g.quantity, amountFen: g.amountFen },
      });
    at += 1;
  }
  const totals = {
    kind: "合计",
    quantity: groups.reduce((n, g) => n + g.quantity, 0),
    amountFen: groups.reduce((n, g) => n + g.amountFen, 0),
  };
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
    rows,
    totals,
    ...(page ? { page: { ...page, rows: all, pages: Math.max(1, Math.ceil(all / page.size)) } } : {}),
  });
}
