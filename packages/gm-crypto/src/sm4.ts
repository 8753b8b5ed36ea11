import { createCipheriv, createDecipheriv, getCiphers, randomBytes } from "node:crypto";
import { GmCryptoError } from "./errors.ts";

/** SM4 (GB/T 32907): 128-bit key, 128-bit block. */
export const SM4_KEY_LENGTH = 16;
export const SM4_BLOCK_LENGTH = 16;

const ciphers = new Set(getCiphers());

/**
 * Node 20's bundled OpenSSL 3.0 has sm4-ecb/cbc/cfb/ofb/ctr but NOT sm4-gcm (nor sm4-ccm): those
 * arrived in OpenSSL 3.2. `createCipheriv("sm4-gcm", …)` throws "Unknown cipher" here.
 */
export const SM4_GCM_SUPPORTED: boolean = ciphers.has("sm4-gcm");

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== SM4_KEY_LENGTH) {
    throw new GmCryptoError("BAD_INPUT", `SM4 key must be ${SM4_KEY_LENGTH} bytes`);
  }
}

function checkIv(iv: Uint8Array): void {
  if (!(iv instanceof Uint8Array) || iv.length !== SM4_BLOCK_LENGTH) {
    throw new GmCryptoError("BAD_INPUT", `SM4-CBC IV must be ${SM4_BLOCK_LENGTH} bytes`);
  }
}

function requireCipher(name: string): void {
  if (!ciphers.has(name)) throw new GmCryptoError("UNSUPPORTED", `this Node/OpenSSL has no ${name}`);
}

export type Sm4Padding = "none" | "pkcs7";

/**
 * SM4-ECB. Only for the standard's test vectors and single-block operations: ECB leaks equal
 * blocks, use CBC for data. Default padding "none" (input must be a multiple of 16 bytes).
 */
export function sm4EcbEncrypt(key: Uint8Array, plaintext: Uint8Array, padding: Sm4Padding = "none"): Buffer {
  checkKey(key);
  requireCipher("sm4-ecb");
  if (padding === "none" && plaintext.length % SM4_BLOCK_LENGTH !== 0) {
    throw new GmCryptoError("BAD_INPUT", "SM4-ECB without padding needs a multiple of 16 bytes");
  }
  const c = createCipheriv("sm4-ecb", key, null);
  c.setAutoPadding(padding === "pkcs7");
  return Buffer.concat([c.update(plaintext), c.final()]);
}

export function sm4EcbDecrypt(key: Uint8Array, ciphertext: Uint8Array, padding: Sm4Padding = "none"): Buffer {
  checkKey(key);
  requireCipher("sm4-ecb");
  return decipher("sm4-ecb", key, null, ciphertext, padding === "pkcs7");
}

/** SM4-CBC with PKCS#7 padding (always at least one padding byte). */
export function sm4CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Buffer {
  checkKey(key);
  checkIv(iv);
  requireCipher("sm4-cbc");
  const c = createCipheriv("sm4-cbc", key, iv);
  return Buffer.concat([c.update(plaintext), c.final()]);
}

/** SM4-CBC with PKCS#7 padding; a wrong key, IV or tampered last block gives DECRYPT_FAILED (usually). */
export function sm4CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Buffer {
  checkKey(key);
  checkIv(iv);
  requireCipher("sm4-cbc");
  return decipher("sm4-cbc", key, iv, ciphertext, true);
}

function decipher(
  name: string,
  key: Uint8Array,
  iv: Uint8Array | null,
  ciphertext: Uint8Array,
  autoPadding: boolean,
): Buffer {
  if (ciphertext.length % SM4_BLOCK_LENGTH !== 0 || (autoPadding && ciphertext.length === 0)) {
    throw new GmCryptoError("DECRYPT_FAILED", `${name} ciphertext must be a non-empty multiple of 16 bytes`);
  }
  const d = createDecipheriv(name, key, iv);
  d.setAutoPadding(autoPadding);
  try {
    return Buffer.concat([d.update(ciphertext), d.final()]);
  } catch (cause) {
    throw new GmCryptoError("DECRYPT_FAILED", `${name}: bad PKCS#7 padding (wrong key, IV or data)`, {
      cause,
    });
  }
}

export function generateSm4Key(): Buffer {
  return randomBytes(SM4_KEY_LENGTH);
}

export function generateSm4Iv(): Buffer {
  return randomBytes(SM4_BLOCK_LENGTH);
}
