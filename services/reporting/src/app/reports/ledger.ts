import {
  AGENCY_HOLDER,
  addFigures,
  type LedgerFigures,
  ledgerOf,
  type Movement,
  type MovementTotal,
  ZERO_FIGURES,
} from "../../domain/ledger.ts";
import { dayBefore } from "../../domain/period.ts";
import { type Column, type ReportTable, type Row, table, type Values } from "../../domain/report-table.ts";
import { conditions, type ReportDeps, type ReportFilters, reportContext } from "./context.ts";

const FIGURES: ReadonlyArray<[keyof LedgerFigures, string]> = [
  ["opening", "期初结存"],
  ["received", "本期领入"],
  ["used", "本期使用"],
  ["voided", "本期作废"],
  ["returned", "本期退回"],
  ["closing", "期末结存"],
];

export interface HolderLedger {
  billCode: string;
  /** "" for the agency's own ledger (what came from finance), else an issuing point. */
  holder: string;
  figures: LedgerFigures;
}

/** 领用存 of every bill kind, for the agency and each issuing point, over the period. */
export async function ledgers(deps: ReportDeps, f: ReportFilters): Promise<HolderLedger[]> {
  const params: unknown[] = [f.agencyCode, dayBefore(f.period), f.period.to];
  const rows = await deps.db.query<{
    bill_code: string;
    holder: string;
    movement: Movement;
    before: string;
    within: string;
  }>(
    `SELECT bill_code, holder, movement,
            COALESCE(sum(quantity) FILTER (WHERE day <= $2), 0) AS before,
            COALESCE(sum(quantity) FILTER (WHERE day > $2), 0) AS within
       FROM stock_daily WHERE agency_code = $1 AND day <= $3${conditions(params, [["bill_code", f.billCode]])}
      GROUP BY bill_code, holder, movement ORDER BY bill_code, holder`,
    params,
  );
  const byBill = new Map<string, MovementTotal[]>();
  for (const r of rows) {
    const list = byBill.get(r.bill_code) ?? [];
    list.push({ holder: r.holder, movement: r.movement, before: Number(r.before), within: Number(r.within) });
    byBill.set(r.bill_code, list);
  }
  const out: HolderLedger[] = [];
  for (const [billCode, totals] of byBill) {
    if (!f.issuingPointCode)
      out.push({ billCode, holder: AGENCY_HOLDER, figures: ledgerOf(totals, AGENCY_HOLDER) });
    const points = [...new Set(totals.map((t) => t.holder).filter((h) => h !== AGENCY_HOLDER))].sort();
    for (const holder of points) {
      if (f.issuingPointCode && holder !== f.issuingPointCode) continue;
      out.push({ billCode, holder, figures: ledgerOf(totals, holder) });
    }
  }
  return out;
}

/**
 * 票据领用存情况: per bill kind, the agency's own 领用存 (from finance: 入库, and everything used,
 * voided, returned) and each issuing point's (from 分发), then the points' subtotal and what the
 * agency still holds undistributed. opening + received − used − voided − returned = closing.
 */
export async function ledgerReport(deps: ReportDeps, f: ReportFilters, caller: string): Promise<ReportTable> {
  const { ctx, names } = await reportContext(deps, f, caller);
  const all = await ledgers(deps, f);
  const columns: Column[] = [
    { key: "billCode", title: "票据代码", kind: "text" },
    { key: "billName", title: "票据名称", kind: "text" },
    { key: "holder", title: "领用单位/开票点", kind: "text" },
    ...FIGURES.map(([key, title]) => ({ key, title, kind: "count" as const })),
  ];
  const rows: Row[] = [];
  let totals = ZERO_FIGURES;
  for (const billCode of [...new Set(all.map((l) => l.billCode))]) {
    const mine = all.filter((l) => l.billCode === billCode);
    const base = { billCode, billName: names.billKind(billCode) };
    const agency = mine.find((l) => l.holder === AGENCY_HOLDER);
    const points = mine.filter((l) => l.holder !== AGENCY_HOLDER);
    if (agency) {
      rows.push({ type: "detail", values: { ...base, holder: "本单位（财政领入）", ...agency.figures } });
      totals = addFigures(totals, agency.figures);
    }
    for (const p of points) {
      rows.push({
        type: "detail",
        values: { ...base, holder: `${p.holder} ${names.point(p.holder)}`.trim(), ...p.figures },
      });
    }
    const pointSum = points.reduce((acc, p) => addFigures(acc, p.figures), ZERO_FIGURES);
    if (points.length > 0)
      rows.push({ type: "subtotal", values: { ...base, holder: "各开票点小计", ...pointSum } });
    if (agency && points.length > 0) {
      rows.push({
        type: "subtotal",
        values: {
          ...base,
          holder: "单位库存未分发（期末）",
          closing: agency.figures.closing - pointSum.closing,
        },
      });
    }
  }
  // With a point chosen, the total is that point's; otherwise the agency's own ledgers.
  if (f.issuingPointCode) totals = all.reduce((acc, l) => addFigures(acc, l.figures), ZERO_FIGURES);
  const chartPoints: Values[] = all
    .filter((l) => l.holder !== AGENCY_HOLDER)
    .map((l) => ({
      holder: l.holder,
      billCode: l.billCode,
      used: l.figures.used,
      closing: l.figures.closing,
    }));
  return table(ctx, {
    report: "ledger",
    title: "票据领用存情况",
    columns,
    rows,
    totals: { holder: "合计", ...totals },
    charts: [
      {
        id: "usage-per-point",
        title: "各开票点使用与结存",
        x: "holder",
        series: [
          { key: "used", title: "本期使用", kind: "count" },
          { key: "closing", title: "期末结存", kind: "count" },
        ],
        points: chartPoints,
      },
    ],
  });
}
