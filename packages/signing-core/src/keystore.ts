import { timingSafeEqual } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  Certificate,
  generateSm4Iv,
  hmacSm3,
  type Sm2PrivateKey,
  sm4CbcDecrypt,
  sm4CbcEncrypt,
} from "@piaoju/gm-crypto";

/**
 * The keystore: a directory with, per key,
 *
 *   <keyId>.key      "PJKS" ‖ 0x01 ‖ IV (16) ‖ SM4-CBC(PKCS#8 DER, PKCS#7 padding) ‖ tag (32)
 *                    tag = HMAC-SM3(macKey, "PJKS" ‖ 0x01 ‖ keyId ‖ 0x00 ‖ IV ‖ ciphertext)
 *   <keyId>.crt.pem  its certificate chain, PEM, leaf first (optional: a key may have none yet)
 *
 * encKey = HMAC-SM3(K, "piaoju-keystore/v1/enc")[0..16), macKey = HMAC-SM3(K, "piaoju-keystore/v1/mac"),
 * K = the 16-byte keystore key from configuration. Encrypt-then-MAC (SM4-GCM is not in Node 20's
 * OpenSSL); the key id is under the tag, so a file renamed to another key id is refused too.
 * `dev-ca/` beside them holds the dev CA of `keystore-cli init` and is never loaded as a signing key.
 */

const MAGIC = Buffer.from("PJKS", "ascii");
const VERSION = 1;
const HEADER = MAGIC.length + 1;
const IV_LENGTH = 16;
const TAG_LENGTH = 32;

export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class KeystoreError extends Error {
  override readonly name = "KeystoreError";
}

function subKeys(master: Uint8Array): { enc: Buffer; mac: Buffer } {
  if (master.length !== 16) throw new KeystoreError("the keystore key must be 16 bytes (32 hex characters)");
  return {
    enc: hmacSm3(master, "piaoju-keystore/v1/enc").subarray(0, 16),
    mac: hmacSm3(master, "piaoju-keystore/v1/mac"),
  };
}

function tagOf(mac: Buffer, keyId: string, iv: Uint8Array, ciphertext: Uint8Array): Buffer {
  return hmacSm3(
    mac,
    Buffer.concat([
      MAGIC,
      Buffer.from([VERSION]),
      Buffer.from(keyId, "utf8"),
      Buffer.from([0]),
      iv,
      ciphertext,
    ]),
  );
}

/** The bytes of `<keyId>.key` for a private key. */
export function sealPrivateKey(keyId: string, key: Sm2PrivateKey, master: Uint8Array): Buffer {
  const { enc, mac } = subKeys(master);
  const iv = generateSm4Iv();
  const ciphertext = sm4CbcEncrypt(enc, iv, key.toDer());
  return Buffer.concat([MAGIC, Buffer.from([VERSION]), iv, ciphertext, tagOf(mac, keyId, iv, ciphertext)]);
}

/** PKCS#8 DER from the bytes of `<keyId>.key`; KeystoreError when the file is not intact. */
export function openPrivateKey(keyId: string, file: Uint8Array, master: Uint8Array): Buffer {
  const { enc, mac } = subKeys(master);
  const bytes = Buffer.from(file);
  if (bytes.length < HEADER + IV_LENGTH + 16 + TAG_LENGTH || !bytes.subarray(0, 4).equals(MAGIC)) {
    throw new KeystoreError(`${keyId}.key is not a Piaoju keystore file (bad header or truncated)`);
  }
  if (bytes[4] !== VERSION) throw new KeystoreError(`${keyId}.key has unknown format version ${bytes[4]}`);
  const iv = bytes.subarray(HEADER, HEADER + IV_LENGTH);
  const ciphertext = bytes.subarray(HEADER + IV_LENGTH, bytes.length - TAG_LENGTH);
  const tag = bytes.subarray(bytes.length - TAG_LENGTH);
  if (!timingSafeEqual(tag, tagOf(mac, keyId, iv, ciphertext))) {
    throw new KeystoreError(
      `${keyId}.key failed its integrity check: it was modified, truncated, renamed, or sealed with another keystore key`,
    );
  }
  return sm4CbcDecrypt(enc, iv, ciphertext);
}

export function keyFilePath(dir: string, keyId: string): string {
  return join(dir, `${keyId}.key`);
}

export function certFilePath(dir: string, keyId: string): string {
  return join(dir, `${keyId}.crt.pem`);
}

/** Key ids in the keystore directory (files `<keyId>.key`), sorted. */
export function listKeyIds(dir: string): string[] {
  if (!existsSync(dir)) throw new KeystoreError(`keystore directory ${dir} does not exist`);
  return readdirSync(dir)
    .filter((name) => name.endsWith(".key"))
    .map((name) => name.slice(0, -".key".length))
    .filter((keyId) => KEY_ID_PATTERN.test(keyId))
    .sort();
}

/** A certificate chain, leaf first, with what the API reports about it. */
export interface CertificateChain {
  chain: Buffer[];
  chainPem: string;
  fingerprint: string;
  /** SPKI DER of the leaf's public key. */
  publicKey: Buffer;
  subject: string;
  notBefore: string;
  notAfter: string;
}

/** Parses a PEM chain (leaf first). KeystoreError on anything that is not an SM2 certificate. */
export function parseChain(pem: string, what: string): CertificateChain {
  let certs: Certificate[];
  try {
    certs = Certificate.allFromPem(pem);
  } catch (error) {
    throw new KeystoreError(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  const leaf = certs[0];
  if (!leaf) throw new KeystoreError(`${what} holds no PEM certificate`);
  return {
    chain: certs.map((c) => c.toDer()),
    chainPem: `${certs.map((c) => c.toPem().trim()).join("\n")}\n`,
    fingerprint: leaf.fingerprintSm3(),
    publicKey: leaf.publicKey.toDer(),
    subject: leaf.subject.text,
    notBefore: leaf.notBefore.toISOString(),
    notAfter: leaf.notAfter.toISOString(),
  };
}

/** The chain of a key, or undefined when it has no `<keyId>.crt.pem`. */
export function readChain(dir: string, keyId: string): CertificateChain | undefined {
  const path = certFilePath(dir, keyId);
  if (!existsSync(path)) return undefined;
  return parseChain(readFileSync(path, "utf8"), `${keyId}.crt.pem`);
}
