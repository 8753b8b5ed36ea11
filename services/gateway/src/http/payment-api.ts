import type { AssertedIdentity, Permission } from "@piaoju/access";
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

  api.post("/api/v1/payments", async (req, reply) => {
    const app = await authenticate(req);
    const body = (signedJsonBody(req) ?? {}) as Record<string, unknown>;
    const point = typeof body.issuingPointCode === "string" ? body.issuingPointCode : undefined;
    if (point !== undefined && !app.issuingPoints.has(point)) {
      throw new AppError("forbidden", `app ${app.appId} may not take payments at issuing point ${point}`, {
        code: "ISSUING_POINT_NOT_ALLOWED",
      });
    }
    return relay(
      reply,
      await deps.upstream.request("POST", "/v1/payments", caller(app), {
        ...body,
        agencyCode: app.agencyCode,
      }),
    );
  });

  api.get("/api/v1/payments", async (req, reply) => {
    const app = await authenticate(req);
    const { bizSerialNo } = parseInput(
      z.object({ bizSerialNo: z.string().min(1).max(64) }),
      req.query,
      "query",
    );
    const query = new URLSearchParams({ agencyCode: app.agencyCode, bizSerialNo });
    return relay(reply, await deps.upstream.request("GET", `/v1/payments?${query}`, caller(app)));
  });

  api.get("/api/v1/payments/:id", async (req, reply) => {
    const app = await authenticate(req);
    const { id } = parseInput(paymentId, req.params, "params");
    return relay(reply, await deps.upstream.request("GET", `/v1/payments/${id}`, caller(app)));
  });

  api.get("/api/v1/payments/:id/qr-url", async (req, reply) => {
    const app = await authenticate(req);
    const { id } = parseInput(paymentId, req.params, "params");
    return relay(reply, await deps.upstream.request("GET", `/v1/payments/${id}/qr-url`, caller(app)));
  });

  api.post("/api/v1/payments/:id/close", async (req, reply) => {
    const app = await authenticate(req);
    const { id } = parseInput(paymentId, req.params, "params");
    return relay(
      reply,
      await deps.upstream.request("POST", `/v1/payments/${id}/close`, caller(app), signedJsonBody(req) ?? {}),
    );
  });

  // 退款 by the original route: the internet service platform asks for a full or partial refund
  // (refundSerialNo, amountFen, reason); the result comes back as payment.refunded.
  api.post("/api/v1/payments/:id/refunds", async (req, reply) => {
    const app = await authenticate(req);
    const { id } = parseInput(paymentId, req.params, "params");
    return relay(
      reply,
      await deps.upstream.request(
        "POST",
        `/v1/payments/${id}/refunds`,
        caller(app),
        signedJsonBody(req) ?? {},
      ),
    );
  });

  api.get("/api/v1/payments/:id/refunds", async (req, reply) => {
    const app = await authenticate(req);
    const { id } = parseInput(paymentId, req.params, "params");
    return relay(reply, await deps.upstream.request("GET", `/v1/payments/${id}/refunds`, caller(app)));
  });

  api.post("/api/v1/payments/:id/callbacks/re-push", async (req, reply) => {
    const app = await authenticate(req);
    const { id } = parseInput(paymentId, req.params, "params");
    return relay(
      reply,
      await deps.upstream.request("POST", `/v1/payments/${id}/callbacks/re-push`, caller(app), {}),
    );
  });

  api.put("/api/v1/payments/callback-target", async (req, reply) => {
    const app = await authenticate(req);
    return relay(
      reply,
      await deps.upstream.request(
        "PUT",
        `/v1/payment/callback-targets/${encodeURIComponent(app.appId)}`,
        caller(app),
        {
          ...((signedJsonBody(req) ?? {}) as Record<string, unknown>),
          agencyCode: app.agencyCode,
        },
      ),
    );
  });
}
