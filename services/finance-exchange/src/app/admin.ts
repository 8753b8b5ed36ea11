import { randomUUID } from "node:crypto";
import type { Database, SqlExecutor } from "@piaoju/persistence";
import { AppError } from "@piaoju/runtime";
import { archivedContext, type SealedDocuments } from "../adapters/sealed-documents.ts";
import { certificateFromBase64, checkSignatures, contentSm3 } from "../domain/archive.ts";
import { cstDayBounds } from "../domain/days.ts";
import { compactRanges } from "../domain/ranges.ts";
import { type Difference, type ReconciliationResult, renderReport } from "../domain/reconcile.ts";
import type { FinanceExchange } from "./exchange.ts";

type Range = { startNumber: string; endNumber: string };

export const QUEUE_STATES = ["pending", "retrying", "failed"] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/**
 * What people ask of the exchange through its admin routes. Every change is a queued
 * request to finance plus an audit row, in one transaction; the pump does the rest.
 */
export class ExchangeAdmin {
  constructor(
    private readonly db: Database,
    private readonly exchange: FinanceExchange,
    private readonly clock: () => Date,
    private readonly wake: () => void,
    private readonly documents: SealedDocuments,
  ) {}

  async #audited<T>(
    actor: string,
    action: string,
    subject: string,
    detail: unknown,
    work: (tx: SqlExecutor) => Promise<T>,
  ) {
    const result = await this.db.transaction(async (tx) => {
      const value = await work(tx);
      await tx.query(
        `INSERT INTO audit_log (actor, action, subject, detail, at) VALUES ($1,$2,$3,$4::jsonb,$5)`,
        [actor, action, subject, JSON.stringify(detail), this.clock()],
      );
      return value;
    });
    this.wake();
    return result;
  }

  /** 基础信息同步 on demand. */
  syncBaseData(actor: string, agencyCode: string): Promise<{ requestId: string }> {
    return this.#audited(actor, "base-data.sync", agencyCode, {}, async (tx) => ({
      requestId: await this.exchange.request(tx, "baseData", { agencyCode }),
    }));
  }

  async listBaseData(agencyCode: string, kind?: string) {
    const rows = await this.db.query<{ kind: string; code: string; payload: unknown; synced_at: Date }>(
      `SELECT kind, code, payload, synced_at FROM base_data WHERE agency_code = $1 AND ($2::text IS NULL OR kind = $2)
       ORDER BY kind, code`,
      [agencyCode, kind ?? null],
    );
    return rows.map((r) => ({
      kind: r.kind,
      code: r.code,
      payload: r.payload,
      syncedAt: r.synced_at.toISOString(),
    }));
  }

  /** 电子票据申领: the application goes to finance; the issued segment comes back to stock as an event. */
  applyForStock(actor: string, input: { agencyCode: string; billCode: string; quantity: number }) {
    const applicationId = randomUUID();
    return this.#audited(actor, "stock.apply", input.agencyCode, input, async (tx) => {
      await tx.query(
        `INSERT INTO stock_application (id, agency_code, bill_code, quantity, requested_by, requested_at, status)
         VALUES ($1,$2,$3,$4,$5,$6,'REQUESTED')`,
        [applicationId, input.agencyCode, input.billCode, input.quantity, actor, this.clock()],
      );
      const requestId = await this.exchange.request(tx, "applyStock", { applicationId, ...input });
      return { applicationId, requestId, status: "REQUESTED" };
    });
  }

  /** The agency's 申领 applications, newest first, with their finance status (the console's list). */
  async listStockApplications(agencyCode: string, limit: number) {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT id, agency_code, bill_code, quantity, status, finance_ref, reason, requested_by, requested_at
         FROM stock_application WHERE agency_code = $1 ORDER BY requested_at DESC, id LIMIT $2`,
      [agencyCode, limit],
    );
    return rows.map((row) => ({
      id: row.id as string,
      agencyCode: row.agency_code as string,
      billCode: row.bill_code as string,
      quantity: Number(row.quantity),
      status: row.status as string,
      financeRef: (row.finance_ref as string | null) ?? null,
      reason: (row.reason as string | null) ?? null,
      requestedBy: row.requested_by as string,
      requestedAt: new Date(row.requested_at as string).toISOString(),
    }));
  }

  async findStockApplication(id: string) {
    const [row] = await this.db.query<Record<string, unknown>>(
      `SELECT * FROM stock_application WHERE id = $1`,
      [id],
    );
    if (!row)
      throw new AppError("not_found", `stock application ${id} does not exist`, {
        code: "APPLICATION_UNKNOWN",
      });
    const segments = await this.db.query(
      `SELECT finance_ref, bill_code, start_number, end_number, issued_at FROM issued_segment WHERE application_id = $1`,
      [id],
    );
    return {
      id: row.id,
      agencyCode: row.agency_code as string,
      billCode: row.bill_code,
      quantity: row.quantity,
      status: row.status,
      financeRef: row.finance_ref,
      reason: row.reason,
      segments,
    };
  }

  /** Downloads the day's supervised receipts from finance, archives them, and reconciles the day. */
  reconcileDay(actor: string, agencyCode: string, day: string): Promise<{ requestId: string }> {
    return this.#audited(actor, "reconciliation.request", agencyCode, { day }, async (tx) => ({
      requestId: await this.exchange.request(tx, "downloadSupervised", { agencyCode, day, reconcile: true }),
    }));
  }

  async latestReport(agencyCode: string, day: string) {
    const [row] = await this.db.query<{
      id: string;
      created_at: Date;
      summary: ReconciliationResult["summary"];
      differences: Difference[];
    }>(
      `SELECT id, created_at, summary, differences FROM reconciliation_report
        WHERE agency_code = $1 AND day = $2 ORDER BY created_at DESC LIMIT 1`,
      [agencyCode, day],
    );
    if (!row) return undefined;
    const result = { summary: row.summary, differences: row.differences };
    const createdAt = row.created_at.toISOString();
    return {
      id: row.id,
      agencyCode,
      day,
      createdAt,
      ...result,
      text: renderReport({ agencyCode, day, createdAt, result }),
    };
  }

  /**
   * 审验: used numbers are the receipts finance supervised, voided are those it rejected
   * (issuance voids them), destroyed are given by the ticket manager.
   */
  async submitAuditReport(
    actor: string,
    input: {
      agencyCode: string;
      billCode: string;
      periodStart: string;
      periodEnd: string;
      destroyed: Range[];
    },
  ) {
    const start = cstDayBounds(input.periodStart).start;
    const end = cstDayBounds(input.periodEnd).end;
    const rows = await this.db.query<{ number: string; status: string }>(
      `SELECT number, status FROM supervision_item
        WHERE agency_code = $1 AND bill_code = $2 AND issued_at >= $3 AND issued_at < $4 AND status IN ('SUPERVISED','REJECTED')`,
      [input.agencyCode, input.billCode, start, end],
    );
    const used = compactRanges(rows.filter((r) => r.status === "SUPERVISED").map((r) => r.number));
    const voided = compactRanges(rows.filter((r) => r.status === "REJECTED").map((r) => r.number));
    const reportId = randomUUID();
    const payload = { reportId, ...input, used, voided };
    return this.#audited(
      actor,
      "audit-report.submit",
      input.agencyCode,
      { reportId, ...input },
      async (tx) => {
        await tx.query(
          `INSERT INTO audit_report (id, agency_code, period_start, period_end, content, submitted_by, submitted_at, status)
         VALUES ($1,$2,$3,$4,$5::jsonb,$6,$7,'SUBMITTED')`,
          [
            reportId,
            input.agencyCode,
            input.periodStart,
            input.periodEnd,
            JSON.stringify(payload),
            actor,
            this.clock(),
          ],
        );
        const requestId = await this.exchange.request(tx, "submitAudit", payload);
        return {
          reportId,
          requestId,
          status: "SUBMITTED",
          counts: { used: used.length, voided: voided.length },
        };
      },
    );
  }

  async findAuditReport(id: string) {
    const [row] = await this.db.query<Record<string, unknown>>(`SELECT * FROM audit_report WHERE id = $1`, [
      id,
    ]);
    if (!row)
      throw new AppError("not_found", `audit report ${id} does not exist`, { code: "REPORT_UNKNOWN" });
    return {
      id,
      agencyCode: row.agency_code as string,
      status: row.status,
      content: row.content,
      answer: row.answer,
    };
  }

  async supervisionOf(receiptId: string) {
    const [row] = await this.db.query<Record<string, unknown>>(
      `SELECT receipt_id, agency_code, bill_code, number, status, finance_ref, rejection_code, rejection_reason, queued_at, decided_at
         FROM supervision_item WHERE receipt_id = $1`,
      [receiptId],
    );
    if (!row)
      throw new AppError("not_found", `receipt ${receiptId} was never submitted`, {
        code: "RECEIPT_UNKNOWN",
      });
    return row;
  }

  /** The queue as an operator watches it during an outage. */
  async status() {
    const items = await this.db.query<{ status: string; n: number }>(
      `SELECT status::text, count(*)::int AS n FROM supervision_item GROUP BY status`,
    );
    const requests = await this.db.query<{
      status: string;
      n: number;
      oldest: Date | null;
      last_error: string | null;
    }>(
      `SELECT status::text, count(*)::int AS n, min(created_at) AS oldest, max(last_error) AS last_error
         FROM finance_request WHERE status <> 'ANSWERED' GROUP BY status`,
    );
    return {
      receipts: Object.fromEntries(items.map((r) => [r.status, r.n])),
      openRequests: requests.map((r) => ({
        status: r.status,
        count: r.n,
        oldest: r.oldest,
        lastError: r.last_error,
      })),
    };
  }

  /**
   * 财政交互: the agency's upload queue (监制) as the finance liaison watches it — each receipt not
   * yet supervised, with the request it travels in (attempts, last error, next attempt). A state
   * per item: pending (waiting for a batch or an answer), retrying (a send failed, or finance
   * refused its batch and it goes again alone), failed (finance rejected it; issuance voids it).
   */
  async queue(
    agencyCode: string,
    q: { state?: QueueState | undefined; billCode?: string | undefined; page: number; pageSize: number },
  ) {
    const queued = `
      SELECT s.receipt_id, s.bill_code, s.number, s.kind, s.issuing_point_code, s.total_fen, s.issued_at,
             s.status::text AS item_status, s.queued_at, s.rejection_code, s.rejection_reason, s.decided_at,
             r.id AS request_id, r.status::text AS request_status, coalesce(r.attempts, 0) AS attempts,
             r.last_error, r.next_attempt_at,
             CASE WHEN s.status = 'REJECTED' THEN 'failed'
                  WHEN s.batch_alone OR coalesce(r.attempts, 0) > 1 OR r.last_error IS NOT NULL THEN 'retrying'
                  ELSE 'pending' END AS state
        FROM supervision_item s LEFT JOIN finance_request r ON r.id = s.request_id
       WHERE s.agency_code = $1 AND s.status <> 'SUPERVISED' AND ($2::text IS NULL OR s.bill_code = $2)`;
    const args = [agencyCode, q.billCode ?? null];
    const [c] = await this.db.query<{ pending: number; retrying: number; failed: number }>(
      `SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending,
              count(*) FILTER (WHERE state = 'retrying')::int AS retrying,
              count(*) FILTER (WHERE state = 'failed')::int AS failed
         FROM (${queued}) q`,
      args,
    );
    const counts = { pending: c?.pending ?? 0, retrying: c?.retrying ?? 0, failed: c?.failed ?? 0 };
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT * FROM (${queued}) q WHERE ($3::text IS NULL OR state = $3)
        ORDER BY queued_at, receipt_id LIMIT $4 OFFSET $5`,
      [...args, q.state ?? null, q.pageSize, (q.page - 1) * q.pageSize],
    );
    const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
    return {
      counts,
      total: q.state ? counts[q.state] : counts.pending + counts.retrying + counts.failed,
      page: q.page,
      pageSize: q.pageSize,
      items: rows.map((r) => ({
        receiptId: r.receipt_id as string,
        billCode: r.bill_code as string,
        number: r.number as string,
        kind: r.kind as string,
        issuingPointCode: r.issuing_point_code as string,
        totalFen: Number(r.total_fen),
        issuedAt: iso(r.issued_at),
        state: r.state as QueueState,
        itemStatus: r.item_status as string,
        queuedAt: iso(r.queued_at),
        requestId: (r.request_id as string | null) ?? null,
        requestStatus: (r.request_status as string | null) ?? null,
        attempts: Number(r.attempts),
        lastError: (r.last_error as string | null) ?? null,
        nextAttemptAt: iso(r.next_attempt_at),
        rejection: r.rejection_code
          ? { code: r.rejection_code as string, reason: r.rejection_reason as string, at: iso(r.decided_at) }
          : null,
      })),
    };
  }

  /** The agency's archive (what finance supervised, as downloaded and kept), newest first, paged. */
  async archive(
    agencyCode: string,
    q: {
      billCode?: string | undefined;
      number?: string | undefined;
      from?: string | undefined;
      to?: string | undefined;
      page: number;
      pageSize: number;
    },
  ) {
    const from = q.from ? cstDayBounds(q.from).start : null;
    const to = q.to ? cstDayBounds(q.to).end : null;
    const where = `agency_code = $1 AND ($2::text IS NULL OR bill_code = $2) AND ($3::text IS NULL OR number = $3)
       AND ($4::timestamptz IS NULL OR supervised_at >= $4) AND ($5::timestamptz IS NULL OR supervised_at < $5)`;
    const args = [agencyCode, q.billCode ?? null, q.number ?? null, from, to];
    const [count] = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM archived_receipt WHERE ${where}`,
      args,
    );
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT content_sm3, receipt_id, bill_code, number, finance_ref, supervised_at, archived_at
         FROM archived_receipt WHERE ${where}
        ORDER BY supervised_at DESC, content_sm3 LIMIT $6 OFFSET $7`,
      [...args, q.pageSize, (q.page - 1) * q.pageSize],
    );
    return {
      total: count?.n ?? 0,
      page: q.page,
      pageSize: q.pageSize,
      items: rows.map((r) => ({
        contentSm3: r.content_sm3 as string,
        receiptId: (r.receipt_id as string | null) ?? null,
        billCode: r.bill_code as string,
        number: r.number as string,
        financeRef: r.finance_ref as string,
        supervisedAt: new Date(r.supervised_at as string).toISOString(),
        archivedAt: new Date(r.archived_at as string).toISOString(),
      })),
    };
  }

  /** Proves an archived receipt again: content hash, then both signatures. */
  async verifyArchived(hash: string) {
    const [row] = await this.db.query<{
      agency_code: string;
      document: string;
      agency_signature: string;
      finance_signature: string;
      finance_certificate: string;
    }>(`SELECT * FROM archived_receipt WHERE content_sm3 = $1`, [hash]);
    if (!row) throw new AppError("not_found", `nothing is archived as ${hash}`, { code: "ARCHIVE_UNKNOWN" });
    const content = {
      document: this.documents.open(archivedContext(hash), row.document),
      agencySignature: row.agency_signature,
      financeSignature: row.finance_signature,
    };
    const intact = contentSm3(content) === hash;
    const financeCertificateSm3 = certificateFromBase64(row.finance_certificate).fingerprintSm3();
    const check = checkSignatures(content, { financeCertificateSm3 });
    return {
      agencyCode: row.agency_code,
      contentSm3: hash,
      intact,
      signaturesValid: check.ok,
      ...(check.ok ? {} : { problem: check.problem }),
      financeCertificateSm3,
    };
  }

  async ferryRejections(limit = 100) {
    return this.db.query(
      `SELECT file_name AS "fileName", file_sm3 AS "fileSm3", reason, received_at AS "receivedAt"
         FROM ferry_rejection ORDER BY received_at DESC LIMIT $1`,
      [limit],
    );
  }

  async recordFerryRejection(r: { fileName: string; fileSm3: string; reason: string }): Promise<void> {
    await this.db.query(
      `INSERT INTO ferry_rejection (id, file_name, file_sm3, reason, received_at) VALUES ($1,$2,$3,$4,$5)
       ON CONFLICT (file_sm3) DO NOTHING`,
      [randomUUID(), r.fileName, r.fileSm3, r.reason.slice(0, 1000), this.clock()],
    );
  }
}
