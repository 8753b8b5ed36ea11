import { randomBytes, timingSafeEqual } from "node:crypto";
import { hmacSm3, sm3, sm4CbcDecrypt, sm4CbcEncrypt } from "@piaoju/gm-crypto";

/**
 * Personal data at rest and in links, under the platform's secrets key (SM4, 16 bytes):
 * - sealed: SM4-CBC then HMAC-SM3 over IV and ciphertext (encrypt-then-MAC, as the gateway
 *   seals app secrets); layout iv (16) ‖ ciphertext ‖ tag (32);
 * - digests: HMAC-SM3 of a normalized value, to find a payer's receipts by name or phone
 *   without keeping either in clear or as a plain hash one could brute-force;
 * - pick-up tokens: a receipt id and an expiry under HMAC-SM3, so a download link proves the
 *   payer found the receipt moments ago and reveals nothing.
 * Each use takes its own key derived from the one configured key.
 */
export class Protector {
  private readonly macKey: Buffer;
  private readonly digestKey: Buffer;
  private readonly tokenKey: Buffer;

  constructor(private readonly key: Buffer) {
    if (key.length !== 16) throw new Error("the secrets key is an SM4 key of 16 bytes");
    this.macKey = derive(key, "seal/mac");
    this.digestKey = derive(key, "delivery/lookup");
    this.tokenKey = derive(key, "delivery/pickup-token");
  }

  seal(plaintext: Buffer): Buffer {
    const iv = randomBytes(16);
    const ciphertext = sm4CbcEncrypt(this.key, iv, plaintext);
    return Buffer.concat([iv, ciphertext, hmacSm3(this.macKey, Buffer.concat([iv, ciphertext]))]);
  }

  unseal(sealed: Uint8Array): Buffer {
    const bytes = Buffer.from(sealed);
    if (bytes.length < 16 + 16 + 32) throw new Error("sealed data is truncated");
    const body = bytes.subarray(0, bytes.length - 32);
    if (!timingSafeEqual(bytes.subarray(bytes.length - 32), hmacSm3(this.macKey, body)))
      throw new Error("sealed data was altered or the key is wrong");
    return sm4CbcDecrypt(this.key, body.subarray(0, 16), body.subarray(16));
  }

  digest(kind: "name" | "phone" | "code", value: string): string {
    return hmacSm3(this.digestKey, `${kind}\n${normalize(kind, value)}`).toString("hex");
  }

  /** A token naming one receipt until `expiresAt`: 16 bytes id ‖ 6 bytes expiry (s) ‖ 16 bytes tag. */
  pickupToken(receiptId: string, expiresAt: Date): string {
    const id = Buffer.from(receiptId.replaceAll("-", ""), "hex");
    const expiry = Buffer.alloc(6);
    expiry.writeUIntBE(Math.floor(expiresAt.getTime() / 1000), 0, 6);
    const body = Buffer.concat([id, expiry]);
    return Buffer.concat([body, hmacSm3(this.tokenKey, body).subarray(0, 16)]).toString("base64url");
  }

  /** The receipt id a token names, or undefined when it is forged, altered or expired. */
  openPickupToken(token: string, now: Date): string | undefined {
    const bytes = Buffer.from(token, "base64url");
    if (bytes.length !== 38) return undefined;
    const body = bytes.subarray(0, 22);
    if (!timingSafeEqual(bytes.subarray(22), hmacSm3(this.tokenKey, body).subarray(0, 16))) return undefined;
    if (body.readUIntBE(16, 6) * 1000 < now.getTime()) return undefined;
    const hex = body.subarray(0, 16).toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

function derive(key: Buffer, purpose: string): Buffer {
  return sm3(Buffer.concat([Buffer.from(`piaoju/${purpose}\0`), key]));
}

/** Names compare without surrounding or inner blanks; phones by their digits, without +86. */
export function normalize(kind: "name" | "phone" | "code", value: string): string {
  if (kind === "phone") return value.replace(/\D/g, "").replace(/^86(?=1\d{10}$)/, "");
  return value.replace(/\s+/g, "").toUpperCase();
}
