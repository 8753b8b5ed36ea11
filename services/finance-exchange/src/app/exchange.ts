import { randomUUID } from "node:crypto";
import { transactionsWithEvents } from "@piaoju/bus";
import {
  AgencyProfileSynced,
  type Emit,
  RECONCILIATION_DIFFERENCES_IN_EVENT,
  ReceiptSupervised,
  ReceiptSupervisionRejected,
  ReconciliationCompleted,
  SegmentIssued,
} from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import type { Database, SqlExecutor, UnitOfWork } from "@piaoju/persistence";
import type { Logger } from "@piaoju/runtime";
import { carriedCertificate, checkSignatures, contentSm3 } from "../domain/archive.ts";
import { cstDayBounds } from "../domain/days.ts";
import {
  type AnswerBody,
  type AnswerMessage,
  type Operation,
  parseAnswerBody,
  type ReceiptForSupervision,
  type RequestMessage,
  type RequestPayload,
} from "../domain/messages.ts";
import { type IssuedHere, reconcile, type SupervisedThere } from "../domain/reconcile.ts";
import { backoffMs } from "../domain/retry.ts";
import { type FinanceTransport, FinanceUnavailable } from "../transport/transport.ts";
import { decisionCounter, observeQueue, requestCounter } from "./metrics.ts";

export interface ExchangeSettings {
  /** Receipts per upload request (finance takes 1-500). */
  batchSize: number;
  /** Upload requests unanswered at once; the rest of the queue waits in the database. */
  maxInFlight: number;
  /** After a failure: first retry after baseMs, doubling up to maxMs. */
  backoff: { baseMs: number; maxMs: number };
  /** Asynchronous transport (ferry): a request with no answer after this long is sent again. */
  resendAfterMs: number;
  /** A request being sent is leased for this long, so another replica does not send it too. */
  leaseMs: number;
  /** A stock application finance has not decided yet is asked about again after this long. */
  pendingPollMs: number;
}

export const defaultSettings: ExchangeSettings = {
  batchSize: 50,
  maxInFlight: 4,
  backoff: { baseMs: 500, maxMs: 30_000 },
  resendAfterMs: 30_000,
  leaseMs: 60_000,
  pendingPollMs: 10_000,
};

interface RequestRow {
  id: string;
  operation: Operation;
  payload: Record<string, unknown>;
  status: "PENDING" | "SENT" | "ANSWERED";
  attempts: number;
}

interface ItemRow {
  receipt_id: string;
  agency_code: string;
  bill_code: string;
  number: string;
  kind: "blue" | "red";
  original_receipt_id: string | null;
  issuing_point_code: string;
  check_code: string;
  total_fen: string | number;
  issued_at: Date;
  document: string;
  document_sm3: string;
  agency_signature: string;
  status: IssuedHere["status"];
  finance_signature: string | null;
  rejection_code: string | null;
}

/** What one round of the pump did (for logs and tests). */
export interface PumpRound {
  batched: number;
  sent: number;
  failed: number;
  answered: number;
}

/**
 * The exchange with finance: a durable queue of receipts to supervise, and a durable queue of
 * requests (each a message with a stable id) that are sent, retried with backoff through
 * outages, and answered once. Every effect of an answer (events for issuance and stock,
 * archive rows, reports) commits in one transaction with the request marked answered, so an
 * answer that arrives twice (a duplicated ferry file, a retried HTTP call) changes nothing.
 */
export class FinanceExchange {
  readonly #withEvents: <T>(work: (tx: SqlExecutor, emit: Emit) => Promise<T>) => Promise<T>;
  #pumping: Promise<PumpRound> | undefined;

  constructor(
    private readonly deps: {
      db: Database;
      transport: FinanceTransport;
      clock: () => Date;
      published: () => void;
      logger: Logger;
      settings: ExchangeSettings;
      /** Finance's signing certificate fingerprint, when known: downloaded receipts must carry it. */
      financeCertificateSm3?: string | undefined;
    },
  ) {
    const unitOfWork: UnitOfWork<SqlExecutor> = (work) => deps.db.transaction((tx) => work(tx, tx));
    this.#withEvents = transactionsWithEvents({
      unitOfWork,
      producer: "finance-exchange",
      clock: deps.clock,
      published: deps.published,
    });
  }

  // ------------------------------------------------------------------------------------------
  // Intake

  /** A receipt the agency signed joins the upload queue, once (the consumer's inbox and the primary key both hold). */
  async enqueueForSupervision(sql: SqlExecutor, r: ReceiptForSupervision): Promise<void> {
    await sql.query(
      `INSERT INTO supervision_item (receipt_id, agency_code, bill_code, number, kind, original_receipt_id,
         issuing_point_code, check_code, total_fen, issued_at, document, document_sm3, agency_signature, status, queued_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,'QUEUED',$14) ON CONFLICT DO NOTHING`,
      [
        r.receiptId,
        r.agencyCode,
        r.billCode,
        r.number,
        r.kind,
        r.originalReceiptId ?? null,
        r.issuingPointCode,
        r.checkCode,
        r.totalFen,
        r.issuedAt,
        r.document,
        r.documentSm3,
        r.agencySignature,
        this.deps.clock(),
      ],
    );
  }

  /** Queues a request to finance; it is sent by the pump and retried until answered. */
  async request<O extends Operation>(
    sql: SqlExecutor,
    operation: O,
    payload: RequestPayload<O> | Record<string, unknown>,
    id: string = randomUUID(),
  ): Promise<string> {
    await sql.query(
      `INSERT INTO finance_request (id, operation, payload, status, next_attempt_at, created_at)
       VALUES ($1, $2, $3::jsonb, 'PENDING', $4, $4) ON CONFLICT DO NOTHING`,
      [id, operation, JSON.stringify(payload), this.deps.clock()],
    );
    return id;
  }

  // ------------------------------------------------------------------------------------------
  // The pump: batch, send what is due, apply what arrived

  /** One round; concurrent callers share the round in progress. */
  pump(): Promise<PumpRound> {
    this.#pumping ??= this.#round().finally(() => {
      this.#pumping = undefined;
    });
    return this.#pumping;
  }

  async #round(): Promise<PumpRound> {
    const round: PumpRound = { batched: 0, sent: 0, failed: 0, answered: 0 };
    round.answered += await this.#applyArrived();
    round.batched = await this.#batchQueued();
    const due = await this.#claimDue();
    await Promise.all(
      due.map(async (row) => {
        const outcome = await this.#send(row);
        if (outcome === "failed") round.failed++;
        else round.sent++;
        if (outcome === "answered") round.answered++;
      }),
    );
    round.answered += await this.#applyArrived();
    return round;
  }

  /** Groups queued receipts into upload requests, one agency per request, while few are in flight. */
  async #batchQueued(): Promise<number> {
    const { batchSize, maxInFlight } = this.deps.settings;
    let batched = 0;
    for (;;) {
      const made = await this.deps.db.transaction(async (tx) => {
        // One batcher at a time across replicas; the others skip this round.
        const [lock] = await tx.query<{ ok: boolean }>(
          "SELECT pg_try_advisory_xact_lock(hashtext('finance-exchange.batcher')) AS ok",
        );
        if (!lock?.ok) return 0;
        const [open] = await tx.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM finance_request WHERE operation = 'supervise' AND status <> 'ANSWERED'`,
        );
        if ((open?.n ?? 0) >= maxInFlight) return 0;
        const [head] = await tx.query<{ agency_code: string; batch_alone: boolean }>(
          `SELECT agency_code, batch_alone FROM supervision_item WHERE status = 'QUEUED'
           ORDER BY batch_alone, queued_at LIMIT 1`,
        );
        if (!head) return 0;
        const rows = await tx.query<{ receipt_id: string }>(
          `SELECT receipt_id FROM supervision_item
            WHERE status = 'QUEUED' AND agency_code = $1 AND batch_alone = $2
            ORDER BY queued_at, receipt_id LIMIT $3 FOR UPDATE SKIP LOCKED`,
          [head.agency_code, head.batch_alone, head.batch_alone ? 1 : batchSize],
        );
        if (rows.length === 0) return 0;
        const id = await this.request(tx, "supervise", {
          agencyCode: head.agency_code,
          receiptIds: rows.map((r) => r.receipt_id),
        });
        await tx.query(
          `UPDATE supervision_item SET status = 'BATCHED', request_id = $1 WHERE receipt_id = ANY($2::uuid[])`,
          [id, rows.map((r) => r.receipt_id)],
        );
        return rows.length;
      });
      if (made === 0) {
        await this.#observeQueue();
        return batched;
      }
      batched += made;
    }
  }

  async #observeQueue(): Promise<void> {
    const [row] = await this.deps.db.query<{ queued: number; open: number }>(
      `SELECT (SELECT count(*)::int FROM supervision_item WHERE status = 'QUEUED') AS queued,
              (SELECT count(*)::int FROM finance_request WHERE status <> 'ANSWERED') AS open`,
    );
    observeQueue({ queued: row?.queued ?? 0, openRequests: row?.open ?? 0 });
  }

  /** Requests due now, leased to this process (another replica skips them until the lease ends). */
  async #claimDue(): Promise<RequestRow[]> {
    const now = this.deps.clock();
    return this.deps.db.query<RequestRow>(
      `UPDATE finance_request SET next_attempt_at = $2, attempts = attempts + 1
        WHERE id IN (SELECT id FROM finance_request
                      WHERE status IN ('PENDING','SENT') AND next_attempt_at <= $1
                      ORDER BY next_attempt_at LIMIT 16 FOR UPDATE SKIP LOCKED)
        RETURNING id, operation, payload, status, attempts`,
      [now, new Date(now.getTime() + this.deps.settings.leaseMs)],
    );
  }

  async #send(row: RequestRow): Promise<"answered" | "sent" | "failed"> {
    let message: RequestMessage;
    try {
      message = await this.#message(row);
    } catch (error) {
      this.deps.logger.error({ err: error, requestId: row.id }, "request cannot be built");
      await this.#failed(row, error as Error);
      return "failed";
    }
    try {
      const answer = await this.deps.transport.send(message);
      if (answer) {
        await this.apply(answer);
        requestCounter.add(1, { operation: row.operation, outcome: "answered" });
        return "answered";
      }
      requestCounter.add(1, { operation: row.operation, outcome: "sent" });
      await this.deps.db.query(
        `UPDATE finance_request SET status = 'SENT', next_attempt_at = $2, last_error = NULL
          WHERE id = $1 AND status <> 'ANSWERED'`,
        [row.id, new Date(this.deps.clock().getTime() + this.deps.settings.resendAfterMs)],
      );
      return "sent";
    } catch (error) {
      requestCounter.add(1, { operation: row.operation, outcome: "failed" });
      if (!(error instanceof FinanceUnavailable))
        this.deps.logger.error({ err: error, requestId: row.id }, "send failed");
      await this.#failed(row, error as Error);
      return "failed";
    }
  }

  async #failed(row: RequestRow, error: Error): Promise<void> {
    const wait = backoffMs(row.attempts, this.deps.settings.backoff);
    await this.deps.db.query(
      `UPDATE finance_request SET next_attempt_at = $2, last_error = $3 WHERE id = $1 AND status <> 'ANSWERED'`,
      [row.id, new Date(this.deps.clock().getTime() + wait), error.message.slice(0, 500)],
    );
  }

  /** The message for a request; an upload carries its receipts as they are queued. */
  async #message(row: RequestRow): Promise<RequestMessage> {
    const base = { id: row.id, operation: row.operation, sentAt: this.deps.clock().toISOString() };
    if (row.operation !== "supervise") return { ...base, payload: row.payload };
    const items = await this.deps.db.query<ItemRow>(
      `SELECT * FROM supervision_item WHERE request_id = $1 AND status = 'BATCHED' ORDER BY queued_at, receipt_id`,
      [row.id],
    );
    return { ...base, payload: { receipts: items.map(toReceipt) } };
  }

  async #applyArrived(): Promise<number> {
    let applied = 0;
    for (const arrived of await this.deps.transport.receive()) {
      if (await this.apply(arrived.answer)) applied++;
      await arrived.settle();
    }
    return applied;
  }

  // ------------------------------------------------------------------------------------------
  // Answers

  /** Applies finance's answer once. Returns false for an answer already applied or unknown. */
  async apply(answer: AnswerMessage): Promise<boolean> {
    return this.#withEvents(async (tx, emit) => {
      const [row] = await tx.query<RequestRow>(
        "SELECT id, operation, payload, status, attempts FROM finance_request WHERE id = $1 FOR UPDATE",
        [answer.requestId],
      );
      if (!row) {
        this.deps.logger.warn(
          { requestId: answer.requestId },
          "an answer to a request this daemon never made",
        );
        return false;
      }
      if (row.status === "ANSWERED") return false;
      if (row.operation !== answer.operation) {
        this.deps.logger.warn(
          { requestId: row.id, operation: answer.operation },
          "answer of another operation",
        );
        return false;
      }
      const done = await this.#applyTo(tx, emit, row, answer);
      if (done === "ask-again") {
        await tx.query(`UPDATE finance_request SET status = 'PENDING', next_attempt_at = $2 WHERE id = $1`, [
          row.id,
          new Date(this.deps.clock().getTime() + this.deps.settings.pendingPollMs),
        ]);
        return true;
      }
      await tx.query(
        `UPDATE finance_request SET status = 'ANSWERED', answered_at = $2, reply = $3::jsonb, last_error = NULL WHERE id = $1`,
        [row.id, this.deps.clock(), JSON.stringify(summarize(answer))],
      );
      return true;
    });
  }

  async #applyTo(
    tx: SqlExecutor,
    emit: Emit,
    row: RequestRow,
    answer: AnswerMessage,
  ): Promise<"done" | "ask-again"> {
    const result = answer.result;
    switch (row.operation) {
      case "supervise":
        if (!result.ok) await this.#batchRefused(tx, emit, row, result.code, result.message);
        else await this.#supervised(tx, emit, row.id, parseAnswerBody("supervise", result.body));
        return "done";
      case "baseData":
        if (result.ok)
          await this.#baseData(
            tx,
            emit,
            row.payload.agencyCode as string,
            parseAnswerBody("baseData", result.body),
          );
        return "done";
      case "applyStock":
        return this.#stockAnswer(tx, emit, row.payload as RequestPayload<"applyStock">, result);
      case "downloadSupervised":
        if (result.ok) {
          await this.#downloaded(
            tx,
            emit,
            row.payload as RequestPayload<"downloadSupervised">,
            parseAnswerBody("downloadSupervised", result.body),
          );
        }
        return "done";
      case "submitAudit":
        await this.#auditAnswer(tx, row.payload as RequestPayload<"submitAudit">, result);
        return "done";
      case "statusUpdate":
        this.#statusAnswer(row.id, result);
        return "done";
    }
  }

  /** Each receipt of the batch decided once: the status guard makes a repeated result a no-op. */
  async #supervised(
    tx: SqlExecutor,
    emit: Emit,
    requestId: string,
    body: AnswerBody<"supervise">,
  ): Promise<void> {
    const seen = new Set<string>();
    for (const r of body.results) {
      if (seen.has(r.receiptId)) continue; // finance may list a result twice
      seen.add(r.receiptId);
      if (r.outcome === "supervised") {
        const [item] = await tx.query<ItemRow>(
          `UPDATE supervision_item SET status = 'SUPERVISED', finance_ref = $3, finance_signature = $4, decided_at = $5
            WHERE receipt_id = $1 AND request_id = $2 AND status = 'BATCHED' RETURNING *`,
          [r.receiptId, requestId, r.financeRef, r.financeSignature, r.supervisedAt],
        );
        if (!item) continue;
        decisionCounter.add(1, { outcome: "supervised" });
        emit(ReceiptSupervised, {
          receiptId: item.receipt_id,
          agencyCode: item.agency_code,
          billCode: item.bill_code,
          number: item.number,
          financeSignature: r.financeSignature,
          financeCertificateSm3: r.financeCertificateSm3,
          financeRef: r.financeRef,
          supervisedAt: r.supervisedAt,
        });
      } else {
        const [item] = await tx.query<ItemRow>(
          `UPDATE supervision_item SET status = 'REJECTED', rejection_code = $3, rejection_reason = $4, decided_at = $5
            WHERE receipt_id = $1 AND request_id = $2 AND status = 'BATCHED' RETURNING *`,
          [r.receiptId, requestId, r.code, r.reason, r.rejectedAt],
        );
        if (!item) continue;
        decisionCounter.add(1, { outcome: "rejected" });
        emit(ReceiptSupervisionRejected, {
          receiptId: item.receipt_id,
          agencyCode: item.agency_code,
          billCode: item.bill_code,
          number: item.number,
          code: r.code,
          reason: r.reason.slice(0, 500),
          rejectedAt: r.rejectedAt,
        });
      }
    }
    // Receipts finance did not answer about go back to the queue and are asked again.
    await tx.query(
      `UPDATE supervision_item SET status = 'QUEUED', request_id = NULL WHERE request_id = $1 AND status = 'BATCHED'`,
      [requestId],
    );
  }

  /**
   * Finance refused a whole batch (one receipt it cannot read spoils the request). Several
   * receipts: each goes again alone. One receipt alone: that receipt is rejected.
   */
  async #batchRefused(
    tx: SqlExecutor,
    emit: Emit,
    row: RequestRow,
    code: string,
    reason: string,
  ): Promise<void> {
    const items = await tx.query<ItemRow>(
      `SELECT * FROM supervision_item WHERE request_id = $1 AND status = 'BATCHED'`,
      [row.id],
    );
    if (items.length > 1) {
      await tx.query(
        `UPDATE supervision_item SET status = 'QUEUED', request_id = NULL, batch_alone = true WHERE request_id = $1 AND status = 'BATCHED'`,
        [row.id],
      );
      return;
    }
    const now = this.deps.clock().toISOString();
    await this.#supervised(tx, emit, row.id, {
      results: items.map((i) => ({
        receiptId: i.receipt_id,
        outcome: "rejected" as const,
        code: code.slice(0, 64),
        reason: reason.slice(0, 500) || code,
        rejectedAt: now,
      })),
    });
  }

  async #baseData(
    tx: SqlExecutor,
    emit: Emit,
    agencyCode: string,
    body: AnswerBody<"baseData">,
  ): Promise<void> {
    const now = this.deps.clock();
    for (const e of body.entries) {
      await tx.query(
        `INSERT INTO base_data (agency_code, kind, code, payload, synced_at) VALUES ($1,$2,$3,$4::jsonb,$5)
         ON CONFLICT (agency_code, kind, code) DO UPDATE SET payload = EXCLUDED.payload, synced_at = EXCLUDED.synced_at`,
        [agencyCode, e.kind, e.code, JSON.stringify(e.payload), now],
      );
      // The agency's registered name, for the reports that must print it.
      const { name, regionCode } = e.payload;
      if (e.kind === "agency" && e.code === agencyCode && typeof name === "string" && name) {
        emit(AgencyProfileSynced, {
          agencyCode,
          name: name.slice(0, 200),
          ...(typeof regionCode === "string" && regionCode ? { regionCode } : {}),
          syncedAt: now.toISOString(),
        });
      }
    }
  }

  /** Segments finance issued go to stock once each (finance.SegmentIssued), keyed by finance's reference. */
  async #stockAnswer(
    tx: SqlExecutor,
    emit: Emit,
    p: RequestPayload<"applyStock">,
    result: AnswerMessage["result"],
  ): Promise<"done" | "ask-again"> {
    const now = this.deps.clock();
    if (!result.ok) {
      await tx.query(
        `UPDATE stock_application SET status = 'REFUSED', reason = $2, decided_at = $3 WHERE id = $1 AND status = 'REQUESTED'`,
        [p.applicationId, `${result.code}: ${result.message}`, now],
      );
      return "done";
    }
    const body = parseAnswerBody("applyStock", result.body);
    if (body.status === "pending") return "ask-again";
    if (body.status === "refused") {
      await tx.query(
        `UPDATE stock_application SET status = 'REFUSED', reason = $2, decided_at = $3 WHERE id = $1 AND status = 'REQUESTED'`,
        [p.applicationId, body.reason, now],
      );
      return "done";
    }
    for (const s of body.segments) {
      const [fresh] = await tx.query(
        `INSERT INTO issued_segment (finance_ref, application_id, agency_code, bill_code, start_number, end_number, issued_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING RETURNING finance_ref`,
        [s.financeRef, p.applicationId, p.agencyCode, s.billCode, s.startNumber, s.endNumber, s.issuedAt],
      );
      if (!fresh) continue;
      emit(SegmentIssued, {
        financeRef: s.financeRef,
        applicationId: p.applicationId,
        agencyCode: p.agencyCode,
        billCode: s.billCode,
        startNumber: s.startNumber,
        endNumber: s.endNumber,
        issuedAt: s.issuedAt,
      });
    }
    await tx.query(
      `UPDATE stock_application SET status = 'APPROVED', finance_ref = $2, decided_at = $3 WHERE id = $1`,
      [p.applicationId, body.financeRef, now],
    );
    return "done";
  }

  /**
   * Downloaded supervised receipts: each checked (both signatures, finance's certificate) and
   * archived by content hash, once; then, when asked, the day's reconciliation report.
   */
  async #downloaded(
    tx: SqlExecutor,
    emit: Emit,
    p: RequestPayload<"downloadSupervised">,
    body: AnswerBody<"downloadSupervised">,
  ): Promise<void> {
    const now = this.deps.clock();
    const there = new Map<string, SupervisedThere>();
    for (const r of body.receipts) {
      if (r.agencyCode !== p.agencyCode) continue;
      const check = checkSignatures(r, {
        financeCertificateSm3: this.deps.financeCertificateSm3 ?? r.financeCertificateSm3,
      });
      const hash = contentSm3(r);
      const entry: SupervisedThere = {
        receiptId: r.receiptId ?? "",
        billCode: r.billCode,
        number: r.number,
        financeRef: r.financeRef,
        supervisedAt: r.supervisedAt,
        documentSm3: r.documentSm3,
        agencySignatureSm3: sm3(r.agencySignature).toString("hex"),
        financeSignatureSm3: sm3(r.financeSignature).toString("hex"),
        signatureProblem: check.ok ? undefined : check.problem,
        archivedAs: check.ok ? hash : undefined,
      };
      there.set(`${r.billCode}/${r.number}`, entry);
      if (!check.ok) continue;
      await tx.query(
        `INSERT INTO archived_receipt (content_sm3, receipt_id, agency_code, bill_code, number, finance_ref, supervised_at,
           document, agency_signature, finance_signature, finance_certificate, archived_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT DO NOTHING`,
        [
          hash,
          r.receiptId ?? null,
          r.agencyCode,
          r.billCode,
          r.number,
          r.financeRef,
          r.supervisedAt,
          r.document,
          r.agencySignature,
          r.financeSignature,
          carriedCertificate(r.financeSignature) ??
            Buffer.from(check.financeCertificate.toDer()).toString("base64"),
          now,
        ],
      );
    }
    if (p.reconcile) await this.#reconcile(tx, emit, p.agencyCode, p.day, [...there.values()]);
  }

  async #reconcile(
    tx: SqlExecutor,
    emit: Emit,
    agencyCode: string,
    day: string,
    there: SupervisedThere[],
  ): Promise<void> {
    const { start, end } = cstDayBounds(day);
    const items = await tx.query<ItemRow>(
      `SELECT * FROM supervision_item WHERE agency_code = $1 AND issued_at >= $2 AND issued_at < $3`,
      [agencyCode, start, end],
    );
    const here: IssuedHere[] = items.map((i) => ({
      receiptId: i.receipt_id,
      billCode: i.bill_code,
      number: i.number,
      issuedAt: i.issued_at.toISOString(),
      status: i.status,
      documentSm3: i.document_sm3,
      agencySignatureSm3: sm3(i.agency_signature).toString("hex"),
      financeSignatureSm3: i.finance_signature ? sm3(i.finance_signature).toString("hex") : undefined,
      rejectionCode: i.rejection_code ?? undefined,
    }));
    const result = reconcile(here, there);
    const reportId = randomUUID();
    const createdAt = this.deps.clock();
    await tx.query(
      `INSERT INTO reconciliation_report (id, agency_code, day, created_at, summary, differences)
       VALUES ($1,$2,$3,$4,$5::jsonb,$6::jsonb)`,
      [
        reportId,
        agencyCode,
        day,
        createdAt,
        JSON.stringify(result.summary),
        JSON.stringify(result.differences),
      ],
    );
    const { byKind: _byKind, ...summary } = result.summary;
    const carried = result.differences.slice(0, RECONCILIATION_DIFFERENCES_IN_EVENT);
    emit(ReconciliationCompleted, {
      reportId,
      agencyCode,
      day,
      reconciledAt: createdAt.toISOString(),
      summary,
      differences: carried.map((d) => ({
        kind: d.kind,
        billCode: d.billCode,
        number: d.number,
        ...(d.receiptId ? { receiptId: d.receiptId } : {}),
        ...(d.financeRef ? { financeRef: d.financeRef } : {}),
        explanation: d.explanation.slice(0, 1000),
      })),
      differencesOmitted: result.differences.length - carried.length,
    });
  }

  /** Finance applied the status (kept on the request row); a refusal is logged for an operator to look at. */
  #statusAnswer(requestId: string, result: AnswerMessage["result"]): void {
    const refused = result.ok
      ? parseAnswerBody("statusUpdate", result.body).results.filter((r) => r.outcome === "REFUSED")
      : [{ code: result.code, reason: result.message }];
    if (refused.length > 0) this.deps.logger.warn({ requestId, refused }, "finance refused a status update");
  }

  /**
   * A supervised receipt changed here (paper exchange, red-flush, void): finance is told, once per
   * event (the request id derives from the event id). Voiding a receipt finance never supervised
   * (it rejected it) needs no word to finance.
   */
  async reportStatus(
    sql: SqlExecutor,
    eventId: string,
    change: {
      agencyCode: string;
      billCode: string;
      number: string;
      status: "RED_FLUSHED" | "EXCHANGED" | "VOIDED";
      at: string;
      reason?: string;
    },
  ): Promise<void> {
    const [item] = await sql.query<{ status: string }>(
      `SELECT status FROM supervision_item WHERE agency_code = $1 AND bill_code = $2 AND number = $3`,
      [change.agencyCode, change.billCode, change.number],
    );
    if (change.status === "VOIDED" && item?.status !== "SUPERVISED") return;
    const { agencyCode, ...update } = change;
    await this.request(
      sql,
      "statusUpdate",
      { agencyCode, updates: [{ updateId: `evt:${eventId}`, ...update }] },
      stableId(`status:${eventId}`),
    );
  }

  async #auditAnswer(
    tx: SqlExecutor,
    p: RequestPayload<"submitAudit">,
    result: AnswerMessage["result"],
  ): Promise<void> {
    const outcome = result.ok
      ? parseAnswerBody("submitAudit", result.body)
      : { result: "REFUSED", code: result.code, message: result.message };
    await tx.query(
      `UPDATE audit_report SET status = $2, answer = $3::jsonb, answered_at = $4 WHERE id = $1`,
      [p.reportId, outcome.result, JSON.stringify(outcome), this.deps.clock()],
    );
  }
}

/** A UUID-shaped id derived from text (SM3), so the same fact always makes the same request. */
export function stableId(text: string): string {
  const h = sm3(text).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function toReceipt(i: ItemRow): ReceiptForSupervision {
  return {
    receiptId: i.receipt_id,
    agencyCode: i.agency_code,
    billCode: i.bill_code,
    number: i.number,
    kind: i.kind,
    ...(i.original_receipt_id ? { originalReceiptId: i.original_receipt_id } : {}),
    issuingPointCode: i.issuing_point_code,
    checkCode: i.check_code,
    totalFen: Number(i.total_fen),
    issuedAt: i.issued_at.toISOString(),
    document: i.document,
    documentSm3: i.document_sm3,
    agencySignature: i.agency_signature,
  };
}

/** What is kept of an answer on its request row: outcome and counts, not the documents. */
function summarize(answer: AnswerMessage): Record<string, unknown> {
  if (!answer.result.ok) return { ok: false, code: answer.result.code, message: answer.result.message };
  const body = answer.result.body as Record<string, unknown>;
  const counts: Record<string, number> = {};
  for (const [k, v] of Object.entries(body ?? {})) if (Array.isArray(v)) counts[k] = v.length;
  return { ok: true, answerId: answer.id, answeredAt: answer.answeredAt, counts };
}
