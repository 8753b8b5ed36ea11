import * as grpc from "@grpc/grpc-js";
import {
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { isUnavailable } from "@piaoju/bus";
import type { Logger } from "pino";
import { AppError, type ErrorKind, grpcStatusOf } from "./errors.ts";

/**
 * The frame's gRPC pieces, the counterpart of http.ts for services spoken to over gRPC:
 *
 * - server: `unaryHandler` / `clientStreamHandler` wrap an async function into a grpc-js handler
 *   that continues the caller's W3C trace (metadata `traceparent`/`tracestate`) in a SERVER span
 *   and turns whatever it throws into a gRPC status (`grpcErrorOf`);
 * - client: `tracingInterceptor` puts the active trace into every call's metadata (in a CLIENT
 *   span) and gives every call a deadline; `unaryCall` / `clientStreamCall` are promise forms.
 *
 * Error mapping, in order: `GrpcStatusError` keeps its code; `AppError` maps by kind through
 * `grpcStatusOf`; the service's own `mapError` (e.g. `errorCodeMapper("GmCryptoError", …)`) may turn
 * a library error into an AppError; anything else is INTERNAL with the message "internal error"
 * and the trace id, never the original message or stack (those go to the log).
 */

const tracer = trace.getTracer("@piaoju/runtime/grpc");

export { status as GrpcStatus } from "@grpc/grpc-js";

/** An error that carries its gRPC status code as is (for codes that have no ErrorKind). */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "GrpcStatusError";
  }
}

/** Turns a library's error into an AppError (or undefined when it is not one it knows). */
export type ErrorMapper = (error: unknown) => AppError | GrpcStatusError | undefined;

/**
 * Maps errors named `errorName` with a string `code` to AppErrors by code, keeping their message:
 * `errorCodeMapper("GmCryptoError", { BAD_KEY: "validation", UNSUPPORTED: "unavailable" })`.
 * Codes missing from `kinds` are left to the next rule (INTERNAL).
 */
export function errorCodeMapper(errorName: string, kinds: Readonly<Record<string, ErrorKind>>): ErrorMapper {
  return (error) => {
    if (!(error instanceof Error) || error.name !== errorName) return undefined;
    const code = (error as Error & { code?: unknown }).code;
    if (typeof code !== "string") return undefined;
    const kind = kinds[code];
    return kind ? new AppError(kind, error.message, { code, cause: error }) : undefined;
  };
}

export interface GrpcErrorOptions {
  mapError?: ErrorMapper | undefined;
  logger?: Logger | undefined;
  /** Named in the log line of an unexpected error. */
  method?: string | undefined;
}

/** What a handler answers for a thrown error: a status code and a message safe to show the caller. */
export function grpcErrorOf(
  error: unknown,
  options: GrpcErrorOptions = {},
): { code: grpc.status; details: string } {
  if (error instanceof GrpcStatusError) return { code: error.code, details: error.message };
  if (error instanceof AppError)
    return { code: grpcStatusOf[error.kind] as grpc.status, details: error.message };
  const mapped = options.mapError?.(error);
  if (mapped) return grpcErrorOf(mapped, {});
  // The service's database is down or restarting: the caller may try again (as on HTTP, 503).
  if (isUnavailable(error))
    return { code: grpc.status.UNAVAILABLE, details: "the service's database is unavailable" };
  const traceId = trace.getActiveSpan()?.spanContext().traceId;
  options.logger?.error({ err: error, method: options.method }, "unhandled error in gRPC handler");
  return {
    code: grpc.status.INTERNAL,
    details: traceId ? `internal error (trace ${traceId})` : "internal error",
  };
}

/** The trace context a caller sent in metadata (`traceparent`, `tracestate`). */
export function traceContextOf(metadata: grpc.Metadata, base: Context = context.active()): Context {
  const carrier: Record<string, string> = {};
  for (const key of ["traceparent", "tracestate"]) {
    const value = metadata.get(key)[0];
    if (typeof value === "string") carrier[key] = value;
  }
  return propagation.extract(base, carrier);
}

export interface HandlerOptions extends GrpcErrorOptions {
  /** Span name: `package.Service/Method`. */
  method: string;
}

/** Runs `fn` in a SERVER span continuing the caller's trace; ends the span with the outcome. */
async function inServerSpan<T>(
  metadata: grpc.Metadata,
  options: HandlerOptions,
  fn: (span: Span) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; code: grpc.status; details: string }> {
  const parent = traceContextOf(metadata);
  const span = tracer.startSpan(
    options.method,
    { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc", "rpc.method": options.method } },
    parent,
  );
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      const value = await fn(span);
      span.setAttribute("rpc.grpc.status_code", grpc.status.OK);
      return { ok: true as const, value };
    } catch (error) {
      const { code, details } = grpcErrorOf(error, options);
      span.setAttribute("rpc.grpc.status_code", code);
      if (code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: details });
      }
      return { ok: false as const, code, details };
    } finally {
      span.end();
    }
  });
}

/** A grpc-js unary handler from `async (request, call) => response`. */
export function unaryHandler<Req, Res>(
  options: HandlerOptions,
  fn: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    void inServerSpan(call.metadata, options, () => fn(call.request, call)).then((outcome) => {
      if (outcome.ok) callback(null, outcome.value);
      else callback({ code: outcome.code, details: outcome.details, metadata: new grpc.Metadata() });
    });
  };
}

/** A grpc-js client-streaming handler from `async (call) => response` (read `call` as an async iterable). */
export function clientStreamHandler<Req, Res>(
  options: HandlerOptions,
  fn: (call: grpc.ServerReadableStream<Req, Res>) => Promise<Res>,
): grpc.handleClientStreamingCall<Req, Res> {
  return (call, callback) => {
    void inServerSpan(call.metadata, options, () => fn(call)).then((outcome) => {
      if (outcome.ok) {
        callback(null, outcome.value);
        return;
      }
      // Stop reading what the caller still sends; the status goes out at once.
      call.pause();
      callback({ code: outcome.code, details: outcome.details, metadata: new grpc.Metadata() });
    });
  };
}

// ---- client -------------------------------------------------------------------------------------

/** Puts the active trace context (`traceparent`, `tracestate`) into `metadata`. */
export function injectTrace(metadata: grpc.Metadata, ctx: Context = context.active()): grpc.Metadata {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  for (const [key, value] of Object.entries(carrier)) metadata.set(key, value);
  return metadata;
}

/**
 * A client interceptor for every call of a client: a CLIENT span (child of the active one) whose
 * context goes out as `traceparent`, and a deadline of `deadlineMs` unless the call set its own.
 * `new Client(address, credentials, { interceptors: [tracingInterceptor({ deadlineMs: 5000 })] })`.
 */
export function tracingInterceptor(options: { deadlineMs: number }): grpc.Interceptor {
  return (callOptions, nextCall) => {
    const method = callOptions.method_definition.path.replace(/^\//, "");
    const deadline = callOptions.deadline ?? Date.now() + options.deadlineMs;
    const span = tracer.startSpan(method, {
      kind: SpanKind.CLIENT,
      attributes: { "rpc.system": "grpc", "rpc.method": method },
    });
    return new grpc.InterceptingCall(nextCall({ ...callOptions, deadline }), {
      start(metadata, _listener, next) {
        injectTrace(metadata, trace.setSpan(context.active(), span));
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            span.setAttribute("rpc.grpc.status_code", status.code);
            if (status.code !== grpc.status.OK) {
              span.setStatus({ code: SpanStatusCode.ERROR, message: status.details });
            }
            span.end();
            nextStatus(status);
          },
        });
      },
    });
  };
}

export interface CallOptions {
  /** Milliseconds from now; default 5,000. */
  deadlineMs?: number;
  metadata?: grpc.Metadata;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;

type ClientStreamMethod<Req, Res> = (
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: grpc.requestCallback<Res>,
) => grpc.ClientWritableStream<Req>;

/**
 * One unary call as a promise, with `traceparent` and a deadline:
 * `await unaryCall(client, client.Sign, { keyId, data }, { deadlineMs: 2000 })`.
 * Rejects with the grpc-js ServiceError (`code`, `details`).
 */
export function unaryCall<Req, Res>(
  client: grpc.Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: CallOptions = {},
): Promise<Res> {
  const metadata = injectTrace(options.metadata ?? new grpc.Metadata());
  const deadline = Date.now() + (options.deadlineMs ?? 5000);
  return new Promise((resolve, reject) => {
    method.call(client, request, metadata, { deadline }, (error, response) => {
      if (error) reject(error);
      else resolve(response as Res);
    });
  });
}

/**
 * One client-streaming call as a promise: `write` gets the stream, writes (each `send` resolves
 * once the stream accepts more, so backpressure holds) and returns; the stream is ended after it.
 */
export function clientStreamCall<Req, Res>(
  client: grpc.Client,
  method: ClientStreamMethod<Req, Res>,
  write: (send: (message: Req) => Promise<void>) => Promise<void>,
  options: CallOptions = {},
): Promise<Res> {
  const metadata = injectTrace(options.metadata ?? new grpc.Metadata());
  const deadline = Date.now() + (options.deadlineMs ?? 30_000);
  return new Promise((resolve, reject) => {
    let settled = false;
    const stream = method.call(client, metadata, { deadline }, (error, response) => {
      settled = true;
      if (error) reject(error);
      else resolve(response as Res);
    });
    const send = (message: Req) =>
      new Promise<void>((ok) => {
        if (settled || stream.destroyed) return ok();
        if (stream.write(message)) ok();
        else {
          stream.once("drain", () => ok());
          stream.once("status", () => ok());
        }
      });
    write(send).then(
      () => stream.end(),
      (error: unknown) => {
        stream.cancel();
        if (!settled) reject(error);
      },
    );
  });
}
