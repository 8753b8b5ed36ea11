import { agencyCode, billCode, billNumber, bizSerialNo, issuingPointCode, text } from "@piaoju/contracts";
import type { FontChoice } from "@piaoju/locale";
import type { Database } from "@piaoju/persistence";
import { AppError, authenticateCaller, parseInput, requireAgency, scopedPoint } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { TopicLag } from "../app/lag.ts";
import { reportNames, reports } from "../app/reports/catalog.ts";
import {
  boundedDeps,
  EXPORT_ROW_LIMIT,
  pageOf,
  type ReportDeps,
  type ReportFilters,
  reportTooLarge,
  VIEW_PAGE_LIMIT,
  VIEW_ROW_LIMIT,
} from "../app/reports/context.ts";
import { RECEIPT_STATUSES, searchReceipts } from "../app/reports/search-receipts.ts";
import { decodeCursor } from "../domain/cursor.ts";
import { type PeriodChoice, periodDays, resolvePeriod } from "../domain/period.ts";
import { reportToPdf } from "../export/pdf.ts";
import { reportToXlsx } from "../export/xlsx.ts";

const day = z.iso.date();
const clerk = text().trim().min(1).max(64);
const itemCode = text().regex(/^[0-9A-Za-z_.-]{1,32}$/, "1-32 letters, digits, _ . or -");
const fen = z.coerce.number().int().min(-1e13).max(1e13);
/** The longest period a report covers: three years of business days. */
const MAX_DAYS = 1100;

const periodShape = {
  day: day.optional(),
  month: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "a month is YYYY-MM")
    .optional(),
  year: z
    .string()
    .regex(/^\d{4}$/, "a year is YYYY")
    .optional(),
  from: day.optional(),
  to: day.optional(),
};

/** Exactly one way of saying the period: day, month, year, or from + to. */
function periodOf(q: { day?: string; month?: string; year?: string; from?: string; to?: string }) {
  const given = [q.day, q.month, q.year].filter(Boolean).length + (q.from || q.to ? 1 : 0);
  const issue = (field: string, message: string) =>
    AppError.validation([{ field: `query.${field}`, rule: "period", message }]);
  if (given !== 1)
    throw issue(
      "period",
      "give exactly one of day, month, year, or from and to (business days, Asia/Shanghai)",
    );
  if ((q.from && !q.to) || (q.to && !q.from)) throw issue(q.from ? "to" : "from", "from and to go together");
  const choice: PeriodChoice = q.day
    ? { day: q.day }
    : q.month
      ? { month: q.month }
      : q.year
        ? { year: q.year }
        : { from: q.from!, to: q.to! };
  const period = resolvePeriod(choice);
  if (period.from > period.to) throw issue("to", "to must not be before from");
  if (periodDays(period) > MAX_DAYS) throw issue("to", `a period is at most ${MAX_DAYS} days`);
  return period;
}

const filterShape = {
  agencyCode,
  ...periodShape,
  billCode: billCode.optional(),
  issuingPointCode: issuingPointCode.optional(),
  itemCode: itemCode.optional(),
  clerk: clerk.optional(),
};

const statuses = z
  .string()
  .transform((s) => s.split(",").map((x) => x.trim()))
  .pipe(z.array(z.enum(RECEIPT_STATUSES)).min(1).max(RECEIPT_STATUSES.length));

const searchShape = {
  numberFrom: billNumber.optional(),
  numberTo: billNumber.optional(),
  payerName: text().trim().min(1).max(200).optional(),
  payerCode: text().trim().min(1).max(32).optional(),
  status: statuses.optional(),
  kind: z.enum(["blue", "red"]).optional(),
  amountMinFen: fen.optional(),
  amountMaxFen: fen.optional(),
  bizSerialNo: bizSerialNo.optional(),
};

const reportQuery = z.object({
  ...filterShape,
  ...searchShape,
  granularity: z.enum(["day", "month", "year"]).default("day"),
  groupBy: z.enum(["none", "point", "billKind", "clerk", "item"]).default("none"),
  format: z.enum(["json", "xlsx", "pdf"]).default("json"),
  /** A view's page (1 = the first) and its size: at most 500 rows; exports take every row. */
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(VIEW_PAGE_LIMIT).default(VIEW_PAGE_LIMIT),
});

const searchQuery = z
  .object({
    agencyCode,
    from: day.optional(),
    to: day.optional(),
    billCode: billCode.optional(),
    issuingPointCode: issuingPointCode.optional(),
    itemCode: itemCode.optional(),
    clerk: clerk.optional(),
    ...searchShape,
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z
      .string()
      .max(200)
      .refine((c) => decodeCursor(c) !== undefined, "not a cursor this search gave")
      .optional(),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { path: ["to"], message: "to must not be before from" })
  .refine(
    (q) => q.amountMinFen === undefined || q.amountMaxFen === undefined || q.amountMinFen <= q.amountMaxFen,
    {
      path: ["amountMaxFen"],
      message: "amountMaxFen must not be below amountMinFen",
    },
  )
  .refine((q) => !q.numberFrom || !q.numberTo || q.numberFrom <= q.numberTo, {
    path: ["numberTo"],
    message: "numberTo must not be below numberFrom",
  });

const MEDIA = {
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  pdf: "application/pdf",
} as const;

export interface ReportingRoutes {
  deps: ReportDeps;
  db: Database;
  font: () => FontChoice;
  lag: () => Promise<TopicLag[]>;
  rebuild: (actor: string) => Promise<{ generation: number }>;
}

/** Internal API of reporting; the gateway fronts it. Handlers validate, check the data scope and delegate. */
export function registerReportingRoutes(
  http: FastifyInstance,
  r: ReportingRoutes,
  internalToken: string,
): void {
  http.get("/v1/reporting/reports", async (req) => {
    authenticateCaller(req, internalToken);
    return {
      items: Object.entries(reports).map(([name, { title }]) => ({ name, title, available: true })),
    };
  });

  http.get("/v1/reporting/reports/:report", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const { report } = parseInput(z.object({ report: z.enum(reportNames) }), req.params, "params");
    const q = parseInput(reportQuery, req.query, "query");
    requireAgency(caller, q.agencyCode);
    const filters: ReportFilters = {
      agencyCode: q.agencyCode,
      period: periodOf(q),
      billCode: q.billCode,
      // A person bound to issuing points reports on theirs only.
      issuingPointCode: scopedPoint(caller, q.agencyCode, q.issuingPointCode),
      itemCode: q.itemCode,
      clerk: q.clerk,
    };
    const view = q.format === "json";
    // No statement of a report answers more rows than it may show: a view is built from at most
    // VIEW_ROW_LIMIT and paged, an export holds at most EXPORT_ROW_LIMIT; beyond, a 400 says so.
    const cap = view ? VIEW_ROW_LIMIT : EXPORT_ROW_LIMIT;
    const deps = boundedDeps(r.deps, cap, () => reportTooLarge(report, cap, view ? "view" : "export"));
    const built = await reports[report]!.run(
      deps,
      filters,
      {
        granularity: q.granularity,
        groupBy: q.groupBy,
        search: {
          numberFrom: q.numberFrom,
          numberTo: q.numberTo,
          payerName: q.payerName,
          payerCode: q.payerCode,
          statuses: q.status,
          kind: q.kind,
          amountMinFen: q.amountMinFen,
          amountMaxFen: q.amountMaxFen,
          bizSerialNo: q.bizSerialNo,
        },
        page: view ? { number: q.page, size: q.pageSize } : undefined,
      },
      caller.actor,
    );
    if (!view && built.rows.length > EXPORT_ROW_LIMIT)
      throw reportTooLarge(report, EXPORT_ROW_LIMIT, "export");
    const table = view ? pageOf(built, q.page, q.pageSize) : built;
    if (q.format === "json") return table;
    await r.db.query(
      `INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, 'report.export', $2, $3::jsonb)`,
      [
        caller.actor,
        `report:${report}`,
        JSON.stringify({ format: q.format, filters: table.filters, period: table.period }),
      ],
    );
    const bytes = q.format === "xlsx" ? await reportToXlsx(table) : await reportToPdf(table, r.font());
    const file = `${report}-${q.agencyCode}-${table.period.from}_${table.period.to}.${q.format}`;
    return reply
      .type(MEDIA[q.format])
      .header("content-disposition", `attachment; filename="${file}"`)
      .header("cache-control", "no-store")
      .send(bytes);
  });

  // 开票明细查询 as a paged search (keyset: pass nextCursor back as cursor).
  http.get("/v1/reporting/receipts", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(searchQuery, req.query, "query");
    requireAgency(caller, q.agencyCode);
    const { status, ...rest } = q;
    const point = scopedPoint(caller, q.agencyCode, q.issuingPointCode);
    return searchReceipts(r.deps, {
      ...rest,
      ...(point === undefined ? {} : { issuingPointCode: point }),
      statuses: status,
    });
  });

  http.get("/v1/reporting/lag", async (req) => {
    authenticateCaller(req, internalToken);
    return { topics: await r.lag() };
  });

  // Empties the read models and replays the topics from the start (platform administrators only).
  http.post("/v1/reporting/rebuild", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    if (caller.agencies !== "*") {
      throw new AppError("forbidden", "only platform administrators rebuild the read models", {
        code: "OUT_OF_SCOPE",
      });
    }
    return reply.status(202).send(await r.rebuild(caller.actor));
  });
}
