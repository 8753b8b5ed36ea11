import { AppError } from "@piaoju/runtime";
import type { NontaxRefund, NontaxRefundRequest, NontaxRefundResult } from "../api.ts";
import { iso, type SimContext } from "./context.ts";

type Row = Record<string, unknown>;

/**
 * 退付申请: the agency applies for a refund of a paid notice, by the original route. A REFUND
 * (the payer's, full or partial) is of the trade that paid the notice and never more than it
 * paid, counting every application not rejected; a DUPLICATE is of another trade (a second
 * payment of the same notice). Idempotent by the agency's refund id. Approved at once when the
 * simulator auto-approves, else it waits for the finance officer (admin approve / reject).
 */
export async function applyRefund(
  ctx: SimContext,
  agencyCode: string,
  paymentCode: string,
  input: NontaxRefundRequest,
): Promise<{ created: boolean; refund: NontaxRefund }> {
  return ctx.db.transaction(async (tx) => {
    const [notice] = await tx.query<Row>(
      "SELECT * FROM nontax_notice WHERE payment_code = $1 AND agency_code = $2 FOR UPDATE",
      [paymentCode, agencyCode],
    );
    if (!notice) throw new AppError("not_found", `no notice ${paymentCode}`, { code: "UNKNOWN_NOTICE" });
    const [existing] = await tx.query<Row>("SELECT * FROM nontax_refund WHERE refund_id = $1", [
      input.refundId,
    ]);
    if (existing) {
      if (
        existing.payment_code !== paymentCode ||
        Number(existing.amount_fen) !== input.amountFen ||
        existing.channel_trade_no !== input.channelTradeNo
      ) {
        throw new AppError("conflict", `refund ${input.refundId} was applied for otherwise`, {
          code: "REFUND_CONFLICT",
        });
      }
      return { created: false, refund: refundOf(existing) };
    }
    if (input.kind === "REFUND") {
      if (notice.status !== "PAID" || notice.channel_trade_no !== input.channelTradeNo) {
        throw new AppError(
          "conflict",
          `notice ${paymentCode} was not paid by trade ${input.channelTradeNo}`,
          {
            code: "NOT_PAID_BY_TRADE",
          },
        );
      }
      const [sum] = await tx.query<{ total: string | number | null }>(
        "SELECT COALESCE(SUM(amount_fen), 0) AS total FROM nontax_refund WHERE payment_code = $1 AND kind = 'REFUND' AND status <> 'REJECTED'",
        [paymentCode],
      );
      if (Number(sum?.total ?? 0) + input.amountFen > Number(notice.paid_fen)) {
        throw new AppError(
          "conflict",
          `refunds of notice ${paymentCode} would exceed the ${String(notice.paid_fen)} fen paid`,
          { code: "REFUND_EXCEEDS_PAID" },
        );
      }
    } else if (notice.channel_trade_no === input.channelTradeNo) {
      throw new AppError(
        "conflict",
        `trade ${input.channelTradeNo} is the notice's payment, not a duplicate`,
        {
          code: "NOT_A_DUPLICATE",
        },
      );
    }
    const now = new Date();
    const [row] = await tx.query<Row>(
      `INSERT INTO nontax_refund (refund_id, payment_code, agency_code, kind, channel, channel_trade_no, amount_fen,
         reason, status, decided_at, created_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING *`,
      [
        input.refundId,
        paymentCode,
        agencyCode,
        input.kind,
        input.channel,
        input.channelTradeNo,
        input.amountFen,
        input.reason,
        ctx.autoApprove ? "APPROVED" : "PENDING",
        ctx.autoApprove ? now : null,
        now,
      ],
    );
    return { created: true, refund: refundOf(row!) };
  });
}

export async function readRefund(
  ctx: SimContext,
  agencyCode: string,
  refundId: string,
): Promise<NontaxRefund> {
  const [row] = await ctx.db.query<Row>(
    "SELECT * FROM nontax_refund WHERE refund_id = $1 AND agency_code = $2",
    [refundId, agencyCode],
  );
  if (!row) throw new AppError("not_found", `no refund ${refundId}`, { code: "UNKNOWN_REFUND" });
  return refundOf(row);
}

/** 退付结果: the agency reports the channel paid the approved refund back. Repeats answer the same. */
export async function recordRefundResult(
  ctx: SimContext,
  agencyCode: string,
  refundId: string,
  input: NontaxRefundResult,
): Promise<NontaxRefund> {
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx.query<Row>(
      "SELECT * FROM nontax_refund WHERE refund_id = $1 AND agency_code = $2 FOR UPDATE",
      [refundId, agencyCode],
    );
    if (!row) throw new AppError("not_found", `no refund ${refundId}`, { code: "UNKNOWN_REFUND" });
    if (row.status === "REFUNDED") return refundOf(row);
    if (row.status !== "APPROVED") {
      throw new AppError(
        "conflict",
        `refund ${refundId} is ${String(row.status).toLowerCase()}, not approved`,
        {
          code: "REFUND_NOT_APPROVED",
        },
      );
    }
    const [done] = await tx.query<Row>(
      "UPDATE nontax_refund SET status = 'REFUNDED', channel_refund_no = $2, refunded_at = $3 WHERE refund_id = $1 RETURNING *",
      [refundId, input.channelRefundNo, input.refundedAt],
    );
    return refundOf(done!);
  });
}

export async function listRefunds(ctx: SimContext, status?: string): Promise<NontaxRefund[]> {
  const rows = await ctx.db.query<Row>(
    `SELECT * FROM nontax_refund ${status ? "WHERE status = $1" : ""} ORDER BY created_at`,
    status ? [status] : [],
  );
  return rows.map(refundOf);
}

/** The finance officer's decision on a pending application. */
export async function decideRefund(
  ctx: SimContext,
  refundId: string,
  decision: "APPROVED" | "REJECTED",
  note?: string,
): Promise<NontaxRefund> {
  const [row] = await ctx.db.query<Row>(
    "UPDATE nontax_refund SET status = $2, decision_note = $3, decided_at = $4 WHERE refund_id = $1 AND status = 'PENDING' RETURNING *",
    [refundId, decision, note ?? null, new Date()],
  );
  if (!row)
    throw new AppError("conflict", `refund ${refundId} is not pending`, { code: "REFUND_NOT_PENDING" });
  return refundOf(row);
}

function refundOf(r: Row): NontaxRefund {
  return {
    refundId: String(r.refund_id),
    paymentCode: String(r.payment_code),
    kind: r.kind as NontaxRefund["kind"],
    channel: String(r.channel),
    channelTradeNo: String(r.channel_trade_no),
    amountFen: Number(r.amount_fen),
    reason: String(r.reason),
    status: r.status as NontaxRefund["status"],
    ...(r.decision_note ? { decisionNote: String(r.decision_note) } : {}),
    ...(r.channel_refund_no ? { channelRefundNo: String(r.channel_refund_no) } : {}),
    createdAt: iso(r.created_at),
  };
}
