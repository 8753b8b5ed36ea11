import type { AssertedIdentity, Permission } from "@piaoju/access";
import { billCode, billNumber, bizSerialNo, receiptApi, text } from "@piaoju/contracts";
import type { Database } from "@piaoju/persistence";
import { AppError, type LookupLimits, lookupLimiter, parseInput, signedJsonBody } from "@piaoju/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Apps, CallingApp } from "../app/apps.ts";
import type { Upstream } from "../app/upstream.ts";

/** What a business system may do through the business API (its data scope: its issuing points). */
const APP_PERMISSIONS: readonly Permission[] = [
  "receipt.issue",
  "receipt.read",
  "receipt.redFlush",
  "receipt.paperExchange",
  "receipt.book",
];

const problem = z
  .object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string(), code: z.string() })
  .describe("RFC 9457 problem details; `issues` names each field and rule that was broken");

// The bodies are the receipt API's, written once in packages/contracts and used by the receipt service too.
const issueBody = receiptApi.issueReceiptBody.describe(
  "A receipt to issue for a payment. The agency is the app's own.",
);
const receiptId = z.strictObject({ id: z.uuid().describe("the receipt's id, as issuing returned it") });
const redFlushBody = receiptApi.redFlushBody.describe(
  "Red-flush (冲红) the whole receipt: a red receipt with negative amounts is issued for it. A retry with the same reason returns the same red receipt.",
);
const paperExchangeBody = receiptApi.paperExchangeBody.describe(
  "换开: the e-receipt was exchanged for this paper receipt (票据代码 8 digits, 票据号码 10 digits); it no longer serves for reimbursement.",
);
const serialQuery = z.object({ bizSerialNo });
const verifyQuery = z.object({
  billCode,
  number: billNumber,
  checkCode: text().regex(/^\d{6}$/, "6 digits"),
});

const receiptStatus = z
  .object({
    id: z.string(),
    billCode: z.string(),
    number: z.string(),
    kind: z.enum(["blue", "red"]),
    status: z.enum([
      "REQUESTED",
      "AGENCY_SIGNED",
      "ISSUED",
      "RED_FLUSHED",
      "PAPER_EXCHANGED",
      "BOOKED",
      "VOIDED",
    ]),
    originalReceiptId: z.string().optional().describe("a red receipt's original"),
    agencySigned: z.boolean().describe("the agency's signature (单位签名) is on it"),
    supervised: z.boolean().describe("finance supervised it (财政监制)"),
    reason: z
      .string()
      .optional()
      .describe("why it was voided, or why a red receipt red-flushes its original"),
    paper: z.object({ billCode: z.string(), number: z.string(), exchangedAt: z.string() }).optional(),
    booked: z.object({ at: z.string(), by: z.string() }).optional(),
    allowedCommands: z.array(z.string()).describe("what can be done with it now"),
  })
  .describe("Where a receipt is in its life.");

/**
 * The business API business systems call, under /api/v1: every call signed by the app
 * (see the README), bound to the app's agency and issuing points, then handed to the
 * receipt service with that scope. Described in /api/openapi.json (http/openapi.ts).
 */
export async function businessApi(
  api: FastifyInstance,
  deps: { apps: Apps; upstream: Upstream; limits: LookupLimits; db?: Database },
): Promise<void> {
  // Lookups (verify by check code above all) answer guesses: limited per address, then per app.
  const limiter = await lookupLimiter(api, deps.limits, deps.db, "gateway");

  // Every business route is signed: its body is read only after the signature holds.
  api.addHook("onRoute", (route) => {
    if (route.url.startsWith("/api/v1/")) route.config = { ...route.config, signedBody: true };
  });
  // The signature covers the body's bytes as sent: the platform's one body reader (packages/runtime)
  // keeps them on req.rawBody, refuses any other content type with 415, and bounds size and depth.
  // Schemas here document the API; each handler validates after authenticating (parseInput names
  // the fields), so an unauthenticated caller's body is never read past the size limit.
  api.setValidatorCompiler(() => (data) => ({ value: data }));
  // Responses are the receipt service's, relayed as they are.
  api.setSerializerCompiler(() => (data) => JSON.stringify(data));

  const authenticate = (req: FastifyRequest): Promise<CallingApp> =>
    deps.apps.authenticate(req.headers, {
      method: req.method,
      pathWithQuery: req.url,
      body: req.rawBody ?? Buffer.alloc(0),
    });
  /** The body, read and validated only once the signature over its bytes held. */
  const bodyOf = <S extends z.ZodType>(req: FastifyRequest, schema: S): z.infer<S> =>
    parseInput(schema, signedJsonBody(req), "body");
  const lookup = async (req: FastifyRequest, reply: FastifyReply): Promise<CallingApp> => {
    await limiter.byAddress(req, reply);
    const app = await authenticate(req);
    await limiter.byCaller(req, reply, app.appId);
    return app;
  };
  // A business system is asserted with the scope it is registered for: its agency and its issuing
  // points, on reads as on writes (issue 9 class 6).
  const caller = (app: CallingApp): AssertedIdentity => ({
    actor: `app:${app.appId}`,
    kind: "app",
    agency: app.agencyCode,
    grants: [{ permissions: APP_PERMISSIONS, scope: "points", issuingPoints: [...app.issuingPoints] }],
  });
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
      const body = bodyOf(req, issueBody);
      if (!app.issuingPoints.has(body.issuingPointCode)) {
        throw new AppError(
          "forbidden",
          `app ${app.appId} may not issue at issuing point ${body.issuingPointCode}`,
          { code: "ISSUING_POINT_NOT_ALLOWED" },
        );
      }
      return relay(
        reply,
        await deps.upstream.request("POST", "/v1/receipts", caller(app), issueCommand(app, body)),
      );
    },
  );

  api.get(
    "/api/v1/receipts",
    {
      schema: {
        summary: "Find the receipt of a business serial number",
        querystring: serialQuery,
      },
    },
    async (req, reply) => {
      const app = await lookup(req, reply);
      const q = parseInput(serialQuery, req.query, "query");
      const query = new URLSearchParams({ agencyCode: app.agencyCode, bizSerialNo: q.bizSerialNo });
      return relay(reply, await deps.upstream.request("GET", `/v1/receipts?${query}`, caller(app)));
    },
  );

  api.get(
    "/api/v1/receipts/verify",
    {
      schema: {
        summary: "Verify a receipt by bill code, number and check code (status only)",
        querystring: verifyQuery,
      },
    },
    async (req, reply) => {
      const app = await lookup(req, reply);
      const q = parseInput(verifyQuery, req.query, "query");
      return relay(
        reply,
        await deps.upstream.request("GET", `/v1/receipts/verify?${new URLSearchParams(q)}`, caller(app)),
      );
    },
  );

  api.get(
    "/api/v1/receipts/:id",
    { schema: { summary: "A receipt and its status", params: receiptId } },
    async (req, reply) => {
      const app = await lookup(req, reply);
      const { id } = parseInput(receiptId, req.params, "params");
      return relay(reply, await deps.upstream.request("GET", `/v1/receipts/${id}`, caller(app)));
    },
  );

  api.get(
    "/api/v1/receipts/:id/document",
    {
      schema: {
        summary:
          "The receipt's XML document with both signatures inside <EInvoiceSignature> (domain.md). Taken out, the stored bytes remain, whose SM3 is documentSm3; the signatures cover Header + EInvoiceData (document version 1.2.0; earlier receipts: the whole stored document)",
        params: receiptId,
      },
    },
    async (req, reply) => {
      const app = await lookup(req, reply);
      const { id } = parseInput(receiptId, req.params, "params");
      const res = await deps.upstream.request("GET", `/v1/receipts/${id}/document`, caller(app));
      if (res.status !== 200 || !res.raw) return relay(reply, res);
      // Exact bytes: no re-encoding, so a verifier hashes what was signed.
      return reply
        .status(200)
        .type(res.contentType || "application/xml; charset=utf-8")
        .header("cache-control", "private, no-store")
        .send(res.raw);
    },
  );

  /**
   * Acting on a receipt: the receipt must be the app's agency's (the receipt service checks the
   * scope) and issued at one of the app's issuing points (checked here, before anything changes).
   */
  const atAppPoint = async (app: CallingApp, id: string) => {
    const found = await deps.upstream.request("GET", `/v1/receipts/${id}`, caller(app));
    if (found.status !== 200) return found;
    const point = (found.body as { issuingPointCode?: unknown }).issuingPointCode;
    if (typeof point !== "string" || !app.issuingPoints.has(point)) {
      throw new AppError("forbidden", `app ${app.appId} may not act at issuing point ${String(point)}`, {
        code: "ISSUING_POINT_NOT_ALLOWED",
      });
    }
    return undefined;
  };
  /**
   * The command is built from the validated body (the schema is strict: every field it has is
   * the command's), never the caller's object passed on.
   */
  const actOn = (action: string, schema: z.ZodType) => async (req: FastifyRequest, reply: FastifyReply) => {
    const app = await authenticate(req);
    const { id } = parseInput(receiptId, req.params, "params");
    const command = bodyOf(req, schema);
    const refused = await atAppPoint(app, id);
    if (refused) return relay(reply, refused);
    return relay(
      reply,
      await deps.upstream.request("POST", `/v1/receipts/${id}/${action}`, caller(app), command),
    );
  };

  api.get(
    "/api/v1/receipts/:id/status",
    {
      schema: {
        summary:
          "Query a receipt's status (查询状态): signed, supervised, red-flushed, exchanged, booked, voided",
        params: receiptId,
        response: { 200: receiptStatus, 400: problem, 401: problem, 403: problem, 404: problem },
      },
    },
    async (req, reply) => {
      const app = await lookup(req, reply);
      const { id } = parseInput(receiptId, req.params, "params");
      return relay(reply, await deps.upstream.request("GET", `/v1/receipts/${id}/status`, caller(app)));
    },
  );

  api.post(
    "/api/v1/receipts/:id/red-flush",
    {
      schema: {
        summary: "Red-flush a receipt (冲红), idempotent by reason",
        description:
          "201 with the new red receipt (status REQUESTED; it is signed and supervised like any receipt, and the " +
          "original becomes RED_FLUSHED once it is issued); 200 with the same red receipt to a retry. 409 with the " +
          "reason: NOT_ISSUED, PAPER_EXCHANGED (the paper process applies), BOOKED (报销/入账), ALREADY_RED_FLUSHED, " +
          "RED_FLUSH_IN_PROGRESS, RED_RECEIPT.",
        params: receiptId,
        body: redFlushBody,
        response: {
          201: z.object({}).passthrough(),
          200: z.object({}).passthrough(),
          400: problem,
          401: problem,
          403: problem,
          404: problem,
          409: problem,
        },
      },
    },
    actOn("red-flush", receiptApi.redFlushBody),
  );

  api.post(
    "/api/v1/receipts/:id/paper-exchange",
    {
      schema: {
        summary: "Record the exchange of a receipt for paper (换开)",
        description:
          "200 with the receipt (PAPER_EXCHANGED), also to a retry with the same paper receipt. 409: not ISSUED " +
          "(TRANSITION_REFUSED), PAPER_NUMBER_TAKEN, RED_FLUSH_IN_PROGRESS.",
        params: receiptId,
        body: paperExchangeBody,
        response: {
          200: z.object({}).passthrough(),
          400: problem,
          401: problem,
          403: problem,
          404: problem,
          409: problem,
        },
      },
    },
    actOn("paper-exchange", receiptApi.paperExchangeBody),
  );

  api.post(
    "/api/v1/receipts/:id/paper-return",
    {
      schema: {
        summary: "The paper receipt was taken back: the e-receipt is valid again",
        params: receiptId,
        body: receiptApi.paperReturnBody.describe("why, 1-500 characters"),
        response: {
          200: z.object({}).passthrough(),
          400: problem,
          401: problem,
          403: problem,
          404: problem,
          409: problem,
        },
      },
    },
    actOn("paper-return", receiptApi.paperReturnBody),
  );

  api.post(
    "/api/v1/receipts/:id/book",
    {
      schema: {
        summary:
          "Record that the payer's organisation booked the receipt (入账/报销); red-flush is refused after",
        params: receiptId,
        body: receiptApi.bookBody.describe("bookedBy: the organisation that booked it, 1-200 characters"),
        response: {
          200: z.object({}).passthrough(),
          400: problem,
          401: problem,
          403: problem,
          404: problem,
          409: problem,
        },
      },
    },
    actOn("book", receiptApi.bookBody),
  );
}

/**
 * The business API's issue request as the receipt service's command: each field named, the
 * agency the app's own. Provenance (接口开具) is the platform's: the receipt service reads it
 * from the caller (an app), and no field of the body can say otherwise.
 */
function issueCommand(app: CallingApp, b: receiptApi.IssueReceiptBody): receiptApi.IssueReceiptCommand {
  return {
    agencyCode: app.agencyCode,
    issuingPointCode: b.issuingPointCode,
    billCode: b.billCode,
    bizSerialNo: b.bizSerialNo,
    payer: {
      type: b.payer.type,
      code: b.payer.code,
      name: b.payer.name,
      ...(b.payer.account === undefined ? {} : { account: b.payer.account }),
      ...(b.payer.bank === undefined ? {} : { bank: b.payer.bank }),
      ...(b.payer.phone === undefined ? {} : { phone: b.payer.phone }),
      ...(b.payer.email === undefined ? {} : { email: b.payer.email }),
    },
    items: b.items.map((i) => ({ itemCode: i.itemCode, quantity: i.quantity, amountFen: i.amountFen })),
    totalFen: b.totalFen,
    ...(b.payMode === undefined ? {} : { payMode: b.payMode }),
    ...(b.remark === undefined ? {} : { remark: b.remark }),
    handlingPerson: b.handlingPerson,
    ...(b.checker === undefined ? {} : { checker: b.checker }),
  };
}
