import * as grpc from "@grpc/grpc-js";
import { createSm2DigestHash, Sm2PublicKey } from "@piaoju/gm-crypto";
import {
  loadSigningProto,
  type SignatureFormat,
  type SignBatchResultInput,
  type SigningDeviceHandlers,
  type SignRequest,
  type SignResponseInput,
  type SignStreamRequest,
} from "@piaoju/proto/signing";
import {
  AppError,
  clientStreamHandler,
  type ErrorMapper,
  errorCodeMapper,
  GrpcStatus,
  GrpcStatusError,
  type Logger,
  unaryHandler,
} from "@piaoju/runtime";
import type { DeviceConfig } from "./config.ts";
import { type CertificateChain, KeystoreError, listKeyIds, readChain } from "./keystore.ts";
import type { Op, OpResult, RawFormat } from "./ops.ts";
import { WorkerPool } from "./pool.ts";

export const IMPLEMENTATION = "piaoju-software-device/0.1.0";
const SERVICE = "piaoju.signing.v1.SigningDevice";
/** ENTL is a 16-bit count of bits: the longest SM2 user ID is 8191 bytes. */
const MAX_USER_ID_BYTES = 8191;

/** gm-crypto errors that reach a handler are bad input (the workers already name the field). */
export const mapGmCryptoError: ErrorMapper = errorCodeMapper("GmCryptoError", {
  BAD_KEY: "validation",
  BAD_SIGNATURE_FORMAT: "validation",
  BAD_CIPHERTEXT_FORMAT: "validation",
  DECRYPT_FAILED: "validation",
  BAD_INPUT: "validation",
  UNSUPPORTED: "unavailable",
  BAD_CERTIFICATE: "validation",
  BAD_PKCS7: "validation",
  NOT_A_RECIPIENT: "conflict",
  BAD_XML: "validation",
});

interface KeyEntry {
  keyId: string;
  publicKeyDer: Buffer;
  publicKey: Sm2PublicKey;
  chain: CertificateChain | undefined;
}

export interface RunningDevice {
  port: number;
  pool: WorkerPool;
  close(): Promise<void>;
}

function invalid(message: string): GrpcStatusError {
  return new GrpcStatusError(GrpcStatus.INVALID_ARGUMENT, message);
}

function failure(result: Exclude<OpResult, { ok: true }>): GrpcStatusError {
  return new GrpcStatusError(result.code, result.message);
}

/** Loads the keystore into the workers, checks every certificate against its key, and serves. */
export async function startDevice(config: DeviceConfig, logger: Logger): Promise<RunningDevice> {
  const keyIds = listKeyIds(config.keystoreDir);
  if (keyIds.length === 0)
    throw new KeystoreError(`keystore ${config.keystoreDir} holds no <keyId>.key file`);
  const pool = await WorkerPool.start({
    workers: config.workers,
    capacity: config.capacity,
    logger,
    init: { keystoreDir: config.keystoreDir, keystoreKey: config.keystoreKey, keyIds },
  });
  const keys = new Map<string, KeyEntry>();
  try {
    for (const keyId of keyIds) {
      const publicKeyDer = Buffer.from(pool.publicKeys.get(keyId) ?? []);
      const publicKey = Sm2PublicKey.fromDer(publicKeyDer);
      const chain = readChain(config.keystoreDir, keyId);
      if (chain && !Sm2PublicKey.fromDer(chain.publicKey).equals(publicKey)) {
        throw new KeystoreError(`${keyId}.crt.pem is the certificate of another key than ${keyId}.key`);
      }
      keys.set(keyId, { keyId, publicKeyDer, publicKey, chain });
    }
  } catch (error) {
    await pool.close();
    throw error;
  }
  logger.info(
    { keys: [...keys.values()].map((k) => ({ keyId: k.keyId, certificate: k.chain?.fingerprint ?? null })) },
    "keystore loaded",
  );

  const handlerOptions = (method: string) => ({
    method: `${SERVICE}/${method}`,
    logger,
    mapError: mapGmCryptoError,
  });

  function key(keyId: string): KeyEntry {
    if (!keyId) throw invalid("key_id: required");
    const entry = keys.get(keyId);
    if (!entry) throw new AppError("not_found", `key_id: no key "${keyId}" on this device`);
    return entry;
  }

  function checkPayload(field: string, length: number): void {
    if (length > config.maxPayloadBytes) {
      throw new GrpcStatusError(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `${field}: ${length} bytes is over the device's limit of ${config.maxPayloadBytes} bytes (use SignStream for large payloads)`,
      );
    }
  }

  function checkUserId(userId: string | undefined): void {
    if (userId !== undefined && Buffer.byteLength(userId, "utf8") > MAX_USER_ID_BYTES) {
      throw invalid(
        `user_id: ${Buffer.byteLength(userId, "utf8")} bytes is longer than ${MAX_USER_ID_BYTES} bytes`,
      );
    }
  }

  function rawFormat(format: SignatureFormat | number, forStream = false): RawFormat {
    switch (format) {
      case "SIGNATURE_FORMAT_UNSPECIFIED":
      case "SIGNATURE_FORMAT_RAW_DER":
        return "der";
      case "SIGNATURE_FORMAT_RAW_RS":
        return "raw";
      case "SIGNATURE_FORMAT_PKCS7_DETACHED":
      case "SIGNATURE_FORMAT_PKCS7_ATTACHED":
        if (forStream && format === "SIGNATURE_FORMAT_PKCS7_ATTACHED") {
          throw invalid("format: PKCS7_ATTACHED cannot be made from a stream (use PKCS7_DETACHED)");
        }
        throw new GrpcStatusError(
          GrpcStatus.UNIMPLEMENTED,
          `format: ${format} is not available on this device yet`,
        );
      default:
        throw invalid(`format: unknown signature format ${String(format)}`);
    }
  }

  function signOp(request: SignRequest): Op {
    const entry = key(request.keyId);
    checkPayload("data", request.data.length);
    checkUserId(request.userId);
    return {
      kind: "sign",
      keyId: entry.keyId,
      data: request.data,
      userId: request.userId,
      format: rawFormat(request.format),
    };
  }

  function signResponse(
    keyId: string,
    requestId: string,
    format: RawFormat,
    result: OpResult,
  ): SignResponseInput {
    if (!result.ok) throw failure(result);
    if (result.value.kind !== "signature") throw new Error("worker answered a sign with a verdict");
    return {
      signature: Buffer.from(result.value.signature),
      format: format === "der" ? "SIGNATURE_FORMAT_RAW_DER" : "SIGNATURE_FORMAT_RAW_RS",
      certFingerprint: keys.get(keyId)?.chain?.fingerprint ?? "",
      keyId,
      requestId,
    };
  }

  function logFailure(result: OpResult, method: string): void {
    if (!result.ok && result.internal) logger.error({ method, detail: result.internal }, "SM2 worker error");
  }

  const handlers: SigningDeviceHandlers = {
    sign: unaryHandler(handlerOptions("Sign"), async (request: SignRequest) => {
      const op = signOp(request);
      const result = await pool.run(op);
      logFailure(result, "Sign");
      return signResponse(request.keyId, request.requestId, op.kind === "sign" ? op.format : "der", result);
    }),

    verify: unaryHandler(handlerOptions("Verify"), async (request) => {
      checkPayload("data", request.data.length);
      checkUserId(request.userId);
      if (request.signature.length === 0) throw invalid("signature: required");
      const format = rawFormat(request.format);
      let signer: Extract<Op, { kind: "verify" }>["signer"];
      let fingerprint = "";
      if (request.signer === "keyId" && request.keyId !== undefined) {
        const entry = key(request.keyId);
        signer = { keyId: entry.keyId };
        fingerprint = entry.chain?.fingerprint ?? "";
      } else if (request.signer === "certificate" && request.certificate) {
        signer = { certificate: request.certificate };
      } else if (request.signer === "publicKey" && request.publicKey) {
        signer = { publicKey: request.publicKey };
      } else {
        throw invalid("signer: one of key_id, certificate or public_key is required");
      }
      const result = await pool.run({
        kind: "verify",
        signer,
        data: request.data,
        signature: request.signature,
        userId: request.userId,
        format,
      });
      logFailure(result, "Verify");
      if (!result.ok) throw failure(result);
      if (result.value.kind !== "verdict") throw new Error("worker answered a verify with a signature");
      return {
        valid: result.value.valid,
        reason: result.value.reason,
        signerFingerprint: result.value.signerFingerprint || fingerprint,
        requestId: request.requestId,
      };
    }),

    signBatch: unaryHandler(handlerOptions("SignBatch"), async (request) => {
      if (request.items.length > config.maxBatchItems) {
        throw invalid(
          `items: ${request.items.length} items is over the device's limit of ${config.maxBatchItems}`,
        );
      }
      const results: SignBatchResultInput[] = [];
      const ops: Op[] = [];
      const opIndex: number[] = [];
      request.items.forEach((item, index) => {
        try {
          ops.push(signOp(item));
          opIndex.push(index);
          results.push({ index });
        } catch (error) {
          const status =
            error instanceof GrpcStatusError
              ? { code: error.code, message: error.message }
              : error instanceof AppError
                ? {
                    code: error.kind === "not_found" ? GrpcStatus.NOT_FOUND : GrpcStatus.INVALID_ARGUMENT,
                    message: error.message,
                  }
                : { code: GrpcStatus.INTERNAL, message: "internal error" };
          results.push({ index, error: status });
        }
      });
      const done = await pool.runAll(ops);
      done.forEach((result, i) => {
        const index = opIndex[i] as number;
        const item = request.items[index] as SignRequest;
        const op = ops[i] as Extract<Op, { kind: "sign" }>;
        logFailure(result, "SignBatch");
        try {
          results[index] = { index, signature: signResponse(item.keyId, item.requestId, op.format, result) };
        } catch (error) {
          const status =
            error instanceof GrpcStatusError
              ? error
              : new GrpcStatusError(GrpcStatus.INTERNAL, "internal error");
          results[index] = { index, error: { code: status.code, message: status.message } };
        }
      });
      return { results };
    }),

    signStream: clientStreamHandler(handlerOptions("SignStream"), async (call) => {
      let header: { keyId: string; requestId: string; format: RawFormat } | undefined;
      let hash: ReturnType<typeof createSm2DigestHash> | undefined;
      let total = 0;
      for await (const message of call as AsyncIterable<SignStreamRequest>) {
        if (message.part === "header" && message.header) {
          if (header) throw invalid("header: sent twice (only the first message is the header)");
          const h = message.header;
          const entry = key(h.keyId);
          checkUserId(h.userId);
          header = { keyId: entry.keyId, requestId: h.requestId, format: rawFormat(h.format, true) };
          hash = createSm2DigestHash(entry.publicKey, h.userId);
        } else if (message.part === "chunk" && message.chunk) {
          if (!hash) throw invalid("header: the first message must be the header");
          total += message.chunk.length;
          if (total > config.maxStreamBytes) {
            throw new GrpcStatusError(
              GrpcStatus.RESOURCE_EXHAUSTED,
              `chunk: the stream is over the device's limit of ${config.maxStreamBytes} bytes`,
            );
          }
          hash.update(message.chunk);
        } else {
          throw invalid("part: each message must carry a header or a chunk");
        }
      }
      if (!header || !hash) throw invalid("header: the stream ended without a header");
      const result = await pool.run({
        kind: "signDigest",
        keyId: header.keyId,
        digest: hash.digest(),
        format: header.format,
      });
      logFailure(result, "SignStream");
      return signResponse(header.keyId, header.requestId, header.format, result);
    }),

    makeEnvelope: unaryHandler(handlerOptions("MakeEnvelope"), async (request) => {
      checkPayload("content", request.content.length);
      if (request.recipientCertificates.length === 0)
        throw invalid("recipient_certificates: at least one is required");
      throw new GrpcStatusError(GrpcStatus.UNIMPLEMENTED, "MakeEnvelope is not available on this device yet");
    }),

    openEnvelope: unaryHandler(handlerOptions("OpenEnvelope"), async (request) => {
      key(request.keyId);
      checkPayload("envelope", request.envelope.length);
      throw new GrpcStatusError(GrpcStatus.UNIMPLEMENTED, "OpenEnvelope is not available on this device yet");
    }),

    getCertificate: unaryHandler(handlerOptions("GetCertificate"), async (request) => {
      const entry = key(request.keyId);
      if (!entry.chain) {
        throw new AppError("conflict", `key "${entry.keyId}" has no certificate on this device`, {
          code: "NO_CERTIFICATE",
        });
      }
      return {
        keyId: entry.keyId,
        certificate: entry.chain.chain[0],
        chain: entry.chain.chain,
        chainPem: entry.chain.chainPem,
        fingerprint: entry.chain.fingerprint,
        publicKey: entry.publicKeyDer,
      };
    }),

    listKeys: unaryHandler(handlerOptions("ListKeys"), async () => ({
      keys: [...keys.values()].map((entry) => ({
        keyId: entry.keyId,
        publicKey: entry.publicKeyDer,
        hasCertificate: entry.chain !== undefined,
        certFingerprint: entry.chain?.fingerprint ?? "",
        subject: entry.chain?.subject ?? "",
        notBefore: entry.chain?.notBefore ?? "",
        notAfter: entry.chain?.notAfter ?? "",
      })),
    })),

    health: unaryHandler(handlerOptions("Health"), async () => {
      const stats = pool.stats;
      return {
        status: stats.workers > 0 && !closing ? "SERVING" : "NOT_SERVING",
        inFlight: stats.inFlight,
        queueDepth: stats.queueDepth,
        capacity: stats.capacity,
        workers: stats.workers,
        keysLoaded: keys.size,
        implementation: IMPLEMENTATION,
        maxPayloadBytes: config.maxPayloadBytes,
        maxStreamBytes: config.maxStreamBytes,
        maxBatchItems: config.maxBatchItems,
      };
    }),
  };

  let closing = false;
  const server = new grpc.Server({
    // Room for the largest payload plus the envelope of the message; SignBatch items share it.
    "grpc.max_receive_message_length": config.maxPayloadBytes + 1024 * 1024,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
  });
  server.addService(loadSigningProto().service, handlers);
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(config.listen, grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
  } catch (error) {
    await pool.close();
    throw error;
  }
  return {
    port,
    pool,
    async close() {
      closing = true;
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await pool.close();
    },
  };
}
