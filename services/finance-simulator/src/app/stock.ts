import { randomUUID } from "node:crypto";
import { sm3 } from "@piaoju/gm-crypto";
import type { SqlExecutor } from "@piaoju/persistence";
import { AppError } from "@piaoju/runtime";
import type { Segment, StockApplicationRequest, StockApplicationResponse } from "../api.ts";
import { formatNumber, overlaps, planSegment } from "../domain/numbers.ts";
import { iso, type SimContext } from "./context.ts";

type Row = Record<string, unknown>;

/**
 * 申领: the agency asks for numbers of one bill kind. Idempotent by (agency, applicationId): the
 * same request again returns the application as it stands; another request under the same id is
 * refused. With auto-approval finance issues the segment in the same transaction.
 */
export async function applyForStock(
  ctx: SimContext,
  agencyCode: string,
  input: StockApplicationRequest,
): Promise<{ created: boolean; application: StockApplicationResponse }> {
  const requestSm3 = sm3(JSON.stringify([input.billCode, input.quantity])).toString("hex");
  const result = await ctx.db.transaction(async (tx) => {
    await requireEnabledBillKind(tx, agencyCode, input.billCode);
    const financeRef = `APP-${randomUUID()}`;
    const inserted = await tx.query(
      `INSERT INTO stock_application (finance_ref, agency_code, application_id, bill_code, quantity, applicant, reason,
         request_sm3, status, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'PENDING', now())
       ON CONFLICT (agency_code, application_id) DO NOTHING RETURNING finance_ref`,
      [
        financeRef,
        agencyCode,
        input.applicationId,
        input.billCode,
        input.quantity,
        input.applicant ?? null,
        input.reason ?? null,
        requestSm3,
      ],
    );
    if (inserted.length === 0) {
      const [existing] = await tx.query<{ finance_ref: string; request_sm3: string }>(
        `SELECT finance_ref, request_sm3 FROM stock_application WHERE agency_code = $1 AND application_id = $2`,
        [agencyCode, input.applicationId],
      );
      if (existing!.request_sm3 !== requestSm3) {
        throw new AppError(
          "conflict",
          `application ${input.applicationId} was made earlier with another bill code or quantity`,
          {
            code: "APPLICATION_CONFLICT",
          },
        );
      }
      return { created: false, financeRef: existing!.finance_ref };
    }
    if (ctx.autoApprove) await approveLocked(ctx, tx, financeRef, input.quantity);
    return { created: true, financeRef };
  });
  return {
    created: result.created,
    application: await readApplication(ctx.db, { financeRef: result.financeRef }),
  };
}

async function requireEnabledBillKind(tx: SqlExecutor, agencyCode: string, billCode: string): Promise<void> {
  const [kind] = await tx.query<{ enabled: boolean }>(
    `SELECT enabled FROM bill_kind WHERE agency_code = $1 AND bill_code = $2`,
    [agencyCode, billCode],
  );
  if (!kind?.enabled) {
    throw new AppError(
      "validation",
      `bill code ${billCode} is not an enabled bill kind of agency ${agencyCode}`,
      {
        code: "UNKNOWN_BILL_KIND",
        issues: [
          {
            field: "body.billCode",
            rule: "base_data",
            message: "not one of the agency's enabled bill kinds",
          },
        ],
      },
    );
  }
}

/** An admin approves a pending application, optionally for fewer (or more) numbers than asked. */
export async function approveApplication(
  ctx: SimContext,
  financeRef: string,
  quantity?: number,
): Promise<StockApplicationResponse> {
  await ctx.db.transaction(async (tx) => {
    const app = await lockPending(tx, financeRef);
    await approveLocked(ctx, tx, financeRef, quantity ?? Number(app.quantity));
  });
  return readApplication(ctx.db, { financeRef });
}

export async function rejectApplication(
  ctx: SimContext,
  financeRef: string,
  reason: string,
): Promise<StockApplicationResponse> {
  await ctx.db.transaction(async (tx) => {
    await lockPending(tx, financeRef);
    await tx.query(
      `UPDATE stock_application SET status = 'REJECTED', decision_reason = $2, decided_at = now() WHERE finance_ref = $1`,
      [financeRef, reason],
    );
  });
  return readApplication(ctx.db, { financeRef });
}

async function lockPending(tx: SqlExecutor, financeRef: string): Promise<Row> {
  const [app] = await tx.query(`SELECT * FROM stock_application WHERE finance_ref = $1 FOR UPDATE`, [
    financeRef,
  ]);
  if (!app)
    throw new AppError("not_found", `no application ${financeRef}`, { code: "APPLICATION_NOT_FOUND" });
  if (app.status !== "PENDING") {
    throw new AppError("conflict", `application ${financeRef} is already ${String(app.status)}`, {
      code: "APPLICATION_DECIDED",
    });
  }
  return app;
}

/**
 * Issues the application's segment from the bill code's counter (locked), so segments of one
 * bill code never overlap across agencies; the overlap query is a second guard against a counter
 * someone moved by hand.
 */
async function approveLocked(
  ctx: SimContext,
  tx: SqlExecutor,
  financeRef: string,
  quantity: number,
): Promise<void> {
  const [app] = await tx.query<{ agency_code: string; bill_code: string }>(
    `SELECT agency_code, bill_code FROM stock_application WHERE finance_ref = $1`,
    [financeRef],
  );
  const billCode = app!.bill_code;
  await tx.query(
    `INSERT INTO number_counter (bill_code, next_number) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    [billCode, ctx.firstNumber.toString()],
  );
  const [counter] = await tx.query<{ next_number: string }>(
    `SELECT next_number FROM number_counter WHERE bill_code = $1 FOR UPDATE`,
    [billCode],
  );
  const planned = planSegment(BigInt(counter!.next_number), quantity);
  if (!planned) {
    throw new AppError("conflict", `bill code ${billCode} has fewer than ${quantity} numbers left`, {
      code: "NUMBERS_EXHAUSTED",
    });
  }
  const clash = await tx.query<{ start_number: string; end_number: string }>(
    `SELECT start_number, end_number FROM segment WHERE bill_code = $1 AND start_number <= $3 AND end_number >= $2 LIMIT 1`,
    [billCode, planned.start.toString(), planned.end.toString()],
  );
  if (
    clash.length > 0 &&
    overlaps(planned, { start: BigInt(clash[0]!.start_number), end: BigInt(clash[0]!.end_number) })
  ) {
    throw new Error(`number counter of ${billCode} points into an issued segment`);
  }
  await tx.query(`UPDATE number_counter SET next_number = $2 WHERE bill_code = $1`, [
    billCode,
    (planned.end + 1n).toString(),
  ]);
  await tx.query(
    `INSERT INTO segment (finance_ref, agency_code, bill_code, start_number, end_number, application_ref, issued_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())`,
    [
      `SEG-${randomUUID()}`,
      app!.agency_code,
      billCode,
      planned.start.toString(),
      planned.end.toString(),
      financeRef,
    ],
  );
  await tx.query(
    `UPDATE stock_application SET status = 'APPROVED', decided_at = now() WHERE finance_ref = $1`,
    [financeRef],
  );
}

export async function readApplication(
  db: SqlExecutor,
  key: { financeRef: string } | { agencyCode: string; applicationId: string },
): Promise<StockApplicationResponse> {
  const [app] =
    "financeRef" in key
      ? await db.query(`SELECT * FROM stock_application WHERE finance_ref = $1`, [key.financeRef])
      : await db.query(`SELECT * FROM stock_application WHERE agency_code = $1 AND application_id = $2`, [
          key.agencyCode,
          key.applicationId,
        ]);
  if (!app) throw new AppError("not_found", "no such stock application", { code: "APPLICATION_NOT_FOUND" });
  const segments = await db.query(`SELECT * FROM segment WHERE application_ref = $1 ORDER BY seq`, [
    app.finance_ref,
  ]);
  return applicationOf(app, segments.map(segmentOf));
}

export async function listApplications(
  db: SqlExecutor,
  status?: string,
): Promise<StockApplicationResponse[]> {
  const apps = await db.query(
    `SELECT * FROM stock_application WHERE ($1::text IS NULL OR status::text = $1) ORDER BY created_at LIMIT 1000`,
    [status ?? null],
  );
  return Promise.all(apps.map((app) => readApplication(db, { financeRef: String(app.finance_ref) })));
}

/** Segments issued to the agency after `since` (its issue order). */
export async function listSegments(
  db: SqlExecutor,
  agencyCode: string,
  since: number,
  limit: number,
): Promise<{ items: Segment[]; lastSeq: number }> {
  const rows = await db.query(
    `SELECT s.*, a.application_id FROM segment s LEFT JOIN stock_application a ON a.finance_ref = s.application_ref
     WHERE s.agency_code = $1 AND s.seq > $2 ORDER BY s.seq LIMIT $3`,
    [agencyCode, since, limit],
  );
  const items = rows.map(segmentOf);
  return { items, lastSeq: items.at(-1)?.seq ?? since };
}

function segmentOf(row: Row): Segment {
  return {
    financeRef: String(row.finance_ref),
    applicationId: row.application_id == null ? null : String(row.application_id),
    agencyCode: String(row.agency_code),
    billCode: String(row.bill_code),
    startNumber: formatNumber(BigInt(String(row.start_number))),
    endNumber: formatNumber(BigInt(String(row.end_number))),
    issuedAt: iso(row.issued_at),
    seq: Number(row.seq),
  };
}

function applicationOf(row: Row, segments: Segment[]): StockApplicationResponse {
  const applicationId = String(row.application_id);
  return {
    applicationId,
    financeRef: String(row.finance_ref),
    agencyCode: String(row.agency_code),
    billCode: String(row.bill_code),
    quantity: Number(row.quantity),
    status: row.status as StockApplicationResponse["status"],
    decisionReason: row.decision_reason === null ? null : String(row.decision_reason),
    createdAt: iso(row.created_at),
    decidedAt: row.decided_at === null ? null : iso(row.decided_at),
    segments: segments.map((s) => ({ ...s, applicationId })),
  };
}
