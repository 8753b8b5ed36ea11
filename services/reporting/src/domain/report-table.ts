import type { Period } from "./period.ts";

/**
 * Every report has one shape: JSON a console table (and chart) renders as it is, and that the
 * xlsx and PDF exports print. Money is integer fen (columns of kind "money"), never a float.
 */
export type ColumnKind = "text" | "count" | "money" | "datetime" | "date" | "number";

export interface Column {
  key: string;
  title: string;
  kind: ColumnKind;
}

export type Cell = string | number | null;
export type Values = Record<string, Cell>;

export interface Row {
  /** A detail line, or the subtotal of the group of detail lines just above it. */
  type: "detail" | "subtotal";
  values: Values;
}

/** A series for a chart: one point per x (a day, an issuing point), one or more y values. */
export interface Chart {
  id: string;
  title: string;
  x: string;
  series: Array<{ key: string; title: string; kind: ColumnKind }>;
  points: Values[];
}

export interface ReportTable {
  report: string;
  title: string;
  agency: { code: string; name: string | null };
  period: Period;
  /** The filters applied, as a person would read them (key → value). */
  filters: Record<string, string>;
  generatedAt: string;
  generatedBy: string;
  columns: Column[];
  rows: Row[];
  totals: Values;
  charts?: Chart[];
  /** A view's page: `rows` is the report's whole row count, over which `totals` are. */
  page?: { number: number; size: number; rows: number; pages: number };
  /** Caveats a reader must see (the read model is still catching up, rows were cut at a limit). */
  notes: string[];
}

export interface ReportContext {
  agency: { code: string; name: string | null };
  period: Period;
  filters: Record<string, string>;
  generatedAt: Date;
  generatedBy: string;
  notes: string[];
}

export function table(
  ctx: ReportContext,
  spec: Pick<ReportTable, "report" | "title" | "columns" | "rows" | "totals"> & {
    charts?: Chart[];
    page?: ReportTable["page"];
  },
): ReportTable {
  return {
    ...spec,
    agency: ctx.agency,
    period: ctx.period,
    filters: ctx.filters,
    generatedAt: ctx.generatedAt.toISOString(),
    generatedBy: ctx.generatedBy,
    notes: ctx.notes,
  };
}

/** Detail rows grouped by a key, each group followed by its subtotal (sums of the summed columns). */
export function withSubtotals(
  details: readonly Values[],
  groupOf: (v: Values) => string,
  label: (first: Values) => Record<string, Cell | undefined>,
  summed: readonly string[],
): Row[] {
  const rows: Row[] = [];
  let group: Values[] = [];
  const flush = () => {
    if (group.length === 0) return;
    const labels = Object.entries(label(group[0]!)).map(([k, v]) => [k, v ?? null] as const);
    rows.push({ type: "subtotal", values: { ...Object.fromEntries(labels), ...sums(group, summed) } });
    group = [];
  };
  for (const d of details) {
    if (group.length > 0 && groupOf(group[0]!) !== groupOf(d)) flush();
    rows.push({ type: "detail", values: d });
    group.push(d);
  }
  flush();
  return rows;
}

export function sums(values: readonly Values[], keys: readonly string[]): Values {
  return Object.fromEntries(keys.map((k) => [k, values.reduce((n, v) => n + Number(v[k] ?? 0), 0)]));
}
