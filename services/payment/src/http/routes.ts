import { agencyCode, bizSerialNo, paymentApi, paymentCode } from "@piaoju/contracts";
import { AppError, authenticateCaller, type Caller, parseInput, requireAgency } from "@piaoju/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { setChannelAccount } from "../app/accounts.ts";
import { rePushCallbacks, setCallbackTarget } from "../app/callbacks.ts";
import { closePayment } from "../app/close-payment.ts";
import type { PaymentContext } from "../app/context.ts";
import { createPayment } from "../app/create-payment.ts";
import { dayEndSteps } from "../app/dayend.ts";
import { takeNotify } from "../app/notify.ts";
import { openOrder, orderView } from "../app/open-order.ts";
import { reconcileDay } from "../app/reconcile.ts";
import { RECEIPT_LEG, reconcileReceipts } from "../app/reconcile-receipts.ts";
import { type RefundRow, refundView, requestRefund } from "../app/refunds.ts";
import type { OrderRow, PaymentRow } from "../app/rows.ts";
import { statementCsv, statementXlsx, unifiedStatement } from "../app/statement.ts";
import { viewOf } from "../app/views.ts";
import { isValidPaymentCode } from "../domain/payment-code.ts";

const day = z.iso.date();
// The shared rule (packages/contracts): serials are kept in capitals, as issuance keeps them, so a
// payment and its receipt meet under the same serial.
const serial = bizSerialNo;
const paymentId = z.object({ id: z.uuid() });

// The bodies are the payment API's (packages/contracts), checked again here: the gateway relays
// only what they parsed, and any other internal caller meets the same rules.
const createBody = paymentApi.createPaymentCommand;

/** Internal API of the payment service; the gateway fronts the business systems' part of it. */
export function registerPaymentRoutes(
  http: FastifyInstance,
  ctx: PaymentContext,
  internalToken: string,
): void {
  const caller = (req: Parameters<typeof authenticateCaller>[0]) => authenticateCaller(req, internalToken);
  const load = async (c: Caller, id: string): Promise<PaymentRow> => {
    const [row] = await ctx.db.query<PaymentRow>("SELECT * FROM payment WHERE id = $1", [id]);
    if (!row) throw new AppError("not_found", `no payment ${id}`, { code: "PAYMENT_NOT_FOUND" });
    requireAgency(c, row.agency_code);
    return row;
  };

  http.post("/v1/payments", async (req, reply) => {
    const c = caller(req);
    const body = parseInput(createBody, req.body, "body");
    requireAgency(c, body.agencyCode);
    const { created, payment } = await createPayment(ctx, c.actor, body);
    return reply.status(created ? 201 : 200).send(payment);
  });

  http.get("/v1/payments", async (req) => {
    const c = caller(req);
    const q = parseInput(z.object({ agencyCode, bizSerialNo: serial }), req.query, "query");
    requireAgency(c, q.agencyCode);
    const rows = await ctx.db.query<PaymentRow>(
      "SELECT * FROM payment WHERE agency_code = $1 AND biz_serial_no = $2",
      [q.agencyCode, q.bizSerialNo],
    );
    return { items: rows.map((r) => viewOf(ctx, r)) };
  });

  http.get("/v1/payments/by-code/:paymentCode", async (req) => {
    const c = caller(req);
    const { paymentCode: code } = parseInput(z.object({ paymentCode }), req.params, "params");
    if (!isValidPaymentCode(code)) {
      throw AppError.validation([
        {
          field: "params.paymentCode",
          rule: "check_digit",
          message: "the payment code's check digit is wrong",
        },
      ]);
    }
    const [row] = await ctx.db.query<PaymentRow>("SELECT * FROM payment WHERE payment_code = $1", [code]);
    if (!row) throw new AppError("not_found", `no payment with code ${code}`, { code: "PAYMENT_NOT_FOUND" });
    requireAgency(c, row.agency_code);
    return viewOf(ctx, row);
  });

  http.get("/v1/payments/:id", async (req) => {
    const c = caller(req);
    const { id } = parseInput(paymentId, req.params, "params");
    return viewOf(ctx, await load(c, id));
  });

  http.get("/v1/payments/:id/qr-url", async (req) => {
    const c = caller(req);
    const { id } = parseInput(paymentId, req.params, "params");
    const view = viewOf(ctx, await load(c, id));
    return {
      paymentId: view.id,
      paymentCode: view.paymentCode,
      qrUrl: view.qrUrl,
      amountDue: view.amountDue,
    };
  });

  http.get("/v1/payments/:id/orders", async (req) => {
    const c = caller(req);
    const { id } = parseInput(paymentId, req.params, "params");
    await load(c, id);
    const rows = await ctx.db.query<OrderRow>(
      "SELECT * FROM payment_order WHERE payment_id = $1 ORDER BY opened_at",
      [id],
    );
    return { items: rows.map(orderView) };
  });

  http.post("/v1/payments/:id/orders", async (req, reply) => {
    const c = caller(req);
    const { id } = parseInput(paymentId, req.params, "params");
    const body = parseInput(
      z.object({
        channel: z.string().min(1).max(32),
        scene: z.enum(["qr", "wap"]),
        expectedAmountFen: z.number().int().nonnegative(),
        returnUrl: z.url().optional(),
        payerIp: z.union([z.ipv4(), z.ipv6()]).optional(),
      }),
      req.body,
      "body",
    );
    await load(c, id);
    return reply.status(201).send(await openOrder(ctx, c.actor, id, body));
  });

  http.post("/v1/payments/:id/close", async (req) => {
    const c = caller(req);
    const { id } = parseInput(paymentId, req.params, "params");
    const body = parseInput(paymentApi.closePaymentBody, req.body, "body");
    await load(c, id);
    return closePayment(ctx, c.actor, id, body.reason);
  });

  http.post("/v1/payments/:id/refunds", async (req, reply) => {
    const c = caller(req);
    const { id } = parseInput(paymentId, req.params, "params");
    const body = parseInput(paymentApi.refundBody, req.body, "body");
    await load(c, id);
    const { created, refund } = await requestRefund(ctx, c.actor, id, body);
    return reply.status(created ? 201 : 200).send(refund);
  });

  http.get("/v1/payments/:id/refunds", async (req) => {
    const c = caller(req);
    const { id } = parseInput(paymentId, req.params, "params");
    await load(c, id);
    const rows = await ctx.db.query<RefundRow>(
      "SELECT * FROM payment_refund WHERE payment_id = $1 ORDER BY created_at, id",
      [id],
    );
    return { items: rows.map(refundView) };
  });

  // 日终对账: an operator (or the day-end job) matches a channel's statement of a day.
  http.post("/v1/payment/reconciliations", async (req) => {
    const c = caller(req);
    if (c.actor.startsWith("app:")) {
      throw new AppError("forbidden", "a business system does not reconcile", { code: "FORBIDDEN" });
    }
    const body = parseInput(
      z.object({ agencyCode, channel: z.string().min(1).max(32), businessDay: day }),
      req.body,
      "body",
    );
    requireAgency(c, body.agencyCode);
    // The three-way match (channel ↔ payment ↔ receipt) is run by naming its leg as the channel.
    if (body.channel === RECEIPT_LEG) {
      return reconcileReceipts(ctx, c.actor, {
        agencyCode: body.agencyCode,
        businessDay: body.businessDay,
        graceMs: ctx.receiptGraceMs ?? 30 * 60_000,
      });
    }
    return reconcileDay(ctx, c.actor, body);
  });

  // The day's whole work list: every channel's findings and the three-way match's, one list.
  http.get("/v1/payment/reconciliations/:businessDay/differences", async (req) => {
    const c = caller(req);
    const p = parseInput(z.object({ businessDay: day }), req.params, "params");
    const q = parseInput(z.object({ agencyCode }), req.query, "query");
    requireAgency(c, q.agencyCode);
    const rows = await ctx.db.query<Record<string, unknown>>(
      `SELECT channel, kind, subject, order_id, refund_id, payment_id, receipt_id, channel_trade_no, our_fen,
              channel_fen, resolution FROM payment_difference WHERE agency_code = $1 AND business_day = $2
        ORDER BY channel, id`,
      [q.agencyCode, p.businessDay],
    );
    const steps = await dayEndSteps(ctx, p.businessDay, q.agencyCode);
    return {
      items: rows.map((r) => ({
        leg: r.channel === RECEIPT_LEG ? "receipt" : "channel",
        channel: r.channel,
        kind: r.kind,
        subject: r.subject,
        orderId: r.order_id ?? undefined,
        refundId: r.refund_id ?? undefined,
        paymentId: r.payment_id ?? undefined,
        receiptId: r.receipt_id ?? undefined,
        channelTradeNo: r.channel_trade_no ?? undefined,
        ourFen: r.our_fen === null ? undefined : Number(r.our_fen),
        // The channel's figure for a channel finding, the receipt's for a three-way one.
        otherFen: r.channel_fen === null ? undefined : Number(r.channel_fen),
        resolution: r.resolution,
      })),
      dayEnd: steps,
    };
  });

  // 统一对账单: an agency's day across channels, as JSON, CSV (UTF-8 with BOM) or xlsx.
  http.get("/v1/payment/statements/:businessDay", async (req, reply) => {
    const c = caller(req);
    const p = parseInput(z.object({ businessDay: day }), req.params, "params");
    const q = parseInput(
      z.object({ agencyCode, format: z.enum(["json", "csv", "xlsx"]).default("json") }),
      req.query,
      "query",
    );
    requireAgency(c, q.agencyCode);
    const statement = await unifiedStatement(ctx, { agencyCode: q.agencyCode, businessDay: p.businessDay });
    if (q.format === "json") return statement;
    const file = `statement-${q.agencyCode}-${p.businessDay}.${q.format}`;
    reply.header("content-disposition", `attachment; filename="${file}"`).header("cache-control", "no-store");
    if (q.format === "csv") return reply.type("text/csv; charset=utf-8").send(statementCsv(statement));
    return reply
      .type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
      .send(await statementXlsx(statement));
  });

  http.get("/v1/payment/reconciliations/:channel/:businessDay/differences", async (req) => {
    const c = caller(req);
    const p = parseInput(
      z.object({ channel: z.string().min(1).max(32), businessDay: day }),
      req.params,
      "params",
    );
    const q = parseInput(z.object({ agencyCode }), req.query, "query");
    requireAgency(c, q.agencyCode);
    const rows = await ctx.db.query<Record<string, unknown>>(
      `SELECT kind, subject, order_id, refund_id, channel_trade_no, our_fen, channel_fen, resolution, found_at
         FROM payment_difference WHERE agency_code = $1 AND channel = $2 AND business_day = $3 ORDER BY id`,
      [q.agencyCode, p.channel, p.businessDay],
    );
    return {
      items: rows.map((r) => ({
        kind: r.kind,
        subject: r.subject,
        orderId: r.order_id ?? undefined,
        refundId: r.refund_id ?? undefined,
        channelTradeNo: r.channel_trade_no ?? undefined,
        ourFen: r.our_fen === null ? undefined : Number(r.our_fen),
        channelFen: r.channel_fen === null ? undefined : Number(r.channel_fen),
        resolution: r.resolution,
      })),
    };
  });

  http.post("/v1/payments/:id/callbacks/re-push", async (req) => {
    const c = caller(req);
    const { id } = parseInput(paymentId, req.params, "params");
    await load(c, id);
    return { queued: await rePushCallbacks(ctx, c.actor, id) };
  });

  http.put("/v1/payment/callback-targets/:appId", async (req) => {
    const c = caller(req);
    const { appId } = parseInput(
      z.object({ appId: z.string().regex(/^[\w.-]{1,64}$/) }),
      req.params,
      "params",
    );
    const body = parseInput(paymentApi.callbackTargetCommand, req.body, "body");
    requireAgency(c, body.agencyCode);
    // A business system sets its own target only.
    if (c.actor.startsWith("app:") && c.actor !== `app:${appId}`) {
      throw new AppError("forbidden", `${c.actor} may not set another app's callback target`, {
        code: "NOT_YOUR_APP",
      });
    }
    await setCallbackTarget(ctx, c.actor, { ...body, appId });
    return { agencyCode: body.agencyCode, appId, url: body.url };
  });

  http.put("/v1/payment/channel-accounts/:channel", async (req) => {
    const c = caller(req);
    const { channel } = parseInput(z.object({ channel: z.string().min(1).max(32) }), req.params, "params");
    if (!ctx.channels.has(channel)) {
      throw AppError.validation([
        { field: "params.channel", rule: "enum", message: `no channel ${channel}` },
      ]);
    }
    if (c.actor.startsWith("app:")) {
      throw new AppError("forbidden", "a business system does not set channel accounts", {
        code: "FORBIDDEN",
      });
    }
    const body = parseInput(
      z.object({
        agencyCode,
        accountId: z.string().min(1).max(64),
        config: z.record(z.string().regex(/^[A-Za-z]\w{0,31}$/), z.string().max(8192)),
      }),
      req.body,
      "body",
    );
    requireAgency(c, body.agencyCode);
    return setChannelAccount(ctx, c.actor, { ...body, channel });
  });

  // Channels' notifies: no internal token (the channel calls from outside), the signature is the
  // authentication. Bodies are kept as the raw text in this scope only (the signature covers those
  // exact bytes: Alipay's form, WeChat Pay's JSON); each adapter reads its own.
  void http.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
      done(null, String(body));
    });
    const notifyParams = z.object({
      channel: z.string().min(1).max(32),
      accountId: z
        .string()
        .regex(/^[\w.-]{1,64}$/)
        .optional(),
    });
    const take = async (req: FastifyRequest, reply: FastifyReply) => {
      const { channel, accountId } = parseInput(notifyParams, req.params, "params");
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        headers[name.toLowerCase()] = Array.isArray(value) ? value[0] : value;
      }
      const result = await takeNotify(ctx, channel, {
        body: typeof req.body === "string" ? req.body : "",
        headers,
        pathAccountId: accountId,
      });
      if (result.forged) req.log.warn({ channel }, "a notify whose signature does not verify was refused");
      const r = result.reply;
      if (r.status === 204) return reply.status(204).send();
      return reply.status(r.status).type(r.contentType).send(r.body);
    };
    scope.post("/v1/payment/notify/:channel", take);
    // WeChat Pay: the notify names its merchant only inside the ciphertext; the URL names it.
    scope.post("/v1/payment/notify/:channel/:accountId", take);
  });
}
