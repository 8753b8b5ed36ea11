import * as grpc from "@grpc/grpc-js";
import { certificationRequestPem, createSm2DigestHash, createSm3, Sm2PublicKey } from "@piaoju/gm-crypto";
import {
  loadSigningProto,
  type Pkcs7Profile,
  type SignatureFormat,
  type SignBatchResultInput,
  type SigningDeviceHandlers,
  type SignRequest,
  type SignResponseInput,
  type SignStreamRequest,
  type VerifyBatchResultInput,
  type VerifyRequest,
  type VerifyResponseInput,
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
import { serverCredentials } from "@piaoju/service-identity";
import { guardHandlers } from "./access.ts";
import type { DeviceConfig } from "./config.ts";
import { type CertificateChain, KeystoreError, listKeyIds, readChain } from "./keystore.ts";
import type { Op, OpResult, ProfileName, RawFormat } from "./ops.ts";

/** What a Sign asks for: a bare SM2 signature (DER or r‖s) or a PKCS#7 SignedData. */
type SignFormat = RawFormat | "pkcs7-detached" | "pkcs7-attached" | "xml-enveloped";

const FORMAT_NAMES: Record<SignFormat, SignatureFormat> = {
  der: "SIGNATURE_FORMAT_RAW_DER",
  raw: "SIGNATURE_FORMAT_RAW_RS",
  "pkcs7-detached": "SIGNATURE_FORMAT_PKCS7_DETACHED",
  "pkcs7-attached": "SIGNATURE_FORMAT_PKCS7_ATTACHED",
  "xml-enveloped": "SIGNATURE_FORMAT_XML_ENVELOPED",
};

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

  function signFormat(format: SignatureFormat | number, forStream = false): SignFormat {
    switch (format) {
      case "SIGNATURE_FORMAT_UNSPECIFIED":
      case "SIGNATURE_FORMAT_RAW_DER":
        return "der";
      case "SIGNATURE_FORMAT_RAW_RS":
        return "raw";
      case "SIGNATURE_FORMAT_PKCS7_DETACHED":
        return "pkcs7-detached";
      case "SIGNATURE_FORMAT_PKCS7_ATTACHED":
        if (forStream) {
          throw invalid("format: PKCS7_ATTACHED cannot be made from a stream (use PKCS7_DETACHED)");
        }
        return "pkcs7-attached";
      case "SIGNATURE_FORMAT_XML_ENVELOPED":
        if (forStream) throw invalid("format: XML_ENVELOPED cannot be made from a stream (use Sign)");
        return "xml-enveloped";
      default:
        throw invalid(`format: unknown signature format ${String(format)}`);
    }
  }

  /** The peer's PKCS#7 form; an enum value this build does not know is refused, never defaulted. */
  function profileOf(profile: Pkcs7Profile | number | undefined): ProfileName {
    switch (profile) {
      case undefined:
      case "PKCS7_PROFILE_UNSPECIFIED":
      case "PKCS7_PROFILE_DEFAULT":
        return "default";
      case "PKCS7_PROFILE_GMSSL":
        return "gmssl";
      case "PKCS7_PROFILE_GMT0010":
        return "gmt0010";
      default:
        throw invalid(`profile: unknown PKCS#7 profile ${String(profile)}`);
    }
  }

  function isPkcs7(format: SignFormat): format is "pkcs7-detached" | "pkcs7-attached" {
    return format === "pkcs7-detached" || format === "pkcs7-attached";
  }

  /** PKCS#7 carries the signer's certificate: a key without one cannot make it. */
  function requireCertificate(entry: KeyEntry): void {
    if (!entry.chain) {
      throw new GrpcStatusError(
        GrpcStatus.FAILED_PRECONDITION,
        `key_id: key "${entry.keyId}" has no certificate on this device (PKCS#7 needs one)`,
      );
    }
  }

  function signOp(request: SignRequest): { op: Op; format: SignFormat } {
    const entry = key(request.keyId);
    checkPayload("data", request.data.length);
    checkUserId(request.userId);
    const format = signFormat(request.format);
    if (format === "xml-enveloped") {
      requireCertificate(entry);
      return {
        format,
        op: { kind: "signXml", keyId: entry.keyId, data: request.data, userId: request.userId },
      };
    }
    if (isPkcs7(format)) {
      requireCertificate(entry);
      return {
        format,
        op: {
          kind: "signPkcs7",
          keyId: entry.keyId,
          data: request.data,
          userId: request.userId,
          detached: format === "pkcs7-detached",
          profile: profileOf(request.profile),
        },
      };
    }
    return {
      format,
      op: { kind: "sign", keyId: entry.keyId, data: request.data, userId: request.userId, format },
    };
  }

  function signResponse(
    keyId: string,
    requestId: string,
    format: SignFormat,
    result: OpResult,
  ): SignResponseInput {
    if (!result.ok) throw failure(result);
    if (result.value.kind !== "signature") throw new Error("worker answered a sign with something else");
    return {
      signature: Buffer.from(result.value.signature),
      format: FORMAT_NAMES[format],
      certFingerprint: keys.get(keyId)?.chain?.fingerprint ?? "",
      keyId,
      requestId,
    };
  }

  /** The worker op of one Verify (or VerifyBatch item), and the key's fingerprint when a key_id named the signer. */
  function verifyOp(request: VerifyRequest): { op: Op; fingerprint: string } {
    checkPayload("data", request.data.length);
    checkUserId(request.userId);
    if (request.signature.length === 0) throw invalid("signature: required");
    const format = signFormat(request.format);
    let signer: Extract<Op, { kind: "verify" }>["signer"] | undefined;
    let fingerprint = "";
    if (request.signer === "keyId" && request.keyId !== undefined) {
      const entry = key(request.keyId);
      signer = { keyId: entry.keyId };
      fingerprint = entry.chain?.fingerprint ?? "";
    } else if (request.signer === "certificate" && request.certificate) {
      signer = { certificate: request.certificate };
    } else if (request.signer === "publicKey" && request.publicKey) {
      signer = { publicKey: request.publicKey };
    } else if (!isPkcs7(format) && format !== "xml-enveloped") {
      throw invalid("signer: one of key_id, certificate or public_key is required");
    }
    if (format === "xml-enveloped") {
      return {
        op: { kind: "verifyXml", signer, document: request.signature, userId: request.userId },
        fingerprint,
      };
    }
    const op: Op = isPkcs7(format)
      ? {
          kind: "verifyPkcs7",
          signer,
          data: request.data,
          signature: request.signature,
          userId: request.userId,
          attached: format === "pkcs7-attached",
        }
      : {
          kind: "verify",
          signer: signer as NonNullable<typeof signer>,
          data: request.data,
          signature: request.signature,
          userId: request.userId,
          format,
        };
    return { op, fingerprint };
  }

  function verdictOf(request: VerifyRequest, fingerprint: string, result: OpResult): VerifyResponseInput {
    if (!result.ok) throw failure(result);
    if (result.value.kind !== "verdict") throw new Error("worker answered a verify with something else");
    return {
      valid: result.value.valid,
      reason: result.value.reason,
      signerFingerprint: result.value.signerFingerprint || fingerprint,
      requestId: request.requestId,
    };
  }

  /** The status one batch item would have had as its own call. */
  function itemError(error: unknown): { code: number; message: string } {
    if (error instanceof GrpcStatusError) return { code: error.code, message: error.message };
    if (error instanceof AppError) {
      return {
        code: error.kind === "not_found" ? GrpcStatus.NOT_FOUND : GrpcStatus.INVALID_ARGUMENT,
        message: error.message,
      };
    }
    return { code: GrpcStatus.INTERNAL, message: "internal error" };
  }

  function logFailure(result: OpResult, method: string): void {
    if (!result.ok && result.internal) logger.error({ method, detail: result.internal }, "SM2 worker error");
  }

  const handlers: SigningDeviceHandlers = {
    sign: unaryHandler(handlerOptions("Sign"), async (request: SignRequest) => {
      const { op, format } = signOp(request);
      const result = await pool.run(op);
      logFailure(result, "Sign");
      return signResponse(request.keyId, request.requestId, format, result);
    }),

    verify: unaryHandler(handlerOptions("Verify"), async (request) => {
      const { op, fingerprint } = verifyOp(request);
      const result = await pool.run(op);
      logFailure(result, "Verify");
      return verdictOf(request, fingerprint, result);
    }),

    verifyBatch: unaryHandler(handlerOptions("VerifyBatch"), async (request) => {
      if (request.items.length > config.maxBatchItems) {
        throw invalid(
          `items: ${request.items.length} items is over the device's limit of ${config.maxBatchItems}`,
        );
      }
      const results: VerifyBatchResultInput[] = [];
      const ops: Op[] = [];
      const planned: { index: number; fingerprint: string }[] = [];
      request.items.forEach((item, index) => {
        try {
          const { op, fingerprint } = verifyOp(item);
          ops.push(op);
          planned.push({ index, fingerprint });
          results.push({ index });
        } catch (error) {
          results.push({ index, error: itemError(error) });
        }
      });
      const done = await pool.runAll(ops);
      done.forEach((result, i) => {
        const { index, fingerprint } = planned[i]!;
        logFailure(result, "VerifyBatch");
        try {
          results[index] = { index, verdict: verdictOf(request.items[index]!, fingerprint, result) };
        } catch (error) {
          results[index] = { index, error: itemError(error) };
        }
      });
      return { results };
    }),

    signBatch: unaryHandler(handlerOptions("SignBatch"), async (request) => {
      if (request.items.length > config.maxBatchItems) {
        throw invalid(
          `items: ${request.items.length} items is over the device's limit of ${config.maxBatchItems}`,
        );
      }
      const results: SignBatchResultInput[] = [];
      const ops: Op[] = [];
      const formats: SignFormat[] = [];
      const opIndex: number[] = [];
      request.items.forEach((item, index) => {
        try {
          const { op, format } = signOp(item);
          ops.push(op);
          formats.push(format);
          opIndex.push(index);
          results.push({ index });
        } catch (error) {
          results.push({ index, error: itemError(error) });
        }
      });
      const done = await pool.runAll(ops);
      done.forEach((result, i) => {
        const index = opIndex[i] as number;
        const item = request.items[index] as SignRequest;
        logFailure(result, "SignBatch");
        try {
          results[index] = {
            index,
            signature: signResponse(item.keyId, item.requestId, formats[i] as SignFormat, result),
          };
        } catch (error) {
          results[index] = { index, error: itemError(error) };
        }
      });
      return { results };
    }),

    signStream: clientStreamHandler(handlerOptions("SignStream"), async (call) => {
      let header:
        | {
            keyId: string;
            requestId: string;
            format: SignFormat;
            userId?: string | undefined;
            profile: ProfileName;
          }
        | undefined;
      // Bare signatures hash Z_A ‖ M; a PKCS#7 SignedData signs attributes holding plain SM3(M).
      let hash: { update(chunk: Uint8Array): unknown; digest(): Uint8Array } | undefined;
      let total = 0;
      for await (const message of call as AsyncIterable<SignStreamRequest>) {
        if (message.part === "header" && message.header) {
          if (header) throw invalid("header: sent twice (only the first message is the header)");
          const h = message.header;
          const entry = key(h.keyId);
          checkUserId(h.userId);
          const format = signFormat(h.format, true);
          if (isPkcs7(format)) requireCertificate(entry);
          header = {
            keyId: entry.keyId,
            requestId: h.requestId,
            format,
            userId: h.userId,
            profile: profileOf(h.profile),
          };
          hash = isPkcs7(format) ? createSm3() : createSm2DigestHash(entry.publicKey, h.userId);
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
      const digest = hash.digest();
      const op: Op =
        header.format === "der" || header.format === "raw"
          ? { kind: "signDigest", keyId: header.keyId, digest, format: header.format }
          : {
              kind: "signPkcs7",
              keyId: header.keyId,
              digest,
              userId: header.userId,
              detached: true,
              profile: header.profile,
            };
      const result = await pool.run(op);
      logFailure(result, "SignStream");
      return signResponse(header.keyId, header.requestId, header.format, result);
    }),

    makeEnvelope: unaryHandler(handlerOptions("MakeEnvelope"), async (request) => {
      checkPayload("content", request.content.length);
      if (request.recipientCertificates.length === 0)
        throw invalid("recipient_certificates: at least one is required");
      const result = await pool.run({
        kind: "makeEnvelope",
        recipients: request.recipientCertificates,
        content: request.content,
        profile: profileOf(request.profile),
      });
      logFailure(result, "MakeEnvelope");
      if (!result.ok) throw failure(result);
      if (result.value.kind !== "envelope")
        throw new Error("worker answered MakeEnvelope with something else");
      return { envelope: Buffer.from(result.value.envelope), requestId: request.requestId };
    }),

    openEnvelope: unaryHandler(handlerOptions("OpenEnvelope"), async (request) => {
      const entry = key(request.keyId);
      checkPayload("envelope", request.envelope.length);
      if (request.envelope.length === 0) throw invalid("envelope: required");
      requireCertificate(entry);
      const result = await pool.run({ kind: "openEnvelope", keyId: entry.keyId, envelope: request.envelope });
      logFailure(result, "OpenEnvelope");
      if (!result.ok) throw failure(result);
      if (result.value.kind !== "content")
        throw new Error("worker answered OpenEnvelope with something else");
      return { content: Buffer.from(result.value.content), requestId: request.requestId };
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

    createCertificationRequest: unaryHandler(
      handlerOptions("CreateCertificationRequest"),
      async (request) => {
        const entry = key(request.keyId);
        if (!request.commonName) throw invalid("common_name: required");
        const optional = (name: "organization" | "organizationalUnit" | "country") =>
          request[name] ? { [name]: request[name] } : {};
        const result = await pool.run({
          kind: "makeCsr",
          keyId: entry.keyId,
          subject: {
            commonName: request.commonName,
            ...optional("organization"),
            ...optional("organizationalUnit"),
            ...optional("country"),
          },
        });
        logFailure(result, "CreateCertificationRequest");
        if (!result.ok) throw failure(result);
        if (result.value.kind !== "csr") throw new Error("worker answered a CSR with something else");
        const der = Buffer.from(result.value.der);
        return { certificationRequest: der, pem: certificationRequestPem(der), requestId: request.requestId };
      },
    ),

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
  // Mutual TLS: callers authenticated by their certificate, then the signing policy (access.ts).
  server.addService(
    loadSigningProto().service,
    config.tls ? guardHandlers(handlers, { endpoint: "device", isAgencyKey: () => false, logger }) : handlers,
  );
  if (!config.tls)
    logger.warn(
      { listen: config.listen },
      "signing device serving PLAINTEXT, unauthenticated (development only)",
    );
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        config.listen,
        config.tls ? serverCredentials(config.tls) : grpc.ServerCredentials.createInsecure(),
        (error, bound) => (error ? reject(error) : resolve(bound)),
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
