import { sm3 } from "@piaoju/gm-crypto";
import type { SqlExecutor } from "@piaoju/persistence";
import { AppError } from "@piaoju/runtime";
import type {
  AuditReportRequest,
  AuditReportResponse,
  StatusUpdate,
  StatusUpdateResult,
  VerifyResponse,
} from "../api.ts";
import { auditFindings, type SupervisedNumber } from "../domain/audit.ts";
import { chinaPeriod, expandRanges } from "../domain/numbers.ts";
import { requireAgencyName } from "./base-data.ts";
import { iso, type SimContext } from "./context.ts";
import { stateOf } from "./supervision.ts";

type Row = Record<string, unknown>;

/** At most this many numbers in one audit report (the lists are expanded to check each number). */
export const AUDIT_NUMBER_CAP = 200_000;

// -------------------------------------------------------------------------------------------------
// Status updates from the agency

const refuse = (u: StatusUpdate, code: string, reason: string): StatusUpdateResult => ({
  updateId: u.updateId,
  billCode: u.billCode,
  number: u.number,
  outcome: "REFUSED",
  code,
  reason,
  state: null,
});

/**
 * Red-flush, paper exchange and voiding as the agency reports them. Repeating an update is
 * harmless (APPLIED again); a transition the receipt's state forbids is REFUSED with a code.
 */
export async function applyStatusUpdates(
  ctx: SimContext,
  agencyCode: string,
  updates: readonly StatusUpdate[],
): Promise<StatusUpdateResult[]> {
  const results: StatusUpdateResult[] = [];
  for (const update of updates) {
    results.push(await ctx.db.transaction((tx) => applyOne(tx, agencyCode, update)));
  }
  return results;
}

async function applyOne(tx: SqlExecutor, agencyCode: string, u: StatusUpdate): Promise<StatusUpdateResult> {
  const rows = await tx.query(
    `SELECT * FROM receipt WHERE agency_code = $1 AND bill_code = $2 AND number = $3
     ORDER BY (outcome = 'SUPERVISED') DESC LIMIT 1 FOR UPDATE`,
    [agencyCode, u.billCode, u.number],
  );
  const receipt = rows[0];
  if (!receipt)
    return refuse(u, "NOT_FOUND", `agency ${agencyCode} has no receipt ${u.billCode}/${u.number}`);
  if (receipt.outcome !== "SUPERVISED") return refuse(u, "NOT_SUPERVISED", "finance rejected this receipt");
  const state = stateOf(receipt);
  const column = { RED_FLUSHED: "red_flushed", EXCHANGED: "exchanged", VOIDED: "voided" }[u.status];
  const already = { RED_FLUSHED: state.redFlushed, EXCHANGED: state.exchanged, VOIDED: state.voided }[
    u.status
  ];
  if (!already) {
    const conflict = forbiddenTransition(u.status, state);
    if (conflict) return refuse(u, conflict.code, conflict.reason);
    await tx.query(`UPDATE receipt SET ${column} = true, state_updated_at = $2 WHERE receipt_id = $1`, [
      receipt.receipt_id,
      u.at,
    ]);
    state[column === "red_flushed" ? "redFlushed" : (column as "exchanged" | "voided")] = true;
  }
  return {
    updateId: u.updateId,
    billCode: u.billCode,
    number: u.number,
    outcome: "APPLIED",
    code: null,
    reason: null,
    state,
  };
}

/** The rules of the seed: a booked receipt cannot be red-flushed; an exchanged one was voided with the exchange. */
function forbiddenTransition(
  status: StatusUpdate["status"],
  state: ReturnType<typeof stateOf>,
): { code: string; reason: string } | undefined {
  if (status === "RED_FLUSHED" && state.booked)
    return { code: "BOOKED", reason: "the payer booked (报销) this receipt" };
  if (status === "RED_FLUSHED" && state.exchanged) {
    return { code: "CONFLICT", reason: "the receipt was exchanged for paper: refund by the paper receipt" };
  }
  if (state.voided) return { code: "CONFLICT", reason: "the receipt is voided" };
  if (status === "EXCHANGED" && state.redFlushed)
    return { code: "CONFLICT", reason: "the receipt is red-flushed" };
  if (status === "VOIDED" && state.redFlushed)
    return { code: "CONFLICT", reason: "the receipt is red-flushed" };
  return undefined;
}

// -------------------------------------------------------------------------------------------------
// Payer verification and booking

export async function verifyReceipt(
  ctx: SimContext,
  q: { billCode: string; number: string; checkCode: string },
): Promise<VerifyResponse> {
  const [row] = await ctx.db.query(
    `SELECT r.*, a.name AS agency_name FROM receipt r JOIN agency a ON a.agency_code = r.agency_code
     WHERE r.bill_code = $1 AND r.number = $2 AND r.outcome = 'SUPERVISED'`,
    [q.billCode, q.number],
  );
  // A wrong check code answers exactly like an unknown number: the check code is what proves the payer holds it.
  if (!row || row.check_code !== q.checkCode) {
    throw new AppError("not_found", "no supervised receipt with that bill code, number and check code", {
      code: "RECEIPT_NOT_FOUND",
    });
  }
  return verificationOf(row);
}

function verificationOf(row: Row): VerifyResponse {
  const state = stateOf(row);
  const status = state.voided
    ? "VOIDED"
    : state.exchanged
      ? "EXCHANGED"
      : state.redFlushed
        ? "RED_FLUSHED"
        : "VALID";
  return {
    billCode: String(row.bill_code),
    number: String(row.number),
    agencyCode: String(row.agency_code),
    agencyName: String(row.agency_name),
    totalFen: Number(row.total_fen),
    issuedAt: iso(row.issued_at),
    supervisedAt: iso(row.decided_at),
    status,
    redFlushed: state.redFlushed,
    exchanged: state.exchanged,
    booked: state.booked,
    voided: state.voided,
  };
}

/** 入账: the payer's unit booked the receipt (an admin call standing in for the booking system). */
export async function setBooked(
  ctx: SimContext,
  input: { billCode: string; number: string; booked: boolean },
): Promise<VerifyResponse> {
  const [row] = await ctx.db.query(
    `UPDATE receipt r SET booked = $3, state_updated_at = now() FROM agency a
     WHERE a.agency_code = r.agency_code AND r.bill_code = $1 AND r.number = $2 AND r.outcome = 'SUPERVISED'
     RETURNING r.*, a.name AS agency_name`,
    [input.billCode, input.number, input.booked],
  );
  if (!row)
    throw new AppError("not_found", "no supervised receipt with that number", { code: "RECEIPT_NOT_FOUND" });
  return verificationOf(row);
}

// -------------------------------------------------------------------------------------------------
// Audit reports (审验)

const FINDINGS_SHOWN = 1000;

export async function receiveAuditReport(
  ctx: SimContext,
  agencyCode: string,
  report: AuditReportRequest,
): Promise<{ created: boolean; response: AuditReportResponse }> {
  const requestSm3 = sm3(JSON.stringify(report)).toString("hex");
  const stored = await readStoredReport(ctx.db, agencyCode, report.reportId);
  if (stored) return { created: false, response: sameOrConflict(stored, requestSm3, report.reportId) };
  if (report.periodStart > report.periodEnd) {
    throw AppError.validation([
      { field: "body.periodEnd", rule: "order", message: "periodEnd is before periodStart" },
    ]);
  }
  const lists = (["used", "voided", "destroyed"] as const).map((list) => {
    const numbers = expandRanges(report[list], AUDIT_NUMBER_CAP);
    if (!numbers) {
      throw AppError.validation([
        { field: `body.${list}`, rule: "size", message: `more than ${AUDIT_NUMBER_CAP} numbers in one list` },
      ]);
    }
    return numbers;
  }) as [string[], string[], string[]];
  const [used, voided, destroyed] = lists;
  await requireAgencyName(ctx, agencyCode);
  const isIssued = await issuedStock(ctx.db, agencyCode, report.billCode);
  const supervised = await supervisedNumbers(ctx.db, agencyCode, report);
  const findings = auditFindings({ used, voided, destroyed, isIssued, supervised });
  const response: AuditReportResponse = {
    reportId: report.reportId,
    agencyCode,
    billCode: report.billCode,
    periodStart: report.periodStart,
    periodEnd: report.periodEnd,
    result: findings.length === 0 ? "PASSED" : "FINDINGS",
    counts: { used: used.length, voided: voided.length, destroyed: destroyed.length },
    findingCount: findings.length,
    findings: findings.slice(0, FINDINGS_SHOWN),
    receivedAt: new Date().toISOString(),
  };
  const inserted = await ctx.db.query(
    `INSERT INTO audit_report (agency_code, report_id, request_sm3, response, received_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT DO NOTHING RETURNING report_id`,
    [agencyCode, report.reportId, requestSm3, JSON.stringify(response), response.receivedAt],
  );
  if (inserted.length === 0) {
    const raced = await readStoredReport(ctx.db, agencyCode, report.reportId);
    return { created: false, response: sameOrConflict(raced!, requestSm3, report.reportId) };
  }
  return { created: true, response };
}

function sameOrConflict(
  stored: { requestSm3: string; response: AuditReportResponse },
  requestSm3: string,
  id: string,
) {
  if (stored.requestSm3 !== requestSm3) {
    throw new AppError("conflict", `audit report ${id} was received earlier with other content`, {
      code: "REPORT_CONFLICT",
    });
  }
  return stored.response;
}

async function readStoredReport(
  db: SqlExecutor,
  agencyCode: string,
  reportId: string,
): Promise<{ requestSm3: string; response: AuditReportResponse } | undefined> {
  const [row] = await db.query<{ request_sm3: string; response: unknown }>(
    `SELECT request_sm3, response FROM audit_report WHERE agency_code = $1 AND report_id = $2`,
    [agencyCode, reportId],
  );
  if (!row) return undefined;
  const response = (
    typeof row.response === "string" ? JSON.parse(row.response) : row.response
  ) as AuditReportResponse;
  return { requestSm3: row.request_sm3, response };
}

export async function getAuditReport(
  ctx: SimContext,
  agencyCode: string,
  reportId: string,
): Promise<AuditReportResponse> {
  const stored = await readStoredReport(ctx.db, agencyCode, reportId);
  if (!stored) throw new AppError("not_found", `no audit report ${reportId}`, { code: "REPORT_NOT_FOUND" });
  return stored.response;
}

async function issuedStock(
  db: SqlExecutor,
  agencyCode: string,
  billCode: string,
): Promise<(n: string) => boolean> {
  const segments = (
    await db.query<{ start_number: string; end_number: string }>(
      `SELECT start_number, end_number FROM segment WHERE agency_code = $1 AND bill_code = $2`,
      [agencyCode, billCode],
    )
  ).map((s) => [BigInt(s.start_number), BigInt(s.end_number)] as const);
  return (number) => {
    const n = BigInt(number);
    return segments.some(([start, end]) => start <= n && n <= end);
  };
}

async function supervisedNumbers(
  db: SqlExecutor,
  agencyCode: string,
  report: AuditReportRequest,
): Promise<Map<string, SupervisedNumber>> {
  const { from, to } = chinaPeriod(report.periodStart, report.periodEnd);
  const rows = await db.query<{ number: string; voided: boolean; in_period: boolean }>(
    `SELECT number, voided, (issued_at >= $3 AND issued_at < $4) AS in_period FROM receipt
     WHERE agency_code = $1 AND bill_code = $2 AND outcome = 'SUPERVISED'`,
    [agencyCode, report.billCode, from, to],
  );
  return new Map(
    rows.map((r) => [r.number, { number: r.number, voided: r.voided, issuedInPeriod: r.in_period }]),
  );
}
