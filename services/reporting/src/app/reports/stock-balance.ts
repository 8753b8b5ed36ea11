import { AGENCY_HOLDER } from "../../domain/ledger.ts";
import { formatNumber, type NumberRange, sizeOf, subtract } from "../../domain/number-ranges.ts";
import { type Column, type ReportTable, type Row, table, type Values } from "../../domain/report-table.ts";
import { conditions, type ReportDeps, type ReportFilters, reportContext } from "./context.ts";
import { ledgers } from "./ledger.ts";

interface Run extends NumberRange {
  holder: string;
}

/**
 * 库存结余表: what is left at the end of the period, per bill kind: the agency's undistributed
 * stock and each issuing point's unused numbers, with their number ranges (起止号码).
 *
 * The agency's ranges are its stocked segments less what was distributed and removed. A
 * point's are the last `closing` numbers of its runs in the order issuance takes them (lowest
 * start first, each number once): the figures and the ranges agree by construction, and are
 * exact as long as runs reach a point in ascending order, as 分发 carves them.
 */
export async function stockBalanceReport(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
): Promise<ReportTable> {
  const { ctx, names } = await reportContext(deps, f, caller);
  const asOf = f.period.to;
  const all = await ledgers(deps, f);
  const columns: Column[] = [
    { key: "billCode", title: "票据代码", kind: "text" },
    { key: "billName", title: "票据名称", kind: "text" },
    { key: "holder", title: "结存位置", kind: "text" },
    { key: "startNumber", title: "起始号码", kind: "text" },
    { key: "endNumber", title: "终止号码", kind: "text" },
    { key: "quantity", title: "结存数量", kind: "count" },
  ];
  const rows: Row[] = [];
  let total = 0;
  const chart: Values[] = [];
  for (const billCode of [...new Set(all.map((l) => l.billCode))]) {
    const base = { billCode, billName: names.billKind(billCode) };
    const points = all.filter((l) => l.billCode === billCode && l.holder !== AGENCY_HOLDER);
    const agency = all.find((l) => l.billCode === billCode && l.holder === AGENCY_HOLDER);
    let kindTotal = 0;
    if (agency) {
      const held = agency.figures.closing - points.reduce((n, p) => n + p.figures.closing, 0);
      const ranges = await undistributedRanges(deps, f.agencyCode, billCode, asOf);
      pushRanges(rows, { ...base, holder: "单位库存（未分发）" }, ranges, held);
      kindTotal += held;
      chart.push({ holder: "单位库存", billCode, quantity: held });
    }
    for (const p of points) {
      const ranges = await unusedRanges(deps, f.agencyCode, billCode, p.holder, asOf, p.figures.closing);
      pushRanges(
        rows,
        { ...base, holder: `${p.holder} ${names.point(p.holder)}`.trim() },
        ranges,
        p.figures.closing,
      );
      kindTotal += p.figures.closing;
      chart.push({ holder: p.holder, billCode, quantity: p.figures.closing });
    }
    rows.push({ type: "subtotal", values: { ...base, holder: "小计", quantity: kindTotal } });
    total += kindTotal;
  }
  return table(ctx, {
    report: "stock-balance",
    title: "库存结余表",
    columns,
    rows,
    totals: { holder: "合计", quantity: total },
    charts: [
      {
        id: "stock-per-point",
        title: `${asOf} 各开票点库存`,
        x: "holder",
        series: [{ key: "quantity", title: "结存数量", kind: "count" }],
        points: chart,
      },
    ],
  });
}

function pushRanges(rows: Row[], base: Values, ranges: readonly NumberRange[], quantity: number): void {
  if (ranges.length === 0) {
    rows.push({ type: "detail", values: { ...base, startNumber: null, endNumber: null, quantity } });
    return;
  }
  for (const r of ranges) {
    rows.push({
      type: "detail",
      values: {
        ...base,
        startNumber: formatNumber(r.start),
        endNumber: formatNumber(r.end),
        quantity: Number(sizeOf(r)),
      },
    });
  }
}

async function undistributedRanges(
  deps: ReportDeps,
  agencyCode: string,
  billCode: string,
  asOf: string,
): Promise<NumberRange[]> {
  const rows = await deps.db.query<{
    kind: string;
    segment_id: string;
    start_number: string;
    end_number: string;
  }>(
    `SELECT 'segment' AS kind, id AS segment_id, start_number, end_number FROM segment
      WHERE agency_code = $1 AND bill_code = $2 AND stocked_day <= $3
     UNION ALL
     SELECT 'taken', segment_id, start_number, end_number FROM distribution
      WHERE agency_code = $1 AND bill_code = $2 AND day <= $3
     UNION ALL
     SELECT 'taken', segment_id, start_number, end_number FROM stock_removal
      WHERE agency_code = $1 AND bill_code = $2 AND day <= $3`,
    [agencyCode, billCode, asOf],
  );
  const range = (r: (typeof rows)[number]) => ({ start: BigInt(r.start_number), end: BigInt(r.end_number) });
  return rows
    .filter((r) => r.kind === "segment")
    .sort((a, b) => (BigInt(a.start_number) < BigInt(b.start_number) ? -1 : 1))
    .flatMap((s) =>
      subtract(range(s), rows.filter((t) => t.kind === "taken" && t.segment_id === s.segment_id).map(range)),
    );
}

async function unusedRanges(
  deps: ReportDeps,
  agencyCode: string,
  billCode: string,
  holder: string,
  asOf: string,
  unused: number,
): Promise<NumberRange[]> {
  if (unused <= 0) return [];
  const params: unknown[] = [agencyCode, billCode, asOf, unused];
  // The point's runs from the highest start down, until they cover `unused` numbers.
  const rows = await deps.db.query<{ start_number: string; end_number: string; covered_before: string }>(
    `SELECT start_number, end_number, covered_before FROM (
       SELECT start_number, end_number,
              COALESCE(sum(count) OVER (ORDER BY start_number DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                AS covered_before
         FROM distribution WHERE agency_code = $1 AND bill_code = $2 AND day <= $3${conditions(params, [["issuing_point_code", holder]])}
     ) runs WHERE covered_before < $4 ORDER BY start_number`,
    params,
  );
  const runs: Run[] = rows.map((r) => ({ holder, start: BigInt(r.start_number), end: BigInt(r.end_number) }));
  // The lowest of these runs is the one being used: only its tail is left.
  const cover = BigInt(unused);
  return runs.map((run, i) => {
    if (i > 0) return run;
    const coveredAbove = BigInt(rows[0]!.covered_before);
    const leftHere = cover - coveredAbove;
    return leftHere < sizeOf(run) ? { ...run, start: run.end - leftHere + 1n } : run;
  });
}
