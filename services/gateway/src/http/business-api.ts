import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import { payerSchema, paymentItemSchema } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Apps, CallingApp } from "../app/apps.ts";
import type { Upstream } from "../app/upstream.ts";

declare module "fastify" {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

const problem = z
  .object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string(), code: z.string() })
  .describe("RFC 9457 problem details; `issues` names each field and rule that was broken");

const issueBody = z
  .object({
    issuingPointCode: z.string().describe("开票点: one of the issuing points the app may use"),
    billCode: z.string().describe("票据代码, 8 digits"),
    bizSerialNo: z.string().describe("业务流水号: the idempotency key — a retry returns the first receipt"),
    payer: payerSchema,
    items: z.array(paymentItemSchema).describe("收入项目 lines; amounts in integer fen"),
    totalFen: z.number().int().describe("total in integer fen; must equal the sum of the items"),
    payMode: z.string().optional(),
    remark: z.string().optional(),
    handlingPerson: z.string().describe("开票人"),
    checker: z.string().optional().describe("复核人"),
  })
  .describe("A receipt to issue for a payment. The agency is the app's own.");

/**
 * The business API business systems call, under /api/v1: every call signed by the app
 * (see the README), bound to the app's agency and issuing points, then handed to the
 * receipt service with that scope. OpenAPI at /api/openapi.json, browsable at /api/docs.
 */
export async function businessApi(
  api: FastifyInstance,
  deps: { apps: Apps; upstream: Upstream },
): Promise<void> {
  await api.register(fastifySwagger, {
    openapi: {
      info: {
        title: "Piaoju business API",
        version: "1.0.0",
        description:
          "Issue and query fiscal e-receipts (财政电子票据). Every call carries X-Piaoju-App-Id, X-Piaoju-Timestamp " +
          "(Unix ms), X-Piaoju-Nonce and X-Piaoju-Signature = hex(HMAC-SM3(appSecret, METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(SM3(body)))).",
      },
      components: {
        securitySchemes: {
          signedRequest: { type: "apiKey", in: "header", name: "X-Piaoju-Signature" },
        },
      },
      security: [{ signedRequest: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await api.register(fastifySwaggerUi, { routePrefix: "/api/docs" });
  api.get("/api/openapi.json", { schema: { hide: true } }, async () => api.swagger());

  // The signature covers the body's bytes as sent, so keep them.
  api.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const raw = body as Buffer;
    req.rawBody = raw;
    if (raw.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(raw.toString("utf8")));
    } catch {
      done(new AppError("validation", "the body is not valid JSON", { code: "MALFORMED_JSON" }), undefined);
    }
  });
  // Schemas here document the API; the receipt service validates and names the fields.
  api.setValidatorCompiler(() => (data) => ({ value: data }));
  // Responses are the receipt service's, relayed as they are.
  api.setSerializerCompiler(() => (data) => JSON.stringify(data));

  const authenticate = (req: FastifyRequest): Promise<CallingApp> =>
    deps.apps.authenticate(req.headers, {
      method: req.method,
      pathWithQuery: req.url,
      body: req.rawBody ?? Buffer.alloc(0),
    });
  const caller = (app: CallingApp) => ({ actor: `app:${app.appId}`, agencies: app.agencyCode });
  const relay = (reply: FastifyReply, res: { status: number; body: unknown }) =>
    reply
      .status(res.status)
      .type(res.status >= 400 ? "application/problem+json" : "application/json")
      .send(res.body);

  api.post(
    "/api/v1/receipts",
    {
      schema: {
        summary: "Issue a receipt (开具), idempotent by bizSerialNo",
        body: issueBody,
        response: {
          201: z.object({}).passthrough(),
          200: z.object({}).passthrough(),
          400: problem,
          401: problem,
          403: problem,
          409: problem,
        },
      },
    },
    async (req, reply) => {
      const app = await authenticate(req);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const point = typeof body.issuingPointCode === "string" ? body.issuingPointCode : undefined;
      if (point !== undefined && !app.issuingPoints.has(point)) {
        throw new AppError("forbidden", `app ${app.appId} may not issue at issuing point ${point}`, {
          code: "ISSUING_POINT_NOT_ALLOWED",
        });
      }
      return relay(
        reply,
        await deps.upstream.request("POST", "/v1/receipts", caller(app), {
          ...body,
          agencyCode: app.agencyCode,
        }),
      );
    },
  );

  api.get(
    "/api/v1/receipts",
    {
      schema: {
        summary: "Find the receipt of a business serial number",
        querystring: z.object({ bizSerialNo: z.string() }),
      },
    },
    async (req, reply) => {
      const app = await authenticate(req);
      const { bizSerialNo } = z.object({ bizSerialNo: z.string().min(1).max(64) }).parse(req.query);
      const query = new URLSearchParams({ agencyCode: app.agencyCode, bizSerialNo });
      return relay(reply, await deps.upstream.request("GET", `/v1/receipts?${query}`, caller(app)));
    },
  );

  api.get(
    "/api/v1/receipts/verify",
    {
      schema: {
        summary: "Verify a receipt by bill code, number and check code (status only)",
        querystring: z.object({ billCode: z.string(), number: z.string(), checkCode: z.string() }),
      },
    },
    async (req, reply) => {
      const app = await authenticate(req);
      const q = z
        .object({ billCode: z.string(), number: z.string(), checkCode: z.string() })
        .parse(req.query);
      return relay(
        reply,
        await deps.upstream.request("GET", `/v1/receipts/verify?${new URLSearchParams(q)}`, caller(app)),
      );
    },
  );

  api.get(
    "/api/v1/receipts/:id",
    { schema: { summary: "A receipt and its status", params: z.object({ id: z.uuid() }) } },
    async (req, reply) => {
      const app = await authenticate(req);
      const { id } = z.object({ id: z.uuid() }).parse(req.params);
      return relay(reply, await deps.upstream.request("GET", `/v1/receipts/${id}`, caller(app)));
    },
  );
}
