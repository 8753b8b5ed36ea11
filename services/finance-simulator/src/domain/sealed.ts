import { generateSm4Iv, SM4_BLOCK_LENGTH, sm4CbcDecrypt, sm4CbcEncrypt } from "@piaoju/gm-crypto";

/**
 * Secrets at rest (agency HMAC secrets, finance's private keys) are SM4-CBC encrypted under the
 * simulator's master key: iv (16 bytes) followed by the ciphertext.
 */
export function seal(masterKey: Uint8Array, plaintext: Uint8Array): Buffer {
  const iv = generateSm4Iv();
  return Buffer.concat([iv, sm4CbcEncrypt(masterKey, iv, plaintext)]);
}

export function unseal(masterKey: Uint8Array, sealed: Uint8Array): Buffer {
  const bytes = Buffer.from(sealed);
  if (bytes.length < SM4_BLOCK_LENGTH * 2) throw new Error("sealed value too short");
  try {
    return sm4CbcDecrypt(masterKey, bytes.subarray(0, SM4_BLOCK_LENGTH), bytes.subarray(SM4_BLOCK_LENGTH));
  } catch (cause) {
    throw new Error("cannot decrypt a stored secret: is this the master key the database was made with?", {
      cause,
    });
  }
}
