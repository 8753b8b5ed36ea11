import * as grpc from "@grpc/grpc-js";
import {
  loadSigningProto,
  type SignBatchRequest,
  type SigningDeviceHandlers,
  type SignRequest,
  type SignRequestInput,
  type SignResponse,
  type SignStreamRequest,
  type SignStreamRequestInput,
  type VerifyBatchRequest,
  type VerifyRequest,
  type VerifyRequestInput,
} from "@piaoju/proto/signing";
import { clientStreamHandler, createLogger, type Logger, unaryHandler } from "@piaoju/runtime";
import { clientCredentials, serverCredentials } from "@piaoju/service-identity";
import { guardHandlers } from "@piaoju/signing-core";
import { type GatewayOptions, type GatewayOptionsInput, gatewayOptionsSchema } from "./options.ts";
import { type GatewayStats, Router } from "./router.ts";

/**
 * The signing gateway's gRPC face: it serves piaoju.signing.v1.SigningDevice itself, so a caller
 * cannot tell it from a device, and hands every call to the Router (device choice, deadlines,
 * breaker, retry on the other device, batching). Statuses of the device pass through unchanged.
 */

const SERVICE = "piaoju.signing.v1.SigningDevice";
/** The identity a device's certificate must name. */
export const DEVICE_IDENTITY = "signing-device";

export interface RunningGateway {
  /** host:port the gateway serves on (the real port when `listen` asked for port 0). */
  address: string;
  port: number;
  router: Router;
  stats(): GatewayStats;
  close(): Promise<void>;
}

/** A call's deadline: the caller's own when it sent one, else now + `fallbackMs`. */
function deadlineOf(call: { getDeadline(): grpc.Deadline }, fallbackMs: number): number {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  return Number.isFinite(ms) && ms > 0 ? ms : Date.now() + fallbackMs;
}

/** A received SignRequest as the device should get it (absent user ID stays absent). */
export function signInput(r: SignRequest): SignRequestInput {
  return {
    keyId: r.keyId,
    data: r.data,
    format: r.format,
    requestId: r.requestId,
    profile: r.profile,
    ...(r.userId !== undefined ? { userId: r.userId } : {}),
  };
}

function verifyInput(r: VerifyRequest): VerifyRequestInput {
  const signer =
    r.signer === "keyId"
      ? { keyId: r.keyId }
      : r.signer === "certificate"
        ? { certificate: r.certificate }
        : r.signer === "publicKey"
          ? { publicKey: r.publicKey }
          : {};
  return {
    ...signer,
    data: r.data,
    signature: r.signature,
    format: r.format,
    requestId: r.requestId,
    ...(r.userId !== undefined ? { userId: r.userId } : {}),
  };
}

function streamInput(m: SignStreamRequest): SignStreamRequestInput {
  if (m.part === "header" && m.header) {
    const h = m.header;
    return {
      header: {
        keyId: h.keyId,
        format: h.format,
        requestId: h.requestId,
        profile: h.profile,
        ...(h.userId !== undefined ? { userId: h.userId } : {}),
      },
    };
  }
  if (m.part === "chunk" && m.chunk) return { chunk: m.chunk };
  return {};
}

export function gatewayHandlers(
  router: Router,
  options: GatewayOptions,
  logger: Logger,
): SigningDeviceHandlers {
  const opts = (method: string) => ({ method: `${SERVICE}/${method}`, logger });
  const fallback = options.deadlines.defaultMs;
  return {
    sign: unaryHandler(opts("Sign"), (request: SignRequest, call) =>
      router.sign(signInput(request), deadlineOf(call, fallback)),
    ),
    verify: unaryHandler(opts("Verify"), (request: VerifyRequest, call) =>
      router.verify(verifyInput(request), deadlineOf(call, fallback)),
    ),
    verifyBatch: unaryHandler(opts("VerifyBatch"), (request: VerifyBatchRequest, call) =>
      router.unary("VerifyBatch", { items: request.items.map(verifyInput) }, deadlineOf(call, fallback)),
    ),
    signBatch: unaryHandler(opts("SignBatch"), (request: SignBatchRequest, call) =>
      router.unary("SignBatch", { items: request.items.map(signInput) }, deadlineOf(call, fallback)),
    ),
    signStream: clientStreamHandler(opts("SignStream"), (call) =>
      router.signStream<SignStreamRequestInput, SignResponse>(
        async (send) => {
          for await (const message of call as AsyncIterable<SignStreamRequest>)
            await send(streamInput(message));
        },
        deadlineOf(call, options.deadlines.streamMs),
      ),
    ),
    makeEnvelope: unaryHandler(opts("MakeEnvelope"), (request, call) =>
      router.unary("MakeEnvelope", { ...request }, deadlineOf(call, fallback)),
    ),
    openEnvelope: unaryHandler(opts("OpenEnvelope"), (request, call) =>
      router.unary("OpenEnvelope", { ...request }, deadlineOf(call, fallback)),
    ),
    getCertificate: unaryHandler(opts("GetCertificate"), (request, call) =>
      router.unary("GetCertificate", { keyId: request.keyId }, deadlineOf(call, fallback)),
    ),
    createCertificationRequest: unaryHandler(opts("CreateCertificationRequest"), (request, call) =>
      router.unary("CreateCertificationRequest", { ...request }, deadlineOf(call, fallback)),
    ),
    listKeys: unaryHandler(opts("ListKeys"), (_request, call) =>
      router.unary("ListKeys", {}, deadlineOf(call, fallback)),
    ),
    // The gateway's own health: SERVING while at least one device is; the load is the devices' sum.
    health: unaryHandler(opts("Health"), (_request, call) =>
      router.unary("Health", {}, deadlineOf(call, options.deadlines.healthMs)),
    ),
  };
}

/**
 * Starts a gateway in this process: `startSigningGateway({ devices: ["127.0.0.1:50051",
 * "127.0.0.1:50052"], mode: "active-standby" })` → `{ address, port, stats(), close() }`.
 * Resolves once it serves and every device has been polled once.
 */
export async function startSigningGateway(
  input: GatewayOptionsInput,
  logger: Logger = createLogger({ name: "signing-gateway", level: "warn", destination: process.stderr }),
): Promise<RunningGateway> {
  const { tls, plaintext, isAgencyKey, ...rest } = input;
  if (!tls && plaintext !== true) {
    throw new Error("the signing gateway needs its TLS identity (tls), or plaintext: true for development");
  }
  const options = gatewayOptionsSchema.parse(rest);
  const router = new Router(
    options,
    logger,
    tls ? clientCredentials(tls, [DEVICE_IDENTITY]) : grpc.credentials.createInsecure(),
  );
  await router.start();
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
  });
  const handlers = gatewayHandlers(router, options, logger);
  // Callers authenticated by their certificate, then the signing policy (@piaoju/signing-core).
  server.addService(
    loadSigningProto().service,
    tls
      ? guardHandlers(handlers, { endpoint: "gateway", isAgencyKey: isAgencyKey ?? (() => false), logger })
      : handlers,
  );
  if (!tls)
    logger.warn(
      { listen: options.listen },
      "signing gateway serving and calling devices in PLAINTEXT (development only)",
    );
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        options.listen,
        tls ? serverCredentials(tls) : grpc.ServerCredentials.createInsecure(),
        (error, bound) => (error ? reject(error) : resolve(bound)),
      ),
    );
  } catch (error) {
    router.close();
    throw error;
  }
  const host = options.listen.slice(0, options.listen.lastIndexOf(":"));
  logger.info({ port, mode: options.mode, devices: options.devices }, "signing gateway serving");
  return {
    address: `${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
    port,
    router,
    stats: () => router.stats(),
    async close() {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      router.close();
    },
  };
}

export type { GatewayOptions, GatewayOptionsInput } from "./options.ts";
export type { GatewayStats, SwitchEvent } from "./router.ts";
