import { randomBytes, timingSafeEqual } from "node:crypto";
import { hmacSm3, sm3, sm4CbcDecrypt, sm4CbcEncrypt } from "@piaoju/gm-crypto";

/**
 * Secrets at rest (app secrets): SM4-CBC under the platform's secrets key, then an HMAC-SM3
 * tag over IV and ciphertext (encrypt-then-MAC; Node 20's OpenSSL has no SM4-GCM), with
 * the MAC key derived from the secrets key so one configured key serves both.
 * Layout: iv (16) ‖ ciphertext ‖ tag (32).
 */
export function seal(key: Buffer, plaintext: Buffer): Buffer {
  const iv = randomBytes(16);
  const ciphertext = sm4CbcEncrypt(key, iv, plaintext);
  return Buffer.concat([iv, ciphertext, hmacSm3(macKey(key), Buffer.concat([iv, ciphertext]))]);
}

export function unseal(key: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < 16 + 16 + 32) throw new Error("sealed secret is truncated");
  const body = sealed.subarray(0, sealed.length - 32);
  const tag = sealed.subarray(sealed.length - 32);
  if (!timingSafeEqual(tag, hmacSm3(macKey(key), body)))
    throw new Error("sealed secret was altered or the key is wrong");
  return sm4CbcDecrypt(key, body.subarray(0, 16), body.subarray(16));
}

function macKey(key: Buffer): Buffer {
  return sm3(Buffer.concat([Buffer.from("piaoju/seal/mac\0"), key]));
}
