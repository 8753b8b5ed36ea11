import type { Database } from "@piaoju/persistence";
import type { PayerProtection } from "../../adapters/payer-protection.ts";
import type { Period } from "../../domain/period.ts";
import type { ReportContext } from "../../domain/report-table.ts";

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
