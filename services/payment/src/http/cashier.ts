import rateLimit from "@fastify/rate-limit";
import { fenToChineseUpper } from "@piaoju/locale";
import { AppError, parseInput, postgresRateLimitStore } from "@piaoju/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { PaymentContext } from "../app/context.ts";
import { openOrder } from "../app/open-order.ts";
import type { PaymentRow } from "../app/rows.ts";
import { qrUrlOf, viewOf } from "../app/views.ts";
import { cashierKey, openCashierToken } from "../domain/cashier-token.ts";
import { CASHIER_HTML, CASHIER_JS, NOT_FOUND_HTML } from "./cashier-page.ts";

export interface CashierOptions {
  /** Requests per minute per client address on the cashier (page, script and API together). */
  rateLimit: number;
  /** CSP frame-ancestors: the sites that may embed the cashier ("*" or a list of origins). */
  frameAncestors: string;
}

/** The order the channels are offered in, when the agency enabled them. */
const CHANNEL_ORDER = ["alipay", "wechat", "unionpay"];

const PAYER_WORDS: Record<string, string> = {
  ALREADY_PAID: "this payment is already paid",
  PAYMENT_CLOSED: "this payment is closed",
  AMOUNT_DUE_CHANGED: "the amount due has changed: confirm the new amount",
  CHANNEL_NOT_ENABLED: "this channel is not offered here",
  CHANNEL_UNAVAILABLE: "the channel did not answer: try again",
  CHANNEL_REFUSED: "the channel refused the order: try another or later",
};

const tokenParams = z.object({ token: z.string().min(1).max(100) });
const handoverParams = z.object({
  token: z.string().min(1).max(100),
  orderId: z.string().regex(/^[0-9A-Za-z]{8,40}$/),
});
const orderBody = z.strictObject({
  channel: z.string().min(1).max(32),
  expectedAmountFen: z.number().int().nonnegative().max(1e12),
});

/**
 * The cashier (缴款挂件 / 收银台): the payer's page for one payment and its small JSON API, with no
 * internal token. The payment is named by an unguessable token (cashier-token.ts), never by its
 * id, payment code or decision number; a token that is not ours is a plain 404, the same for
 * every kind of wrong. The answers carry only what the payer needs (name masked, no id, no
 * payer code or phone); everything is rate-limited per client address, like delivery's H5.
 */
export async function registerCashier(
  http: FastifyInstance,
  ctx: PaymentContext,
  options: CashierOptions,
): Promise<void> {
  const key = cashierKey(ctx.sealKey);
  await http.register(async (scope) => {
    await scope.register(rateLimit, {
      max: options.rateLimit,
      timeWindow: 60_000,
      ...(ctx.db.kind === "postgres" ? { store: postgresRateLimitStore(ctx.db) } : {}),
      errorResponseBuilder: () =>
        Object.assign(new Error("too many requests: wait a minute"), {
          statusCode: 429,
          code: "RATE_LIMITED",
        }),
    });
    scope.addHook("onSend", async (_req, reply) => {
      reply.header("cache-control", "no-store");
      reply.header("referrer-policy", "no-referrer");
      reply.header("x-content-type-options", "nosniff");
    });

    const paymentOf = async (req: FastifyRequest): Promise<PaymentRow> => {
      const { token } = parseInput(tokenParams, req.params, "params");
      const id = openCashierToken(key, token);
      const [row] = id ? await ctx.db.query<PaymentRow>("SELECT * FROM payment WHERE id = $1", [id]) : [];
      // One answer for every wrong token: malformed, forged, or a payment that is gone.
      if (!row) throw new AppError("not_found", "not found", { code: "CASHIER_LINK_INVALID" });
      return row;
    };

    // UnionPay sends the payer back to frontUrl (the cashier's link) by a form POST of the signed
    // result (前台通知): nothing is read from it (the backUrl notify or a query settles the payment),
    // the browser is sent on to the page. Any wrong link: the same bare 404 page.
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 65_536 },
      (_req, body, done) => done(null, String(body)),
    );
    scope.post("/h5/pay/:token", async (req, reply) => {
      const params = tokenParams.safeParse(req.params);
      const id = params.success ? openCashierToken(key, params.data.token) : undefined;
      if (!params.success || !id) {
        return reply
          .status(404)
          .type("text/html; charset=utf-8")
          .header(
            "content-security-policy",
            `default-src 'none'; style-src 'unsafe-inline'; frame-ancestors ${options.frameAncestors}`,
          )
          .send(NOT_FOUND_HTML);
      }
      return reply.redirect(`/h5/pay/${encodeURIComponent(params.data.token)}`, 303);
    });

    scope.get("/h5/pay/cashier.js", async (_req, reply) =>
      reply.type("text/javascript; charset=utf-8").send(CASHIER_JS),
    );

    scope.get("/h5/pay/:token", async (req, reply) => {
      const { token } = parseInput(tokenParams, req.params, "params");
      const id = openCashierToken(key, token);
      const [row] = id
        ? await ctx.db.query<{ id: string }>("SELECT id FROM payment WHERE id = $1", [id])
        : [];
      const csp = `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors ${options.frameAncestors}`;
      if (!row) {
        return reply
          .status(404)
          .type("text/html; charset=utf-8")
          .header("content-security-policy", csp)
          .send(NOT_FOUND_HTML);
      }
      return reply.type("text/html; charset=utf-8").header("content-security-policy", csp).send(CASHIER_HTML);
    });

    // The hand-over to a channel whose H5 pay page is a form POST (UnionPay's frontTransReq): a
    // page of ours holding the signed fields, whose one button posts them to the channel. Its CSP
    // lets a form go to that channel's address only; an order not of this payment is a plain 404.
    scope.get("/h5/pay/:token/go/:orderId", async (req, reply) => {
      const params = handoverParams.safeParse(req.params);
      const notFound = () =>
        reply
          .status(404)
          .type("text/html; charset=utf-8")
          .header(
            "content-security-policy",
            `default-src 'none'; style-src 'unsafe-inline'; frame-ancestors ${options.frameAncestors}`,
          )
          .send(NOT_FOUND_HTML);
      // Every kind of wrong (a malformed link, another payment's order) is the same bare 404 page.
      const row = params.success ? await paymentOf(req).catch(() => undefined) : undefined;
      if (!row || !params.success) return notFound();
      const { orderId } = params.data;
      const [order] = await ctx.db.query<{ channel: string; pay_target: string | null }>(
        "SELECT channel, pay_target FROM payment_order WHERE id = $1 AND payment_id = $2 AND status = 'OPEN' AND scene = 'wap'",
        [orderId, row.id],
      );
      if (!order?.pay_target || !ctx.channels.get(order.channel)?.wapFormPost) return notFound();
      const target = new URL(order.pay_target);
      return reply
        .type("text/html; charset=utf-8")
        .header(
          "content-security-policy",
          `default-src 'none'; style-src 'unsafe-inline'; form-action ${target.origin}; frame-ancestors ${options.frameAncestors}`,
        )
        .send(handoverHtml(`${target.origin}${target.pathname}`, [...target.searchParams]));
    });

    scope.get("/h5/pay/api/:token", async (req) => {
      const row = await paymentOf(req);
      return cashierView(ctx, row);
    });

    // The payer confirmed the amount shown and chose a channel: an H5 order at that channel, and
    // the page goes to the channel's pay page; the channel sends the payer back to the cashier.
    scope.post("/h5/pay/api/:token/orders", async (req, reply) => {
      const row = await paymentOf(req);
      const body = parseInput(orderBody, req.body, "body");
      if (!(await enabledChannels(ctx, row.agency_code)).includes(body.channel)) {
        throw new AppError("conflict", `${body.channel} is not offered here`, {
          code: "CHANNEL_NOT_ENABLED",
        });
      }
      const order = await openOrder(ctx, "payer:cashier", row.id, {
        channel: body.channel,
        scene: "wap",
        expectedAmountFen: body.expectedAmountFen,
        returnUrl: qrUrlOf(ctx, row.id),
        payerIp: payerAddress(req.ip),
      }).catch((error: unknown) => {
        // The service's own words name the payment's id; the payer gets the code and a plain sentence.
        if (error instanceof AppError) {
          throw new AppError(error.kind, PAYER_WORDS[error.code] ?? "the payment cannot be paid now", {
            code: error.code,
            ...(error.details.issues ? { issues: error.details.issues } : {}),
          });
        }
        throw error;
      });
      const target = order.payTarget ?? "";
      if (!/^https?:\/\//.test(target)) {
        throw new AppError("unavailable", `${body.channel} gave no pay page; try again`, {
          code: "CHANNEL_UNAVAILABLE",
        });
      }
      // A form the browser must post: our hand-over page holds it (the cashier's CSP posts to us only).
      const payUrl = ctx.channels.get(order.channel)?.wapFormPost
        ? `${ctx.publicUrl()}/h5/pay/${encodeURIComponent(parseInput(tokenParams, req.params, "params").token)}/go/${order.orderId}`
        : target;
      return reply.status(201).send({ channel: order.channel, amountFen: order.amountFen, payUrl });
    });
  });
}

async function enabledChannels(ctx: PaymentContext, agencyCode: string): Promise<string[]> {
  const rows = await ctx.db.query<{ channel: string }>(
    "SELECT channel FROM channel_account WHERE agency_code = $1",
    [agencyCode],
  );
  const enabled = new Set(rows.map((r) => r.channel));
  return CHANNEL_ORDER.filter((c) => enabled.has(c) && ctx.channels.has(c));
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The hand-over page: the channel's signed fields as hidden inputs, posted by the payer's tap. */
function handoverHtml(action: string, fields: Array<[string, string]>): string {
  const inputs = fields
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join("\n");
  return `<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>前往银联支付</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; text-align: center">
<p>即将前往银联在线支付页面完成付款。<br>You are going to UnionPay's page to pay.</p>
<form method="post" action="${escapeHtml(action)}" accept-charset="UTF-8">
${inputs}
<button id="go" type="submit" style="font-size: 1.1rem; padding: .7rem 2rem">前往银联支付 Go to UnionPay</button>
</form>
</body>
</html>`;
}

/** An IPv4 client seen through a dual-stack socket is named as IPv4 (WeChat Pay's payer_client_ip). */
function payerAddress(ip: string): string | undefined {
  const v4 = ip.replace(/^::ffff:/, "");
  return z.union([z.ipv4(), z.ipv6()]).safeParse(v4).success ? v4 : undefined;
}

/** What the payer sees of a payment: the notice, the amount due now, the channels, the outcome. */
async function cashierView(ctx: PaymentContext, row: PaymentRow) {
  const v = viewOf(ctx, row);
  const open = v.status === "CREATED" || v.status === "PAYING";
  const totalFen = v.paid ? v.paid.paidFen : v.amountDue.totalFen;
  const receipt = v.receipt as
    | { pickupUrl?: string; billCode?: string; number?: string; checkCode?: string }
    | undefined;
  return {
    status: v.status,
    noticeNo: v.noticeNo,
    paymentCode: v.paymentCode,
    ...(v.decisionNo ? { decisionNo: v.decisionNo } : {}),
    payerName: maskName(v.payerName),
    items: v.items.map((i) => ({ itemCode: i.itemCode, quantity: i.quantity, amountFen: i.amountFen })),
    ...(v.deadline ? { deadline: v.deadline } : {}),
    amountDue: {
      principalFen: v.amountDue.principalFen,
      surchargeFen: v.paid ? v.paid.surchargeFen : v.amountDue.surchargeFen,
      totalFen,
      totalUpper: fenToChineseUpper(BigInt(totalFen)),
      daysLate: v.amountDue.daysLate,
      asOf: v.amountDue.businessDay,
    },
    channels: open ? await enabledChannels(ctx, row.agency_code) : [],
    ...(v.paid ? { paid: { paidAt: v.paid.paidAt, paidFen: v.paid.paidFen } } : {}),
    ...(receipt?.pickupUrl
      ? {
          receipt: {
            pickupUrl: pickupLink(receipt.pickupUrl, receipt),
            billCode: receipt.billCode,
            number: receipt.number,
            checkCode: receipt.checkCode,
          },
        }
      : {}),
  };
}

/**
 * The pick-up page, opened on this receipt: delivery's page reads a receipt's QR text from the
 * fragment (which a browser never sends to a server) and looks it up by code, number and check
 * code, so the payer lands on their receipt without typing anything.
 */
function pickupLink(url: string, r: { billCode?: string; number?: string; checkCode?: string }): string {
  if (!r.billCode || !r.number || !r.checkCode) return url;
  const qr = `CZ-EI-${r.billCode.slice(0, 2)},${r.billCode},${r.number},${r.checkCode}`;
  return `${url}#qr=${encodeURIComponent(qr)}`;
}

/** 王小明 → 王*明, 李四 → 李*: enough for the payer to recognise, little for anyone else. */
export function maskName(name: string): string {
  const chars = [...name];
  if (chars.length <= 1) return name;
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}${"*".repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}
