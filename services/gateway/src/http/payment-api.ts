import type { AssertedIdentity, Permission } from "@piaoju/access";
import { bizSerialNo, paymentApi as bodies } from "@piaoju/contracts";
import { AppError, parseInput, signedJsonBody } from "@piaoju/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Apps, CallingApp } from "../app/apps.ts";
import type { Upstream } from "../app/upstream.ts";

/** What a business system may do through the payment API (never the channel accounts). */
const APP_PAYMENT_PERMISSIONS: readonly Permission[] = [
  "payment.read",
  "payment.collect",
  "payment.callbacks",
];

/**
 * The payment part of the business API (缴款), under /api/v1/payments: the internet service
 * platform and the police business system create a payment notice for a decision, query it,
 * close it, get the QR URL to print on the decision, and set where results are pushed. Signed
 * exactly like the receipts' calls (same headers, same HMAC-SM3 scheme); each call is bound to
 * the app's agency and its issuing points, then relayed to the payment service with that scope.
 */
export async function paymentApi(
  api: FastifyInstance,
  deps: { apps: Apps; upstream: Upstream },
): Promise<void> {
  // Every payment route is signed: the platform's one body reader keeps the bytes on req.rawBody
  // (refusing other content types, bounding size and depth) and the body is read only after the
  // signature over them holds (ADR 0014).
  api.addHook("onRoute", (route) => {
    if (route.url.startsWith("/api/v1/payments")) route.config = { ...route.config, signedBody: true };
  });

  const authenticate = (req: FastifyRequest): Promise<CallingApp> =>
    deps.apps.authenticate(req.headers, {
      method: req.method,
      pathWithQuery: req.url,
      body: req.rawBody ?? Buffer.alloc(0),
    });
  // A business system is asserted with the scope it is registered for (its agency and issuing
  // points), with the payment functions a collecting system needs.
  const caller = (app: CallingApp): AssertedIdentity => ({
    actor: `app:${app.appId}`,
    kind: "app",
    agency: app.agencyCode,
    grants: [
      { permissions: APP_PAYMENT_PERMISSIONS, scope: "points", issuingPoints: [...app.issuingPoints] },
    ],
  });
  const relay = (reply: FastifyReply, res: { status: number; body: unknown }) =>
    reply
      .status(res.status)
      .type(res.status >= 400 ? "application/problem+json" : "application/json")
      .send(res.body);
  const paymentId = z.object({ id: z.uuid() });

  /** The body, read and validated only once the signature over its bytes held. */
  const bodyOf = <S extends z.ZodType>(req: FastifyRequest, schema: S): z.infer<S> =>
    parseInput(schema, signedJsonBody(req) ?? {}, "body");

  api.post(
    "/api/v1/payments",
    {
      schema: {
        summary:
          "Create a payment notice (缴款通知书) and its 20-digit payment code; idempotent by bizSerialNo",
        body: bodies.createPaymentBody,
      },
    },
    async (req, reply) => {
      const app = await authenticate(req);
      const body = bodyOf(req, bodies.createPaymentBody);
      if (!app.issuingPoints.has(body.issuingPointCode)) {
        throw new AppError(
          "forbidden",
          `app ${app.appId} may not take payments at issuing point ${body.issuingPointCode}`,
          { code: "ISSUING_POINT_NOT_ALLOWED" },
        );
      }
      // The command is what the shared schema parsed, and the agency is the app's: nothing else
      // the caller sent reaches the payment service.
      const command: bodies.CreatePaymentCommand = { ...body, agencyCode: app.agencyCode };
      return relay(reply, await deps.upstream.request("POST", "/v1/payments", caller(app), command));
    },
  );

  const bySerial = z.object({ bizSerialNo });
  api.get(
    "/api/v1/payments",
    { schema: { summary: "Find the payment of a business serial number", querystring: bySerial } },
    async (req, reply) => {
      const app = await authenticate(req);
      const q = parseInput(bySerial, req.query, "query");
      const query = new URLSearchParams({ agencyCode: app.agencyCode, bizSerialNo: q.bizSerialNo });
      return relay(reply, await deps.upstream.request("GET", `/v1/payments?${query}`, caller(app)));
    },
  );

  api.get(
    "/api/v1/payments/:id",
    { schema: { summary: "A payment, its notice and its orders", params: paymentId } },
    async (req, reply) => {
      const app = await authenticate(req);
      const { id } = parseInput(paymentId, req.params, "params");
      return relay(reply, await deps.upstream.request("GET", `/v1/payments/${id}`, caller(app)));
    },
  );

  api.get(
    "/api/v1/payments/:id/qr-url",
    {
      schema: {
        summary: "The URL to print as a QR code on the penalty decision (处罚决定书)",
        params: paymentId,
      },
    },
    async (req, reply) => {
      const app = await authenticate(req);
      const { id } = parseInput(paymentId, req.params, "params");
      return relay(reply, await deps.upstream.request("GET", `/v1/payments/${id}/qr-url`, caller(app)));
    },
  );

  api.post(
    "/api/v1/payments/:id/close",
    {
      schema: {
        summary: "Close an unpaid notice (no channel takes money for it afterwards)",
        params: paymentId,
        body: bodies.closePaymentBody,
      },
    },
    async (req, reply) => {
      const app = await authenticate(req);
      const { id } = parseInput(paymentId, req.params, "params");
      const body = bodyOf(req, bodies.closePaymentBody);
      return relay(reply, await deps.upstream.request("POST", `/v1/payments/${id}/close`, caller(app), body));
    },
  );

  // 退款 by the original route: the internet service platform asks for a full or partial refund
  // (refundSerialNo, amountFen, reason); the result comes back as payment.refunded.
  api.post(
    "/api/v1/payments/:id/refunds",
    {
      schema: {
        summary: "Refund by the original route (原渠道退回), full or partial; idempotent by refundSerialNo",
        params: paymentId,
        body: bodies.refundBody,
      },
    },
    async (req, reply) => {
      const app = await authenticate(req);
      const { id } = parseInput(paymentId, req.params, "params");
      const body = bodyOf(req, bodies.refundBody);
      return relay(
        reply,
        await deps.upstream.request("POST", `/v1/payments/${id}/refunds`, caller(app), body),
      );
    },
  );

  api.get(
    "/api/v1/payments/:id/refunds",
    { schema: { summary: "The refunds of a payment and where each stands", params: paymentId } },
    async (req, reply) => {
      const app = await authenticate(req);
      const { id } = parseInput(paymentId, req.params, "params");
      return relay(reply, await deps.upstream.request("GET", `/v1/payments/${id}/refunds`, caller(app)));
    },
  );

  api.post(
    "/api/v1/payments/:id/callbacks/re-push",
    {
      schema: { summary: "Push the payment's result to the app's callback target again", params: paymentId },
    },
    async (req, reply) => {
      const app = await authenticate(req);
      const { id } = parseInput(paymentId, req.params, "params");
      return relay(
        reply,
        await deps.upstream.request("POST", `/v1/payments/${id}/callbacks/re-push`, caller(app), {}),
      );
    },
  );

  api.put(
    "/api/v1/payments/callback-target",
    {
      schema: {
        summary: "Where this app's payment results are pushed (signed HMAC-SM3 with the secret)",
        body: bodies.callbackTargetBody,
      },
    },
    async (req, reply) => {
      const app = await authenticate(req);
      const body = bodyOf(req, bodies.callbackTargetBody);
      return relay(
        reply,
        await deps.upstream.request(
          "PUT",
          `/v1/payment/callback-targets/${encodeURIComponent(app.appId)}`,
          caller(app),
          { ...body, agencyCode: app.agencyCode },
        ),
      );
    },
  );
}
