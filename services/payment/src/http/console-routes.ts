import { agencyCode, freeText } from "@piaoju/contracts";
import { authenticateCaller, type Caller, parseInput, requireAgency } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { PaymentContext } from "../app/context.ts";
import { unsealJson } from "../app/context.ts";
import { listDifferences, markHandled, requireWholeAgency, resendInstruction } from "../app/handling.ts";
import { type RefundRow, refundView } from "../app/refunds.ts";
import type { PaymentRow } from "../app/rows.ts";
import { maskName } from "./cashier.ts";

const day = z.iso.date();
const paging = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};
const range = { from: day.optional(), to: day.optional() };
/** A person's reason for a decision (handled, re-sent): required, kept in the audit log. */
const decision = z.strictObject({ agencyCode, note: freeText(500, { required: true }) });
const rowId = z.object({ id: z.string().regex(/^[1-9][0-9]{0,17}$/, "a difference's id: digits") });

/** A business day's first instant in Asia/Shanghai (the platform's day), and the next day's. */
const dayStart = (d: string) => new Date(`${d}T00:00:00+08:00`);
const dayAfter = (d: string) => new Date(dayStart(d).getTime() + 86_400_000);

/**
 * The finance office's lists (财务: 缴款查询, 退款, 日终对账), for the admin console: the payments
 * of an agency over days (the payer's name masked: the detail route has it whole for whoever may
 * read the payment), the refunds with their approval state, and the day-end reconciliations of
 * each channel. Read-only; reach by issuing point as the caller's grant has it.
 */
export function registerPaymentConsoleRoutes(
  http: FastifyInstance,
  ctx: PaymentContext,
  internalToken: string,
): void {
  /** The issuing points the caller's grant reaches in the agency: null = all of them. */
  const pointsOf = (c: Caller, agency: string): string[] | null => {
    const reach = c.access && c.permission ? c.access.reach(c.permission, agency) : undefined;
    if (!reach || reach.points === "*") return reach?.ownOnly ? [] : null;
    return [...reach.points];
  };

  http.get("/v1/payment/payments", async (req) => {
    const c = authenticateCaller(req, internalToken);
    const q = parseInput(
      z
        .object({
          agencyCode,
          status: z
            .enum(["CREATED", "PAYING", "PAID", "CLOSED", "FAILED", "REFUNDING", "REFUNDED"])
            .optional(),
          /** A notice number, payment code, business serial or decision number, exactly. */
          number: z.string().trim().min(1).max(64).optional(),
          ...range,
          ...paging,
        })
        .refine((v) => !v.from || !v.to || v.from <= v.to, {
          message: "from must not be after to",
          path: ["to"],
        }),
      req.query,
      "query",
    );
    requireAgency(c, q.agencyCode);
    const where: string[] = ["agency_code = $1"];
    const args: unknown[] = [q.agencyCode];
    const add = (sql: string, value: unknown) => {
      args.push(value);
      where.push(sql.replace("?", `$${args.length}`));
    };
    if (q.status) add("status = ?", q.status);
    if (q.number) {
      args.push(q.number);
      const n = `$${args.length}`;
      where.push(
        `(notice_no = ${n} OR payment_code = ${n} OR biz_serial_no = upper(${n}) OR decision_no = ${n})`,
      );
    }
    if (q.from) add("created_at >= ?", dayStart(q.from));
    if (q.to) add("created_at < ?", dayAfter(q.to));
    const points = pointsOf(c, q.agencyCode);
    if (points) add("issuing_point_code = ANY(?)", points);
    const clause = where.join(" AND ");
    const [count] = await ctx.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM payment WHERE ${clause}`,
      args,
    );
    const rows = await ctx.db.query<PaymentRow>(
      `SELECT * FROM payment WHERE ${clause} ORDER BY created_at DESC, id LIMIT ${q.limit} OFFSET ${q.offset}`,
      args,
    );
    return {
      total: Number(count?.n ?? 0),
      items: rows.map((p) => ({
        id: p.id,
        noticeNo: p.notice_no,
        paymentCode: p.payment_code,
        bizSerialNo: p.biz_serial_no,
        ...(p.decision_no ? { decisionNo: p.decision_no } : {}),
        issuingPointCode: p.issuing_point_code,
        payerName: maskName(unsealJson<{ name: string }>(ctx, p.payer_sealed).name),
        principalFen: Number(p.principal_fen),
        status: p.status,
        ...(p.paid_at ? { paidAt: new Date(p.paid_at).toISOString(), paidFen: Number(p.paid_fen) } : {}),
        refundedFen: Number(p.refunded_fen ?? 0),
        createdAt: new Date(p.created_at).toISOString(),
      })),
    };
  });

  http.get("/v1/payment/refunds", async (req) => {
    const c = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({
        agencyCode,
        status: z
          .enum(["APPLYING", "AWAITING_APPROVAL", "APPROVED", "SENT", "REFUNDED", "REJECTED", "FAILED"])
          .optional(),
        ...range,
        ...paging,
      }),
      req.query,
      "query",
    );
    requireAgency(c, q.agencyCode);
    const where: string[] = ["r.agency_code = $1"];
    const args: unknown[] = [q.agencyCode];
    const add = (sql: string, value: unknown) => {
      args.push(value);
      where.push(sql.replace("?", `$${args.length}`));
    };
    if (q.status) add("r.status = ?", q.status);
    if (q.from) add("r.created_at >= ?", dayStart(q.from));
    if (q.to) add("r.created_at < ?", dayAfter(q.to));
    const points = pointsOf(c, q.agencyCode);
    if (points) add("p.issuing_point_code = ANY(?)", points);
    const clause = where.join(" AND ");
    const from = "payment_refund r JOIN payment p ON p.id = r.payment_id";
    const [count] = await ctx.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM ${from} WHERE ${clause}`,
      args,
    );
    const rows = await ctx.db.query<RefundRow & { notice_no: string }>(
      `SELECT r.*, p.notice_no FROM ${from} WHERE ${clause}
        ORDER BY r.created_at DESC, r.id LIMIT ${q.limit} OFFSET ${q.offset}`,
      args,
    );
    return {
      total: Number(count?.n ?? 0),
      items: rows.map((r) => ({ ...refundView(r), noticeNo: r.notice_no, requestedBy: r.requested_by })),
    };
  });

  http.get("/v1/payment/reconciliations", async (req) => {
    const c = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({ agencyCode, channel: z.string().min(1).max(32).optional(), ...range, ...paging }),
      req.query,
      "query",
    );
    requireAgency(c, q.agencyCode);
    const where: string[] = ["agency_code = $1"];
    const args: unknown[] = [q.agencyCode];
    const add = (sql: string, value: unknown) => {
      args.push(value);
      where.push(sql.replace("?", `$${args.length}`));
    };
    if (q.channel) add("channel = ?", q.channel);
    if (q.from) add("business_day >= ?", q.from);
    if (q.to) add("business_day <= ?", q.to);
    const clause = where.join(" AND ");
    const [count] = await ctx.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM payment_reconciliation WHERE ${clause}`,
      args,
    );
    const rows = await ctx.db.query<Record<string, unknown>>(
      `SELECT * FROM payment_reconciliation WHERE ${clause}
        ORDER BY business_day DESC, channel LIMIT ${q.limit} OFFSET ${q.offset}`,
      args,
    );
    return {
      total: Number(count?.n ?? 0),
      items: rows.map((r) => ({
        channel: r.channel,
        businessDay: String(r.business_day),
        matched: Number(r.matched),
        differences: Number(r.differences),
        repaired: Number(r.repaired),
        held: Number(r.held),
        collectedFen: Number(r.collected_fen),
        refundedFen: Number(r.refunded_fen),
        ranAt: new Date(r.ran_at as string).toISOString(),
        ranBy: r.ran_by,
      })),
    };
  });

  // 差异工作台: the open (and handled) differences of channel, three-way and funds arrival reconciliation.
  http.get("/v1/payment/differences", async (req) => {
    const c = authenticateCaller(req, internalToken);
    const q = parseInput(
      z
        .object({
          agencyCode,
          status: z.enum(["OPEN", "HANDLED"]).optional(),
          leg: z.enum(["channel", "receipt", "funds"]).optional(),
          ...range,
          ...paging,
        })
        .refine((v) => !v.from || !v.to || v.from <= v.to, {
          message: "from must not be after to",
          path: ["to"],
        }),
      req.query,
      "query",
    );
    requireAgency(c, q.agencyCode);
    requireWholeAgency(c, q.agencyCode);
    return listDifferences(ctx, q);
  });

  // A person marks a difference handled, with the reason (audited; the day's clearing no longer waits for it).
  for (const [path, source] of [
    ["/v1/payment/differences/:id/handle", "reconciliation"],
    ["/v1/payment/funds-differences/:id/handle", "funds"],
  ] as const) {
    http.post(path, async (req) => {
      const c = authenticateCaller(req, internalToken);
      const { id } = parseInput(rowId, req.params, "params");
      const body = parseInput(decision, req.body, "body");
      requireAgency(c, body.agencyCode);
      requireWholeAgency(c, body.agencyCode);
      return markHandled(ctx, c.actor, { source, id, agencyCode: body.agencyCode, note: body.note });
    });
  }

  // 重新发送: a refused (or parked) clearing instruction goes out again after a person's decision.
  http.post("/v1/payment/clearing-instructions/:id/resend", async (req) => {
    const c = authenticateCaller(req, internalToken);
    const { id } = parseInput(z.object({ id: z.uuid() }), req.params, "params");
    const body = parseInput(decision, req.body, "body");
    requireAgency(c, body.agencyCode);
    requireWholeAgency(c, body.agencyCode);
    return resendInstruction(ctx, c.actor, { id, agencyCode: body.agencyCode, note: body.note });
  });
}
