import type { Database } from "@piaoju/persistence";
import { AppError } from "@piaoju/runtime";
import type { PayerProtection } from "../../adapters/payer-protection.ts";
import type { Period } from "../../domain/period.ts";
import type { ReportContext, ReportTable } from "../../domain/report-table.ts";

/** What every report reads with: the read models, the payer key, the clock, how far behind the models are. */
export interface ReportDeps {
  db: Database;
  protection: PayerProtection;
  clock: () => Date;
  /** Events of the topics not yet applied (0: the models are up to date). */
  lagEvents: () => Promise<number>;
}

/** The filters a ticket manager uses; each report takes those that apply to it. */
export interface ReportFilters {
  agencyCode: string;
  period: Period;
  billCode?: string | undefined;
  issuingPointCode?: string | undefined;
  itemCode?: string | undefined;
  /** 经办人: the handling person of a receipt, or the person who confirmed, distributed or voided stock. */
  clerk?: string | undefined;
}

export interface Names {
  billKind(code: string): string;
  point(code: string): string;
  item(code: string): string;
}

export async function reportContext(
  deps: ReportDeps,
  f: ReportFilters,
  caller: string,
): Promise<{ ctx: ReportContext; names: Names }> {
  const [agency] = await deps.db.query<{ name: string }>(`SELECT name FROM agency WHERE code = $1`, [
    f.agencyCode,
  ]);
  const rows = await deps.db.query<{ kind: string; code: string; name: string }>(
    `SELECT 'bill' AS kind, bill_code AS code, name FROM bill_kind WHERE agency_code = $1
     UNION ALL SELECT 'point', code, name FROM issuing_point WHERE agency_code = $1
     UNION ALL SELECT 'item', code, name FROM income_item WHERE agency_code = $1`,
    [f.agencyCode],
  );
  const maps = {
    bill: new Map<string, string>(),
    point: new Map<string, string>(),
    item: new Map<string, string>(),
  };
  for (const r of rows) maps[r.kind as keyof typeof maps].set(r.code, r.name);
  const notes: string[] = [];
  const lag = await deps.lagEvents();
  if (lag > 0)
    notes.push(`报表数据尚在追赶：还有 ${lag} 个事件未处理 (the read models are ${lag} events behind)`);
  const filters: Record<string, string> = {};
  if (f.billCode) filters.票据种类 = `${f.billCode} ${maps.bill.get(f.billCode) ?? ""}`.trim();
  if (f.issuingPointCode)
    filters.开票点 = `${f.issuingPointCode} ${maps.point.get(f.issuingPointCode) ?? ""}`.trim();
  if (f.itemCode) filters.收入项目 = `${f.itemCode} ${maps.item.get(f.itemCode) ?? ""}`.trim();
  if (f.clerk) filters.经办人 = f.clerk;
  return {
    ctx: {
      agency: { code: f.agencyCode, name: agency?.name ?? null },
      period: f.period,
      filters,
      generatedAt: deps.clock(),
      generatedBy: caller,
      notes,
    },
    names: {
      billKind: (c) => maps.bill.get(c) ?? "",
      point: (c) => maps.point.get(c) ?? "",
      item: (c) => maps.item.get(c) ?? "",
    },
  };
}

/** SQL conditions for the optional filters, numbered after the parameters already in `params`. */
export function conditions(
  params: unknown[],
  pairs: ReadonlyArray<[column: string, value: string | undefined]>,
): string {
  const parts: string[] = [];
  for (const [column, value] of pairs) {
    if (value === undefined) continue;
    params.push(value);
    parts.push(`${column} = $${params.length}`);
  }
  return parts.map((p) => ` AND ${p}`).join("");
}

/** Rows a report view answers per page at most; the totals are over all of its rows. */
export const VIEW_PAGE_LIMIT = 500;
/** Rows an export (xlsx, PDF) holds at most. */
export const EXPORT_ROW_LIMIT = 20_000;
/** Rows a report view is built from at most (it is then paged). */
export const VIEW_ROW_LIMIT = 100_000;

/** The refusal of a report too large to build or export: names the limit and what to do. */
export function reportTooLarge(report: string, limit: number, what: "export" | "view"): AppError {
  const rows = limit.toLocaleString("en-US");
  return new AppError(
    "validation",
    what === "export"
      ? `an export holds at most ${rows} rows and report ${report} has more for this period and filters: ` +
          "narrow the period (a month or a day) or add a filter (issuing point, bill kind, clerk)"
      : `report ${report} has more than ${rows} rows for this period and filters: narrow the period or add a filter`,
    {
      code: "REPORT_TOO_LARGE",
      issues: [
        {
          field: "query.period",
          rule: "report_rows",
          message: `at most ${rows} rows; narrow the period or add a filter`,
          messageZh: `${what === "export" ? "导出" : "报表"}最多 ${rows} 行，请缩小统计期间或增加筛选条件`,
        },
      ],
    },
  );
}

/**
 * The read models as a report sees them: no statement answers more than `cap` rows (the
 * database stops at cap + 1 and the report is refused), so no request builds an unbounded table.
 */
export function boundedDeps(deps: ReportDeps, cap: number, refuse: () => Error): ReportDeps {
  const db = new Proxy(deps.db, {
    get(target, prop, receiver) {
      if (prop !== "query") return Reflect.get(target, prop, receiver);
      return async <T>(text: string, params?: readonly unknown[]): Promise<T[]> => {
        const rows = await target.query<T>(`SELECT * FROM (${text}) AS bounded LIMIT ${cap + 1}`, params);
        if (rows.length > cap) throw refuse();
        return rows;
      };
    },
  });
  return { ...deps, db };
}

/** One page of a built report (totals stay those of every row); a report that paged itself is as it is. */
export function pageOf(t: ReportTable, number: number, size: number): ReportTable {
  if (t.page) return t;
  const rows = t.rows.length;
  return {
    ...t,
    rows: t.rows.slice((number - 1) * size, number * size),
    page: { number, size, rows, pages: Math.max(1, Math.ceil(rows / size)) },
  };
}
