import { randomUUID } from "node:crypto";
import { transactionsWithEvents } from "@piaoju/bus";
import type { Emit } from "@piaoju/contracts";
import { type Certificate, sm3 } from "@piaoju/gm-crypto";
import type { Database, SqlExecutor, UnitOfWork } from "@piaoju/persistence";
import type { Logger } from "@piaoju/runtime";
import { queuedContext, type SealedDocuments } from "../adapters/sealed-documents.ts";
import type {
  AnswerMessage,
  Operation,
  ReceiptForSupervision,
  RequestMessage,
  RequestPayload,
} from "../domain/messages.ts";
import { backoffMs } from "../domain/retry.ts";
import { type FinanceTransport, FinanceUnavailable } from "../transport/transport.ts";
import { applyAnswer } from "./answers/apply.ts";
import type { AnswerContext } from "./answers/context.ts";
import type { FinanceCertificates } from "./finance-certificates.ts";
import { observeQueue, requestCounter } from "./metrics.ts";
import { type ItemRow, type RequestRow, toReceipt } from "./rows.ts";

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
  readonly #answers: AnswerContext;
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
      financeCertificates?: FinanceCertificates | undefined;
      /** Seals the documents kept in the queue and the archive (they name the payer). */
      documents: SealedDocuments;
    },
  ) {
    const unitOfWork: UnitOfWork<SqlExecutor> = (work) => deps.db.transaction((tx) => work(tx, tx));
    this.#answers = {
      clock: deps.clock,
      documents: deps.documents,
      logger: deps.logger,
      financeCertificateSm3: deps.financeCertificateSm3,
      financeCertificates: deps.financeCertificates,
    };
    this.#withEvents = transactionsWithEvents({
      unitOfWork,
      producer: "finance-exchange",
      clock: deps.clock,
      published: deps.published,
    });
  }

  /** Finance's certificates as finance serves them, published in one transaction. */
  async publishServedFinanceCertificates(served: {
    certificate: Certificate;
    ca: Certificate;
  }): Promise<void> {
    const certificates = this.deps.financeCertificates;
    if (!certificates) return;
    await this.#withEvents(async (_tx, emit) => certificates.learned(emit, served));
  }

  /** At start: publishes finance's certificates known so far (see FinanceCertificates). */
  async publishFinanceCertificates(): Promise<number> {
    const certificates = this.deps.financeCertificates;
    if (!certificates) return 0;
    return this.#withEvents((tx, emit) => certificates.publishKnown(tx, emit));
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
        this.deps.documents.seal(queuedContext(r.receiptId), r.document),
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
    return {
      ...base,
      payload: {
        receipts: items.map((i) =>
          toReceipt({ ...i, document: this.deps.documents.open(queuedContext(i.receipt_id), i.document) }),
        ),
      },
    };
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
  // Answers (each operation's handler in answers/)

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
      const done = await applyAnswer(this.#answers, tx, emit, row, answer);
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
}

/** A UUID-shaped id derived from text (SM3), so the same fact always makes the same request. */
export function stableId(text: string): string {
  const h = sm3(text).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** What is kept of an answer on its request row: outcome and counts, not the documents. */
function summarize(answer: AnswerMessage): Record<string, unknown> {
  if (!answer.result.ok) return { ok: false, code: answer.result.code, message: answer.result.message };
  const body = answer.result.body as Record<string, unknown>;
  const counts: Record<string, number> = {};
  for (const [k, v] of Object.entries(body ?? {})) if (Array.isArray(v)) counts[k] = v.length;
  return { ok: true, answerId: answer.id, answeredAt: answer.answeredAt, counts };
}
