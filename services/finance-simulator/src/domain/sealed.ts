import { timingSafeEqual } from "node:crypto";
import { generateSm4Iv, hmacSm3, SM4_BLOCK_LENGTH, sm4CbcDecrypt, sm4CbcEncrypt } from "@piaoju/gm-crypto";

const MAC_LENGTH = 32;

/**
 * Secrets at rest (agency HMAC secrets, finance's private keys) are SM4-CBC encrypted under the
 * simulator's master key: iv (16 bytes) || ciphertext || HMAC-SM3(master key, iv || ciphertext).
 * The MAC makes a wrong master key fail every time (CBC padding alone would let some through).
 */
export function seal(masterKey: Uint8Array, plaintext: Uint8Array): Buffer {
  const iv = generateSm4Iv();
  const body = Buffer.concat([iv, sm4CbcEncrypt(masterKey, iv, plaintext)]);
  return Buffer.concat([body, hmacSm3(masterKey, body)]);
}

export function unseal(masterKey: Uint8Array, sealed: Uint8Array): Buffer {
  const bytes = Buffer.from(sealed);
  if (bytes.length < SM4_BLOCK_LENGTH * 2 + MAC_LENGTH) throw new Error("sealed value too short");
  const body = bytes.subarray(0, bytes.length - MAC_LENGTH);
  const mac = bytes.subarray(bytes.length - MAC_LENGTH);
  if (!timingSafeEqual(mac, hmacSm3(masterKey, body))) {
    throw new Error("cannot decrypt a stored secret: is this the master key the database was made with?");
  }
  return sm4CbcDecrypt(masterKey, body.subarray(0, SM4_BLOCK_LENGTH), body.subarray(SM4_BLOCK_LENGTH));
}
