import { timingSafeEqual } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { isUnavailable } from "@piaoju/bus";
import { problemZh } from "@piaoju/locale/problems";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { z } from "zod";
import { installBodyReader } from "./body.ts";
import { AppError, issuesFromZod, problemOf } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { Telemetry } from "./telemetry.ts";

const tracer = trace.getTracer("@piaoju/runtime/http");
const spans = new WeakMap<FastifyRequest, Span>();

export interface HealthCheck {
  name: string;
  check(): Promise<boolean>;
}

/**
 * The platform's HTTP server: server spans continuing the caller's W3C trace, problem
 * details (RFC 9457) for every error, /healthz, /readyz and /metrics.
 */
export function createHttpApp(options: {
  logger: Logger;
  telemetry?: Telemetry;
  readiness: () => readonly HealthCheck[];
  bodyLimit?: number;
  /** How deep a JSON body may nest (default 32). */
  maxJsonDepth?: number;
  /** Operators' bearer token: with it, /readyz names each check; without, ready or not ready only. */
  operatorToken?: string;
  /** When set, /metrics answers only with this bearer token (a Prometheus with credentials). */
  metricsToken?: string;
  /**
   * The reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For names the
   * client. Unset: nobody's, and `req.ip` is the socket's peer, so a client cannot choose the
   * address its lookup limits count against by writing that header itself.
   */
  trustedProxies?: string;
}): FastifyInstance {
  const app = Fastify({
    ...(options.trustedProxies ? { trustProxy: options.trustedProxies } : {}),
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 1_048_576,
    requestIdHeader: false,
    // The router's own refusals (a path that does not decode, a parameter past maxParamLength)
    // come before any hook: they too are problem documents naming what was wrong.
    frameworkErrors: (error, _req, reply) => {
      const code = (error as { code?: string }).code ?? "BAD_REQUEST";
      const status = code === "FST_ERR_MAX_PARAM_LENGTH" ? 414 : 400;
      const problem = problemOf(
        new AppError("validation", error.message, {
          code,
          issues: [
            {
              field: "path",
              rule: code === "FST_ERR_MAX_PARAM_LENGTH" ? "max_length" : "url_encoding",
              message: error.message,
            },
          ],
        }),
      );
      problem.status = status;
      void (reply as unknown as FastifyReply).status(status).type("application/problem+json").send(problem);
    },
    // What Node's HTTP parser refuses before there is a request (headers past the size limit, a
    // request that never finished, bytes that are not HTTP): a problem document too, not Node's text.
    clientErrorHandler: (error, socket) => writeClientError(error as NodeJS.ErrnoException, socket),
  });
  installBodyReader(app, options.maxJsonDepth === undefined ? {} : { maxJsonDepth: options.maxJsonDepth });

  app.addHook("onRequest", (req, reply, done) => {
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer.startSpan(
      `${req.method} ${req.routeOptions.url ?? "unmatched"}`,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method, "url.path": req.url } },
      parent,
    );
    spans.set(req, span);
    reply.header("x-trace-id", span.spanContext().traceId);
    // Everything after this hook (handler included) runs inside the span's context.
    context.with(trace.setSpan(parent, span), done);
  });
  app.addHook("onResponse", (req, reply, done) => {
    const span = spans.get(req);
    if (span) {
      span.setAttribute("http.response.status_code", reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });

  app.setErrorHandler((error, req, reply) => {
    const traceId = spans.get(req)?.spanContext().traceId;
    const fastifyStatus = (error as { statusCode?: number }).statusCode;
    const appError = toAppError(error);
    if (!appError) {
      spans.get(req)?.recordException(error as Error);
      req.log.error({ err: error }, "unhandled error");
      return reply
        .status(500)
        .type("application/problem+json")
        .send({
          type: "about:blank",
          title: "internal error",
          status: 500,
          detail: "internal error",
          detailZh: problemZh("INTERNAL", "internal"),
          code: "INTERNAL",
          traceId,
        });
    }
    if (appError.kind === "unavailable") {
      req.log.warn({ err: error }, appError.message);
      if (appError.code === "DATABASE_UNAVAILABLE") reply.header("retry-after", "2");
    }
    const problem = problemOf(appError, traceId);
    // Fastify's own 4xx (413 body too large, 415 media type) keep their status.
    if (!(error instanceof AppError) && fastifyStatus && fastifyStatus >= 400 && fastifyStatus < 500) {
      problem.status = fastifyStatus;
    }
    return reply.status(problem.status).type("application/problem+json").send(problem);
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .status(404)
      .type("application/problem+json")
      .send(problemOf(new AppError("not_found", `no route ${req.method} ${req.url}`, { code: "NO_ROUTE" })));
  });

  app.get("/healthz", async () => ({ status: "ok" }));
  // Probes tell anyone ready or not; which database or bus is down is for operators only.
  app.get("/readyz", async (req, reply) => {
    const results = await Promise.all(
      options.readiness().map(async (c) => [c.name, await c.check().catch(() => false)] as const),
    );
    const ready = results.every(([, ok]) => ok);
    const status = ready ? "ready" : "not ready";
    reply.status(ready ? 200 : 503).header("cache-control", "no-store");
    return bearerIs(req, options.operatorToken)
      ? reply.send({ status, checks: Object.fromEntries(results) })
      : reply.send({ status });
  });
  if (options.telemetry) {
    const telemetry = options.telemetry;
    app.get("/metrics", (req, reply) => {
      if (options.metricsToken !== undefined && !bearerIs(req, options.metricsToken)) {
        return reply
          .status(401)
          .type("application/problem+json")
          .send(
            problemOf(
              new AppError("unauthenticated", "metrics need the metrics token", { code: "UNAUTHENTICATED" }),
            ),
          );
      }
      reply.hijack();
      telemetry.metricsHandler(req.raw, reply.raw);
    });
  }
  return app;
}

/** Whether the request carries `authorization: Bearer <token>` (compared in constant time). */
function bearerIs(req: FastifyRequest, token: string | undefined): boolean {
  if (!token) return false;
  const header = req.headers.authorization;
  if (typeof header !== "string" || !header.startsWith("Bearer ")) return false;
  const presented = Buffer.from(header.slice("Bearer ".length));
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof z.ZodError) return AppError.validation(issuesFromZod(error));
  const e = error as {
    statusCode?: number;
    code?: string;
    message?: string;
    validation?: Array<{ instancePath?: string; message?: string; keyword?: string }>;
    validationContext?: string;
  };
  // A route's schema refused the request (routes that declare zod schemas for OpenAPI).
  if (Array.isArray(e.validation)) {
    return AppError.validation(
      e.validation.map((v) => ({
        field: [e.validationContext ?? "body", ...(v.instancePath ?? "").split("/").filter(Boolean)].join(
          ".",
        ),
        rule: v.keyword ?? "schema",
        message: v.message ?? "invalid",
      })),
    );
  }
  // Two requests raced to create the same thing; the database's unique index decided (Prisma P2002, PG 23505).
  if (e.code === "P2002" || e.code === "23505") {
    return new AppError("conflict", "it already exists (a concurrent request created it)", {
      code: "ALREADY_EXISTS",
    });
  }
  // The service's database is down or restarting: the request's transaction did not commit (or,
  // cut at the commit, it may have; writes are idempotent by their keys), so it is worth sending
  // again: 503 with Retry-After rather than an internal error.
  if (isUnavailable(error)) {
    return new AppError("unavailable", "the service's database is unavailable; try again shortly", {
      code: "DATABASE_UNAVAILABLE",
    });
  }
  // Fastify's own 4xx (body too large, wrong content type, bad content length), each naming its field.
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    const kind = e.statusCode === 404 ? "not_found" : "validation";
    const field = FASTIFY_FIELDS[e.code ?? ""];
    return new AppError(kind, e.message ?? "bad request", {
      code: e.code ?? "BAD_REQUEST",
      issues: [field ?? { field: "(request)", rule: "request", message: e.message ?? "bad request" }],
    });
  }
  return undefined;
}

/** The field each of Fastify's own refusals is about. */
const FASTIFY_FIELDS: Record<string, { field: string; rule: string; message: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    field: "header.content-type",
    rule: "media_type",
    message: "this route takes application/json (UTF-8) only",
  },
  FST_ERR_CTP_INVALID_TYPE: {
    field: "header.content-type",
    rule: "media_type",
    message: "the content type is not a valid media type",
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    field: "body",
    rule: "max_bytes",
    message: "the body is larger than allowed",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    field: "header.content-length",
    rule: "content_length",
    message: "content-length does not match the body",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { field: "body", rule: "json", message: "the JSON body is empty" },
};

/** Validates one part of a request; the error names each field with its place (body.payer.name). */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  place: "body" | "query" | "params",
): z.infer<S> {
  // A body's fields are the command's: one the route does not know is refused (400 naming it),
  // never dropped silently, so a caller learns that the field it meant to set is not theirs.
  const parsed = ((place === "body" ? strictBody(schema) : schema) as S).safeParse(value ?? {});
  if (!parsed.success) throw AppError.validation(issuesFromZod(parsed.error, place));
  return parsed.data;
}

const strictBodies = new WeakMap<z.ZodType, z.ZodType>();

/** The body schema with unknown top-level fields refused (a catch-all the route chose is kept). */
function strictBody(schema: z.ZodType): z.ZodType {
  let strict = strictBodies.get(schema);
  if (!strict) {
    strict =
      schema instanceof z.ZodObject && schema._zod.def.catchall === undefined ? schema.strict() : schema;
    strictBodies.set(schema, strict);
  }
  return strict;
}

/** The parser's refusals as problem documents, written on the socket (there is no reply object yet). */
function writeClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, code, message] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "HEADERS_TOO_LARGE", "the request's headers are larger than the server takes"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "REQUEST_TIMEOUT", "the request did not arrive in time"]
        : [400, "MALFORMED_REQUEST", "the request is not well-formed HTTP"];
  const problem = problemOf(new AppError("validation", message, { code }));
  problem.status = status;
  const body = JSON.stringify(problem);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
