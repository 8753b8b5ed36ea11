import * as grpc from "@grpc/grpc-js";
import { context, trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { GmCryptoError, Sm2PublicKey } from "@piaoju/gm-crypto";
import {
  loadSigningProto,
  type SigningDeviceClient,
  type SigningDeviceHandlers,
} from "@piaoju/proto/signing";
import {
  AppError,
  clientStreamHandler,
  createLogger,
  GrpcStatusError,
  startTelemetry,
  type Telemetry,
  tracingInterceptor,
  unaryCall,
  unaryHandler,
} from "@piaoju/runtime";
import { mapGmCryptoError } from "@piaoju/signing-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The frame's gRPC helpers (packages/runtime/src/grpc.ts) over real gRPC on 127.0.0.1, with the
 * signing proto as the service: traces continue across the call, errors become clear statuses.
 */

const spans = new InMemorySpanExporter();
let telemetry: Telemetry;
let server: grpc.Server;
let client: SigningDeviceClient;
let seenDeadline: Date | number | undefined;

beforeAll(async () => {
  telemetry = startTelemetry({ serviceName: "grpc-frame-test", spanExporter: spans });
  const logger = createLogger({ name: "grpc-frame-test", level: "silent" });
  const options = (method: string) => ({ method, logger, mapError: mapGmCryptoError });
  const handlers: Partial<SigningDeviceHandlers> = {
    health: unaryHandler(options("Health"), async (_request, call) => {
      seenDeadline = call.getDeadline();
      return { status: "SERVING" };
    }),
    sign: unaryHandler(options("Sign"), async (request) => {
      switch (request.keyId) {
        case "app-error":
          throw new AppError("not_found", 'key_id: no key "app-error"');
        case "gm-crypto":
          return { signature: Sm2PublicKey.fromDer(Buffer.from("junk")).toDer() };
        case "gm-unmapped":
          throw new GmCryptoError("UNSUPPORTED", "no sm3 here");
        case "status":
          throw new GrpcStatusError(grpc.status.RESOURCE_EXHAUSTED, "too big");
        default:
          throw new Error("password=hunter2 at /secret/path.ts:42");
      }
    }),
    signStream: clientStreamHandler(options("SignStream"), async (call) => {
      for await (const _ of call) throw new AppError("validation", "chunk: no");
      return {};
    }),
  };
  server = new grpc.Server();
  server.addService(loadSigningProto().service, handlers as SigningDeviceHandlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  client = loadSigningProto().newClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    interceptors: [tracingInterceptor({ deadlineMs: 1234 })],
  });
});

afterAll(async () => {
  client?.close();
  server?.forceShutdown();
  await telemetry?.shutdown();
});

async function failure(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
  } catch (error) {
    return error as { code: number; details: string };
  }
  throw new Error("the call succeeded");
}

describe("tracing", () => {
  it("the server span continues the caller's trace through the client span", async () => {
    spans.reset();
    const tracer = trace.getTracer("test");
    const root = tracer.startSpan("caller");
    await context.with(
      trace.setSpan(context.active(), root),
      () =>
        new Promise((resolve, reject) =>
          client.Health({}, new grpc.Metadata(), {}, (error, response) =>
            error ? reject(error) : resolve(response),
          ),
        ),
    );
    root.end();
    // The SDK exports once the resource's detectors have settled: wait for the three spans.
    const deadline = Date.now() + 5000;
    while (spans.getFinishedSpans().length < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const finished = spans.getFinishedSpans();
    const server = finished.find((s) => s.name === "Health");
    const clientSpan = finished.find((s) => s.name === "piaoju.signing.v1.SigningDevice/Health");
    expect(server?.spanContext().traceId).toBe(root.spanContext().traceId);
    expect(clientSpan?.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(server?.parentSpanContext?.spanId).toBe(clientSpan?.spanContext().spanId);
    expect(server?.kind).toBe(1); // SERVER
  });

  it("the interceptor gives a call without a deadline one", async () => {
    const before = Date.now();
    await unaryCall(client, client.Health, {}, { deadlineMs: 60_000 });
    // unaryCall's own deadline wins over the interceptor's default.
    expect(Number(seenDeadline)).toBeGreaterThanOrEqual(before + 59_000);
    await new Promise((resolve, reject) =>
      client.Health({}, new grpc.Metadata(), {}, (error, response) =>
        error ? reject(error) : resolve(response),
      ),
    );
    expect(Number(seenDeadline)).toBeLessThanOrEqual(Date.now() + 1234);
  });
});

describe("errors become statuses", () => {
  it("AppError by kind, GrpcStatusError as is, gm-crypto errors through the mapper", async () => {
    expect(await failure(unaryCall(client, client.Sign, { keyId: "app-error" }))).toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: 'key_id: no key "app-error"',
    });
    expect(await failure(unaryCall(client, client.Sign, { keyId: "status" }))).toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: "too big",
    });
    const gm = await failure(unaryCall(client, client.Sign, { keyId: "gm-crypto" }));
    expect(gm.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(gm.details.length).toBeGreaterThan(0);
    expect((await failure(unaryCall(client, client.Sign, { keyId: "gm-unmapped" }))).code).toBe(
      grpc.status.UNAVAILABLE,
    );
  });

  it("anything else is INTERNAL with a trace id and no internals", async () => {
    const answer = await failure(unaryCall(client, client.Sign, { keyId: "boom" }));
    expect(answer.code).toBe(grpc.status.INTERNAL);
    expect(answer.details).toMatch(/^internal error \(trace [0-9a-f]{32}\)$/);
    expect(answer.details).not.toContain("0".repeat(32));
    expect(answer.details).not.toContain("hunter2");
  });

  it("a client stream that fails mid-way answers its status", async () => {
    const answer = await new Promise<grpc.ServiceError>((resolve) => {
      const stream = client.SignStream(new grpc.Metadata(), {}, (error) =>
        resolve(error as grpc.ServiceError),
      );
      stream.write({ chunk: Buffer.from("x") });
      stream.end();
    });
    expect(answer.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(answer.details).toBe("chunk: no");
  });
});
