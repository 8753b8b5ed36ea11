import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import {
  Certificate,
  GmCryptoError,
  Sm2PrivateKey,
  Sm2PublicKey,
  sign,
  signDigest,
  verify,
} from "@piaoju/gm-crypto";
import { KeystoreError, keyFilePath, openPrivateKey } from "./keystore.ts";
import type { FromWorker, Op, OpResult, OpValue, Signer, ToWorker, WorkerInit } from "./ops.ts";

/**
 * One SM2 worker thread. It alone holds the private keys (decrypted here from the keystore
 * files), runs the chunks of ops the pool sends and answers each op with a value or a status.
 */

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const INTERNAL = 13;

const port = parentPort;
if (!port) throw new Error("worker.ts runs as a worker thread only");
const init = workerData as WorkerInit;
const keys = new Map<string, Sm2PrivateKey>();

class OpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function post(message: FromWorker): void {
  port?.postMessage(message);
}

try {
  for (const keyId of init.keyIds) {
    const file = readFileSync(keyFilePath(init.keystoreDir, keyId));
    const der = openPrivateKey(keyId, file, init.keystoreKey);
    try {
      keys.set(keyId, Sm2PrivateKey.fromDer(der));
    } catch (error) {
      throw new KeystoreError(`${keyId}.key decrypts to something that is not an SM2 private key`, {
        cause: error,
      });
    } finally {
      der.fill(0);
    }
  }
  post({
    type: "ready",
    keys: [...keys].map(([keyId, key]) => ({ keyId, publicKey: key.publicKey.toDer() })),
  });
} catch (error) {
  post({
    type: "failed",
    message: error instanceof KeystoreError ? error.message : `cannot load the keystore: ${String(error)}`,
  });
}

port.on("message", (message: ToWorker) => {
  if (message.type !== "run") return;
  post({ type: "done", chunk: message.chunk, results: message.ops.map(run) });
});

function run(op: Op): OpResult {
  try {
    return { ok: true, value: execute(op) };
  } catch (error) {
    if (error instanceof OpError) return { ok: false, code: error.code, message: error.message };
    return {
      ok: false,
      code: INTERNAL,
      message: "internal error",
      internal: error instanceof Error ? (error.stack ?? error.message) : String(error),
    };
  }
}

function privateKey(keyId: string): Sm2PrivateKey {
  const key = keys.get(keyId);
  if (!key) throw new OpError(NOT_FOUND, `key_id: no key "${keyId}" on this device`);
  return key;
}

/** Runs `fn`; a GmCryptoError it throws becomes INVALID_ARGUMENT naming `field`. */
function about<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof GmCryptoError) throw new OpError(INVALID_ARGUMENT, `${field}: ${error.message}`);
    throw error;
  }
}

function publicKeyOf(signer: Signer): { key: Sm2PublicKey; fingerprint: string } {
  if ("keyId" in signer) return { key: privateKey(signer.keyId).publicKey, fingerprint: "" };
  if ("publicKey" in signer) {
    return { key: about("public_key", () => Sm2PublicKey.fromDer(signer.publicKey)), fingerprint: "" };
  }
  // Only certificates with an SM2 key parse (BAD_CERTIFICATE otherwise, named "certificate: …").
  const certificate = about("certificate", () => Certificate.fromDer(signer.certificate));
  return { key: certificate.publicKey, fingerprint: certificate.fingerprintSm3() };
}

function execute(op: Op): OpValue {
  switch (op.kind) {
    case "sign": {
      const key = privateKey(op.keyId);
      const signature = about("user_id", () =>
        sign(op.data, key, { format: op.format, ...(op.userId === undefined ? {} : { userId: op.userId }) }),
      );
      return { kind: "signature", signature };
    }
    case "signDigest": {
      const key = privateKey(op.keyId);
      return {
        kind: "signature",
        signature: about("digest", () => signDigest(op.digest, key, { format: op.format })),
      };
    }
    case "verify": {
      const { key, fingerprint } = publicKeyOf(op.signer);
      const valid = about("signature", () =>
        verify(op.data, op.signature, key, {
          format: op.format,
          ...(op.userId === undefined ? {} : { userId: op.userId }),
        }),
      );
      return {
        kind: "verdict",
        valid,
        reason: valid ? "" : "signature does not match the data, the signer's public key and the user ID",
        signerFingerprint: fingerprint,
      };
    }
  }
}
