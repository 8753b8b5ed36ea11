import { createHash, createHmac, getHashes, type Hash, type Hmac } from "node:crypto";
import { type BytesLike, toBuffer } from "./bytes.ts";
import { GmCryptoError } from "./errors.ts";

// Node's bundled OpenSSL 3 ships SM3; a Node built against a trimmed system OpenSSL may not.
const hasSm3 = getHashes().includes("sm3");

function requireSm3(): void {
  if (!hasSm3) throw new GmCryptoError("UNSUPPORTED", "this Node/OpenSSL has no sm3 digest");
}

/** SM3 digest (GB/T 32905), 32 bytes. Strings are hashed as UTF-8. */
export function sm3(data: BytesLike): Buffer {
  requireSm3();
  return createHash("sm3").update(toBuffer(data)).digest();
}

/** An incremental SM3 (Node's Hash object): update() chunks as they arrive, digest() at the end. */
export function createSm3(): Hash {
  requireSm3();
  return createHash("sm3");
}

/** HMAC-SM3 (RFC 2104 with SM3, 64-byte block), 32 bytes. */
export function hmacSm3(key: BytesLike, data: BytesLike): Buffer {
  requireSm3();
  return createHmac("sm3", toBuffer(key)).update(toBuffer(data)).digest();
}

/** An incremental HMAC-SM3. */
export function createHmacSm3(key: BytesLike): Hmac {
  requireSm3();
  return createHmac("sm3", toBuffer(key));
}
