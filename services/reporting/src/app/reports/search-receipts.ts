import { businessDayBounds } from "@piaoju/locale";
import { decodeCursor, encodeCursor, maskMiddle, type SearchCursor } from "../../domain/cursor.ts";
import { formatNumber } from "../../domain/number-ranges.ts";
import { type Column, type ReportTable, table, type Values } from "../../domain/report-table.ts";
import {
  EXPORT_ROW_LIMIT,
  type ReportDeps,
  type ReportFilters,
  reportContext,
  reportTooLarge,
} from "./context.ts";

export const RECEIPT_STATUSES = [
  "REQUESTED",
  "AGENCY_SIGNED",
  "ISSUED",
  "RED_FLUSHED",
  "PAPER_EXCHANGED",
  "BOOKED",
  "VOIDED",
] as const;
export type ReceiptStatus = (typeof RECEIPT_STATUSES)[number];

const STATUS_TEXT: Record<ReceiptStatus, string> = {
  REQUESTED: "待签名",
  AGENCY_SIGNED: "待监制",
  ISSUED: "已开具",
  RED_FLUSHED: "已冲红",
  PAPER_EXCHANGED: "已换开纸质",
  BOOKED: "已入账",
  VOIDED: "已作废",
};

/** 开票明细查询: what a ticket manager searches receipts by. Every filter is optional but the agency. */
export interface ReceiptQuery {
  agencyCode: string;
  /** Business days, inclusive. */
  from?: string | undefined;
  to?: string | undefined;
  billCode?: string | undefined;
  numberFrom?: string | undefined;
  numberTo?: string | undefined;
  payerName?: string | undefined;
  payerCode?: string | undefined;
  issuingPointCode?: string | undefined;
  statuses?: readonly ReceiptStatus[] | undefined;
  kind?: "blue" | "red" | undefined;
  amountMinFen?: number | undefined;
  amountMaxFen?: number | undefined;
  bizSerialNo?: string | undefined;
  itemCode?: string | undefined;
  clerk?: string | undefined;
  limit: number;
  cursor?: string | undefined;
  /** Rows skipped first (a report view's page; the search itself pages by cursor). */
  offset?: number | undefined;
}

export interface ReceiptHit {
  id: string;
  issuedAt: string;
  billCode: string;
  number: string;
  checkCode: string;
  kind: "blue" | "red";
  status: ReceiptStatus;
  issuingPointCode: string;
  payerType: number;
  payerName: string;
  /** The ID number with its middle masked. */
  payerCode: string;
  totalFen: number;
  bizSerialNo: string;
  handlingPerson: string;
  items: string;
  supervisedAt: string | null;
  original: { billCode: string; number: string } | null;
  redReceiptId: string | null;
  voidReason: string | null;
}

interface HitRow {
  id: string;
  issued_at: Date;
  bill_code: string;
  number: string;
  check_code: string;
  kind: "blue" | "red";
  status: ReceiptStatus;
  issuing_point_code: string;
  payer_type: number;
  payer_sealed: Uint8Array;
  total_fen: string;
  biz_serial_no: string;
  handling_person: string;
  supervised_at: Date | null;
  original_bill_code: string | null;
  original_number: string | null;
  red_receipt_id: string | null;
  void_reason: string | null;
}

/** The WHERE clause of a query (no cursor), with its parameters: the payer by keyed hash only. */
function whereOf(deps: ReportDeps, q: ReceiptQuery): { where: string; params: unknown[] } {
  const params: unknown[] = [q.agencyCode];
  const parts = ["r.agency_code = $1"];
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value);
    parts.push(sql(params.length));
  };
  if (q.from) add((n) => `r.issued_at >= $${n}`, businessDayBounds(q.from).start);
  if (q.to) add((n) => `r.issued_at < $${n}`, businessDayBounds(q.to).end);
  if (q.billCode) add((n) => `r.bill_code = $${n}`, q.billCode);
  if (q.numberFrom) add((n) => `r.number >= $${n}`, q.numberFrom);
  if (q.numberTo) add((n) => `r.number <= $${n}`, q.numberTo);
  if (q.payerName) add((n) => `r.payer_name_digest = $${n}`, deps.protection.digest("name", q.payerName));
  if (q.payerCode) add((n) => `r.payer_code_digest = $${n}`, deps.protection.digest("code", q.payerCode));
  if (q.issuingPointCode) add((n) => `r.issuing_point_code = $${n}`, q.issuingPointCode);
  if (q.statuses && q.statuses.length > 0) add((n) => `r.status = ANY($${n}::text[])`, [...q.statuses]);
  if (q.kind) add((n) => `r.kind = $${n}`, q.kind);
  if (q.amountMinFen !== undefined) add((n) => `r.total_fen >= $${n}`, String(q.amountMinFen));
  if (q.amountMaxFen !== undefined) add((n) => `r.total_fen <= $${n}`, String(q.amountMaxFen));
  if (q.bizSerialNo) add((n) => `r.biz_serial_no = $${n}`, q.bizSerialNo);
  if (q.clerk) add((n) => `r.handling_person = $${n}`, q.clerk);
  if (q.itemCode)
    add(
      (n) => `EXISTS (SELECT 1 FROM receipt_line l WHERE l.receipt_id = r.id AND l.item_code = $${n})`,
      q.itemCode,
    );
  return { where: parts.join(" AND "), params };
}

/** One page of receipts, newest first, and the cursor of the next page (null at the end). */
export async function searchReceipts(
  deps: ReportDeps,
  q: ReceiptQuery,
): Promise<{ items: ReceiptHit[]; nextCursor: string | null }> {
  const { where, params } = whereOf(deps, q);
  let after = "";
  if (q.cursor) {
    const c = decodeCursor(q.cursor) as SearchCursor; // validated at the edge
    params.push(c.issuedAt, c.id);
    after = ` AND (r.issued_at, r.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
  }
  params.push(q.limit + 1);
  const skip = q.offset ? ` OFFSET ${Math.max(0, Math.floor(q.offset))}` : "";
  const rows = await deps.db.query<HitRow>(
    `SELECT r.id, r.issued_at, r.bill_code, r.number, r.check_code, r.kind, r.status, r.issuing_point_code,
            r.payer_type, r.payer_sealed, r.total_fen, r.biz_serial_no, r.handling_person, r.supervised_at,
            o.bill_code AS original_bill_code, o.number AS original_number, r.red_receipt_id, r.void_reason
       FROM receipt r LEFT JOIN receipt o ON o.id = r.original_receipt_id
      WHERE ${where}${after}
      ORDER BY r.issued_at DESC, r.id DESC LIMIT $${params.length}${skip}`,
    params,
  );
  const page = rows.slice(0, q.limit);
  const items = await withItems(deps, page);
  const last = page.at(-1);
  return {
    items,
    nextCursor:
      rows.length > q.limit && last
        ? encodeCursor({ issuedAt: last.issued_at.toISOString(), id: last.id })
        : null,
  };
}

async function withItems(deps: ReportDeps, page: readonly HitRow[]): Promise<ReceiptHit[]> {
  const lines = page.length
    ? await deps.db.query<{ receipt_id: string; names: string }>(
        `SELECT receipt_id, string_agg(item_name, '、' ORDER BY line_no) AS names FROM receipt_line
          WHERE receipt_id = ANY($1::uuid[]) GROUP BY receipt_id`,
        [page.map((r) => r.id)],
      )
    : [];
  const names = new Map(lines.map((l) => [l.receipt_id, l.names]));
  return page.map((r) => {
    const payer = deps.protection.unseal(r.payer_sealed);
    return {
      id: r.id,
      issuedAt: r.issued_at.toISOString(),
      billCode: r.bill_code,
      number: formatNumber(BigInt(r.number)),
      checkCode: r.check_code,
      kind: r.kind,
      status: r.status,
      issuingPointCode: r.issuing_point_code,
      payerType: r.payer_type,
      payerName: payer.name,
      payerCode: maskMiddle(payer.code),
      totalFen: Number(r.total_fen),
      bizSerialNo: r.biz_serial_no,
      handlingPerson: r.handling_person,
      items: names.get(r.id) ?? "",
      supervisedAt: r.supervised_at?.toISOString() ?? null,
      original:
        r.original_bill_code && r.original_number
          ? { billCode: r.original_bill_code, number: formatNumber(BigInt(r.original_number)) }
          : null,
      redReceiptId: r.red_receipt_id,
      voidReason: r.void_reason,
    };
  });
}

/**
 * The count and sum of every receipt of the query. Filtered by the period, point, bill kind and
 * clerk only, they are the daily tallies' (every tally: pending, formal and voided, blue and red,
 * keyed by the business day a receipt was issued on), a few hundred rows instead of every receipt;
 * other filters (payer, number, status, amount, item…) take them from the receipts.
 */
function totalsOf(
  deps: ReportDeps,
  query: ReceiptQuery,
  q: Omit<ReceiptQuery, "limit" | "cursor" | "from" | "to" | "agencyCode">,
): Promise<Array<{ n: number; fen: string }>> {
  const receiptLevel = Object.entries(q).some(
    ([k, v]) => v !== undefined && !["billCode", "issuingPointCode", "clerk"].includes(k),
  );
  if (receiptLevel || query.itemCode || !query.from || !query.to) {
    const { where, params } = whereOf(deps, query);
    return deps.db.query(
      `SELECT count(*)::int AS n, coalesce(sum(r.total_fen), 0)::text AS fen FROM receipt r WHERE ${where}`,
      params,
    );
  }
  const params: unknown[] = [query.agencyCode, query.from, query.to];
  const more = [
    ["bill_code", query.billCode],
    ["issuing_point_code", query.issuingPointCode],
    ["handling_person", query.clerk],
  ] as const;
  let where = "agency_code = $1 AND day BETWEEN $2 AND $3";
  for (const [column, value] of more) {
    if (value === undefined) continue;
    params.push(value);
    where += ` AND ${column} = $${params.length}`;
  }
  return deps.db.query(
    `SELECT coalesce(sum(receipts), 0)::int AS n, coalesce(sum(amount_fen), 0)::text AS fen FROM issued_daily
      WHERE ${where}`,
    params,
  );
}

/**
 * 开票明细查询 as a report, with totals over every receipt of the filters (one aggregate): a view
 * reads only its page of receipts; an export reads them all, up to the export limit, beyond
 * which it is refused.
 */
export async function issuedDetailReport(
  deps: ReportDeps,
  f: ReportFilters,
  q: Omit<ReceiptQuery, "limit" | "cursor" | "from" | "to" | "agencyCode">,
  caller: string,
  page?: { number: number; size: number },
): Promise<ReportTable> {
  const { ctx, names } = await reportContext(deps, f, caller);
  const query: ReceiptQuery = {
    ...q,
    agencyCode: f.agencyCode,
    from: f.period.from,
    to: f.period.to,
    billCode: f.billCode,
    issuingPointCode: f.issuingPointCode,
    itemCode: f.itemCode,
    clerk: f.clerk,
    limit: 1000,
  };
  const [all] = await totalsOf(deps, query, q);
  const count = Number(all?.n ?? 0);
  const hits: ReceiptHit[] = [];
  if (page) {
    const offset = (page.number - 1) * page.size;
    if (offset < count)
      hits.push(...(await searchReceipts(deps, { ...query, limit: page.size, offset })).items);
  } else {
    if (count > EXPORT_ROW_LIMIT) throw reportTooLarge("issued-detail", EXPORT_ROW_LIMIT, "export");
    for (let cursor: string | null | undefined; ; ) {
      const next = await searchReceipts(deps, { ...query, cursor: cursor ?? undefined });
      hits.push(...next.items);
      cursor = next.nextCursor;
      if (!cursor || hits.length >= EXPORT_ROW_LIMIT) break;
    }
  }
  const details: Values[] = hits.map((h) => ({
    issuedAt: h.issuedAt,
    billCode: h.billCode,
    number: h.number,
    checkCode: h.checkCode,
    kind: h.kind === "red" ? "红票" : "蓝票",
    status: STATUS_TEXT[h.status],
    issuingPoint: `${h.issuingPointCode} ${names.point(h.issuingPointCode)}`.trim(),
    payerName: h.payerName,
    payerCode: h.payerCode,
    items: h.items,
    totalFen: h.totalFen,
    bizSerialNo: h.bizSerialNo,
    handlingPerson: h.handlingPerson,
    original: h.original ? `${h.original.billCode}-${h.original.number}` : null,
  }));
  const columns: Column[] = [
    { key: "issuedAt", title: "开票时间", kind: "datetime" },
    { key: "billCode", title: "票据代码", kind: "text" },
    { key: "number", title: "票据号码", kind: "text" },
    { key: "checkCode", title: "校验码", kind: "text" },
    { key: "kind", title: "票据类型", kind: "text" },
    { key: "status", title: "状态", kind: "text" },
    { key: "issuingPoint", title: "开票点", kind: "text" },
    { key: "payerName", title: "交款人", kind: "text" },
    { key: "payerCode", title: "证件号码", kind: "text" },
    { key: "items", title: "收入项目", kind: "text" },
    { key: "totalFen", title: "金额", kind: "money" },
    { key: "bizSerialNo", title: "业务流水号", kind: "text" },
    { key: "handlingPerson", title: "开票人", kind: "text" },
    { key: "original", title: "原票", kind: "text" },
  ];
  return table(ctx, {
    report: "issued-detail",
    title: "开票明细查询",
    columns,
    rows: details.map((values) => ({ type: "detail" as const, values })),
    totals: { issuedAt: `合计 ${count} 张`, totalFen: Number(all?.fen ?? 0) },
    ...(page ? { page: { ...page, rows: count, pages: Math.max(1, Math.ceil(count / page.size)) } } : {}),
  });
}
