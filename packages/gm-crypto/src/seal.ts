import { randomBytes, timingSafeEqual } from "node:crypto";
import { hmacSm3, sm3 } from "./sm3.ts";
import { sm4CbcDecrypt, sm4CbcEncrypt } from "./sm4.ts";

/**
 * Secrets and personal data at rest: SM4-CBC under a 16-byte key, then an HMAC-SM3 tag over IV
 * and ciphertext (encrypt-then-MAC; Node 20's OpenSSL has no SM4-GCM), the MAC key derived from
 * the same key. Layout: iv (16) ‖ ciphertext ‖ tag (32) — the gateway's app secrets use the
 * same layout (services/gateway/src/domain/sealed.ts predates this and may move here).
 */
export function sealSm4(key: Buffer, plaintext: Buffer): Buffer {
  const iv = randomBytes(16);
  const ciphertext = sm4CbcEncrypt(key, iv, plaintext);
  return Buffer.concat([iv, ciphertext, hmacSm3(sealMacKey(key), Buffer.concat([iv, ciphertext]))]);
}

export function unsealSm4(key: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < 16 + 16 + 32) throw new Error("sealed data is truncated");
  const body = sealed.subarray(0, sealed.length - 32);
  const tag = sealed.subarray(sealed.length - 32);
  if (!timingSafeEqual(tag, hmacSm3(sealMacKey(key), body))) {
    throw new Error("sealed data was altered or the key is wrong");
  }
  return sm4CbcDecrypt(key, body.subarray(0, 16), body.subarray(16));
}

function sealMacKey(key: Buffer): Buffer {
  return sm3(Buffer.concat([Buffer.from("piaoju/seal/mac\0"), key]));
}
