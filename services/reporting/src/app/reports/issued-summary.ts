import type { Granularity } from "../../domain/period.ts";
import {
  type Column,
  type ReportTable,
  sums,
  table,
  type Values,
  withSubtotals,
} from "../../domain/report-table.ts";
import { conditions, type ReportDeps, type ReportFilters, reportContext } from "./context.ts";

export type SummaryGroup = "none" | "point" | "billKind" | "clerk" | "item";

const GROUP_TITLE: Record<SummaryGroup, string> = {
  none: "",
  point: "开票点",
  billKind: "票据种类",
  clerk: "开票人",
  item: "收入项目",
};

const FIGURES = [
  "blueReceipts",
  "blueFen",
  "redReceipts",
  "redFen",
  "netFen",
  "voidedReceipts",
  "pendingReceipts",
];

/**
 * 开票汇总查询: receipts and amounts per day, month or year, optionally per issuing point, bill
 * kind, clerk or income item. Formal receipts (supervised by finance) are counted as issued:
 * blue, red (冲红, negative) and net; voided and still pending ones are counted apart. Read from
 * the daily tallies, so a year over a million receipts is a few thousand rows.
 */
export async function issuedSummaryReport(
  deps: ReportDeps,
  f: ReportFilters,
  by: { granularity: Granularity; group: SummaryGroup },
  caller: string,
): Promise<ReportTable> {
  const { ctx, names } = await reportContext(deps, f, caller);
  const byItem = by.group === "item" || f.itemCode !== undefined;
  const dimension = {
    none: "''",
    point: "issuing_point_code",
    billKind: "bill_code",
    clerk: "handling_person",
    item: "item_code",
  }[by.group];
  const params: unknown[] = [f.agencyCode, f.period.from, f.period.to];
  const where = `agency_code = $1 AND day BETWEEN $2 AND $3${conditions(params, [
    ["bill_code", f.billCode],
    ["issuing_point_code", f.issuingPointCode],
    ["handling_person", f.clerk],
    ["item_code", f.itemCode],
  ])}`;
  const from = byItem ? "issued_item_daily" : "issued_daily";
  const bucket = { day: "YYYY-MM-DD", month: "YYYY-MM", year: "YYYY" }[by.granularity];
  type Sum = { at: string; dim: string; kind: string; tally: string; receipts: string; amount: string };
  // Summed in the database: the table rows per bucket and group, and the chart's points per day.
  const [rows, days] = await Promise.all([
    deps.db.query<Sum>(
      `SELECT to_char(day, '${bucket}') AS at, ${dimension} AS dim, kind, tally, sum(receipts) AS receipts,
              sum(amount_fen) AS amount
         FROM ${from} WHERE ${where} GROUP BY at, dim, kind, tally`,
      params,
    ),
    deps.db.query<Sum>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS at, '' AS dim, kind, tally, sum(receipts) AS receipts,
              sum(amount_fen) AS amount
         FROM ${from} WHERE ${where} GROUP BY at, kind, tally`,
      params,
    ),
  ]);
  const cells = new Map<string, Values>();
  for (const r of rows) {
    const key = `${r.at}\u0000${r.dim}`;
    const v = cells.get(key) ?? { bucket: r.at, group: labelOf(by.group, r.dim, names), ...zero() };
    add(v, r);
    cells.set(key, v);
  }
  const daily = new Map<string, Values>();
  for (const r of days) {
    const d = daily.get(r.at) ?? { day: r.at, ...zero() };
    add(d, r);
    daily.set(r.at, d);
  }
  const details = [...cells.values()].sort(
    (a, b) =>
      String(a.bucket).localeCompare(String(b.bucket)) || String(a.group).localeCompare(String(b.group)),
  );
  const columns: Column[] = [
    { key: "bucket", title: { day: "日期", month: "月份", year: "年度" }[by.granularity], kind: "text" },
    ...(by.group === "none" ? [] : [{ key: "group", title: GROUP_TITLE[by.group], kind: "text" as const }]),
    { key: "blueReceipts", title: "开票张数", kind: "count" },
    { key: "blueFen", title: "开票金额", kind: "money" },
    { key: "redReceipts", title: "冲红张数", kind: "count" },
    { key: "redFen", title: "冲红金额", kind: "money" },
    { key: "netFen", title: "净额", kind: "money" },
    { key: "voidedReceipts", title: "作废张数", kind: "count" },
    { key: "pendingReceipts", title: "待监制张数", kind: "count" },
  ];
  return table(ctx, {
    report: "issued-summary",
    title: "开票汇总查询",
    columns,
    rows:
      by.group === "none"
        ? details.map((values) => ({ type: "detail" as const, values }))
        : withSubtotals(
            details,
            (v) => String(v.bucket),
            (v) => ({ bucket: v.bucket, group: "小计" }),
            FIGURES,
          ),
    totals: { bucket: "合计", ...sums(details, FIGURES) },
    charts: [
      {
        id: "issued-per-day",
        title: "每日开票",
        x: "day",
        series: [
          { key: "blueReceipts", title: "开票张数", kind: "count" },
          { key: "netFen", title: "净额", kind: "money" },
        ],
        points: [...daily.values()].sort((a, b) => String(a.day).localeCompare(String(b.day))),
      },
    ],
  });
}

function zero(): Values {
  return Object.fromEntries(FIGURES.map((k) => [k, 0]));
}

function add(v: Values, r: { kind: string; tally: string; receipts: string; amount: string }): void {
  const n = Number(r.receipts);
  const fen = Number(r.amount);
  const bump = (key: string, by: number) => {
    v[key] = Number(v[key]) + by;
  };
  if (r.tally === "VOIDED") bump("voidedReceipts", n);
  else if (r.tally === "PENDING") bump("pendingReceipts", n);
  else if (r.kind === "red") {
    bump("redReceipts", n);
    bump("redFen", fen);
  } else {
    bump("blueReceipts", n);
    bump("blueFen", fen);
  }
  if (r.tally === "FORMAL") bump("netFen", fen);
}

function labelOf(
  group: SummaryGroup,
  code: string,
  names: { point(c: string): string; billKind(c: string): string; item(c: string): string },
): string {
  if (group === "point") return `${code} ${names.point(code)}`.trim();
  if (group === "billKind") return `${code} ${names.billKind(code)}`.trim();
  if (group === "item") return `${code} ${names.item(code)}`.trim();
  return code;
}
