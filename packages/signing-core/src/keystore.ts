import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Certificate, type Sm2PrivateKey } from "@piaoju/gm-crypto";
import { Keyring, LEGACY_FORMATS, SealError, Sealer } from "@piaoju/sealing";

/**
 * The keystore: a directory with, per key,
 *
 *   <keyId>.key      the PKCS#8 DER, sealed in the platform's one format (@piaoju/sealing, docs/adr/0015)
 *                    under the keystore key, in the context "keystore/<keyId>": a file renamed to another
 *                    key id does not open. Files of the format before it ("PJKS" ‖ 0x01 ‖ IV ‖ ciphertext ‖
 *                    tag, LEGACY_FORMATS.keystore) still open, and keys written from now on are in v1.
 *   <keyId>.crt.pem  its certificate chain, PEM, leaf first (optional: a key may have none yet)
 *
 * Given a Keyring (current first), files open under any of its keys and new ones seal under the current.
 * `dev-ca/` beside them holds the dev CA of `keystore-cli init` and is never loaded as a signing key.
 */

export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class KeystoreError extends Error {
  override readonly name = "KeystoreError";
}

/** The keystore key (16 bytes) or key list (current first). */
export type KeystoreKey = Uint8Array | Keyring;

function sealerOf(master: KeystoreKey): Sealer {
  if (master instanceof Keyring) return new Sealer(master, { legacy: [LEGACY_FORMATS.keystore] });
  if (master.length !== 16) throw new KeystoreError("the keystore key must be 16 bytes (32 hex characters)");
  return new Sealer(new Keyring(master), { legacy: [LEGACY_FORMATS.keystore] });
}

/** The bytes of `<keyId>.key` for a private key. */
export function sealPrivateKey(keyId: string, key: Sm2PrivateKey, master: KeystoreKey): Buffer {
  return sealerOf(master).seal(`keystore/${keyId}`, key.toDer());
}

/** PKCS#8 DER from the bytes of `<keyId>.key`; KeystoreError when the file is not intact. */
export function openPrivateKey(keyId: string, file: Uint8Array, master: KeystoreKey): Buffer {
  const sealer = sealerOf(master);
  if (file.length < 5 + 16 + 16 + 32) {
    throw new KeystoreError(`${keyId}.key is not a Piaoju keystore file (bad header or truncated)`);
  }
  try {
    return sealer.unseal(`keystore/${keyId}`, file);
  } catch (error) {
    if (!(error instanceof SealError)) throw error;
    throw new KeystoreError(
      `${keyId}.key failed its integrity check: it was modified, truncated, renamed, or sealed with another keystore key`,
    );
  }
}

/** Whether `<keyId>.key` is sealed in the current format under the current key (else: reseal it). */
export function isCurrentSeal(file: Uint8Array, master: KeystoreKey): boolean {
  const info = sealerOf(master).inspect(file);
  return info.format === "v1" && info.current;
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
