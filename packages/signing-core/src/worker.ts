import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import {
  Certificate,
  createCertificationRequest,
  createEnvelopedData,
  createSignedData,
  createSignedDataFromDigest,
  GmCryptoError,
  openEnvelopedData,
  PKCS7_PROFILES,
  Sm2PrivateKey,
  Sm2PublicKey,
  sign,
  signDigest,
  signXml,
  verify,
  verifySignedData,
  verifyXml,
} from "@piaoju/gm-crypto";
import { KeystoreError, keyFilePath, openPrivateKey, readChain } from "./keystore.ts";
import type { FromWorker, Op, OpResult, OpValue, Signer, ToWorker, WorkerInit } from "./ops.ts";

/**
 * One SM2 worker thread. It alone holds the private keys (decrypted here from the keystore
 * files), runs the chunks of ops the pool sends and answers each op with a value or a status.
 */

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;
const INTERNAL = 13;

const port = parentPort;
if (!port) throw new Error("worker.ts runs as a worker thread only");
const init = workerData as WorkerInit;
const keys = new Map<string, Sm2PrivateKey>();
/** Each key's certificate and the rest of its chain, for PKCS#7 (the main thread checked they match). */
const certificates = new Map<string, { leaf: Certificate; chain: Certificate[] }>();

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
    const chain = readChain(init.keystoreDir, keyId);
    if (chain) {
      const [leaf, ...rest] = chain.chain.map((cert) => Certificate.fromDer(cert));
      if (leaf) certificates.set(keyId, { leaf, chain: rest });
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

function certificateOf(keyId: string): { leaf: Certificate; chain: Certificate[] } {
  privateKey(keyId);
  const found = certificates.get(keyId);
  if (!found) {
    throw new OpError(
      FAILED_PRECONDITION,
      `key "${keyId}" has no certificate on this device (PKCS#7 needs one)`,
    );
  }
  return found;
}

function optionalUserId(userId: string | undefined): { userId?: string } {
  return userId === undefined ? {} : { userId };
}

function signPkcs7(op: Extract<Op, { kind: "signPkcs7" }>): OpValue {
  const { leaf, chain } = certificateOf(op.keyId);
  const common = {
    signerKey: privateKey(op.keyId),
    signerCert: leaf,
    chain,
    signatureAlgorithm: PKCS7_PROFILES[op.profile].signatureAlgorithm,
    ...optionalUserId(op.userId),
  };
  const signature = about("data", () =>
    op.digest
      ? createSignedDataFromDigest({ ...common, digest: op.digest })
      : createSignedData({ ...common, content: op.data ?? new Uint8Array(), detached: op.detached }),
  );
  return { kind: "signature", signature };
}

/** Whether `signer` (as the caller named it) is the key of `certificate`. */
function sameSigner(signer: Signer, certificate: Certificate): boolean {
  if ("certificate" in signer) {
    return (
      about("certificate", () => Certificate.fromDer(signer.certificate)).fingerprintSm3() ===
      certificate.fingerprintSm3()
    );
  }
  return publicKeyOf(signer).key.equals(certificate.publicKey);
}

function verifyPkcs7(op: Extract<Op, { kind: "verifyPkcs7" }>): OpValue {
  // Attached: the content is inside; data, when given, must equal it. Detached: data is the content.
  const content = op.attached && op.data.length === 0 ? {} : { content: op.data };
  const result = about("signature", () =>
    verifySignedData(op.signature, { ...content, ...optionalUserId(op.userId) }),
  );
  return signerVerdict(result, op.signer, "the SignedData does not verify");
}

/** A verdict on a signature checked with the certificate it carries; a named signer must be that certificate's key. */
function signerVerdict(
  result: { valid: boolean; reason?: string | undefined; signer?: Certificate | undefined },
  named: Signer | undefined,
  fallbackReason: string,
): OpValue {
  const fingerprint = result.signer?.fingerprintSm3() ?? "";
  const verdict = (valid: boolean, reason: string): OpValue => ({
    kind: "verdict",
    valid,
    reason,
    signerFingerprint: fingerprint,
  });
  if (!result.valid) return verdict(false, result.reason ?? fallbackReason);
  if (named && result.signer && !sameSigner(named, result.signer)) {
    return verdict(false, `signed by ${result.signer.subject.text}, not by the signer named in the request`);
  }
  return verdict(true, "");
}

/** The XML text of `bytes`, refused (naming the field) unless it is UTF-8. */
function xmlText(field: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new OpError(INVALID_ARGUMENT, `${field}: an XML document must be UTF-8`);
  }
}

function signXmlDocument(op: Extract<Op, { kind: "signXml" }>): OpValue {
  const { leaf } = certificateOf(op.keyId);
  const text = xmlText("data", op.data);
  const signed = about("data", () =>
    signXml(text, { key: privateKey(op.keyId), certificate: leaf, ...optionalUserId(op.userId) }),
  );
  return { kind: "signature", signature: Buffer.from(signed, "utf8") };
}

function verifyXmlDocument(op: Extract<Op, { kind: "verifyXml" }>): OpValue {
  const text = xmlText("signature", op.document);
  const result = about("signature", () => verifyXml(text, optionalUserId(op.userId)));
  return signerVerdict(result, op.signer, "the XML signature does not verify");
}

function makeEnvelope(op: Extract<Op, { kind: "makeEnvelope" }>): OpValue {
  const recipients = op.recipients.map((der, i) =>
    about(`recipient_certificates[${i}]`, () => Certificate.fromDer(der)),
  );
  return {
    kind: "envelope",
    envelope: about("recipient_certificates", () =>
      createEnvelopedData({ content: op.content, recipients, form: PKCS7_PROFILES[op.profile].envelope }),
    ),
  };
}

function openEnvelope(op: Extract<Op, { kind: "openEnvelope" }>): OpValue {
  const key = privateKey(op.keyId);
  const { leaf } = certificateOf(op.keyId);
  try {
    return { kind: "content", content: openEnvelopedData(op.envelope, { key, cert: leaf }) };
  } catch (error) {
    if (!(error instanceof GmCryptoError)) throw error;
    if (error.code === "NOT_A_RECIPIENT") {
      throw new OpError(
        FAILED_PRECONDITION,
        `envelope: not addressed to key "${op.keyId}" (no recipient entry for its certificate)`,
      );
    }
    if (error.code === "DECRYPT_FAILED")
      throw new OpError(INVALID_ARGUMENT, "envelope: envelope cannot be decrypted");
    throw new OpError(INVALID_ARGUMENT, `envelope: ${error.message}`);
  }
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
    case "signPkcs7":
      return signPkcs7(op);
    case "verifyPkcs7":
      return verifyPkcs7(op);
    case "signXml":
      return signXmlDocument(op);
    case "verifyXml":
      return verifyXmlDocument(op);
    case "makeCsr":
      return {
        kind: "csr",
        der: about("subject", () => createCertificationRequest(op.subject, privateKey(op.keyId))),
      };
    case "makeEnvelope":
      return makeEnvelope(op);
    case "openEnvelope":
      return openEnvelope(op);
  }
}
