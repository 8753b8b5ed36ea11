import { timingSafeEqual } from "node:crypto";
import { hmacSm3 } from "@piaoju/gm-crypto";

/**
 * The cashier's link names a payment by a token nobody can make without the platform's key: the
 * payment's id (16 bytes) and the first 16 bytes of HMAC-SM3 over it, under a key derived from
 * PIAOJU_SECRETS_KEY for this use only, base64url (43 characters). A guessed or altered token
 * fails the MAC, so neither a payment id, a payment code nor a decision number opens a notice.
 * Stateless: the QR printed on a decision stays valid as long as the payment exists.
 */
const MAC_BYTES = 16;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export function cashierKey(sealKey: Buffer): Buffer {
  return hmacSm3(sealKey, Buffer.from("piaoju/payment/cashier-token/v1", "utf8"));
}

export function cashierToken(key: Buffer, paymentId: string): string {
  const id = Buffer.from(paymentId.replaceAll("-", ""), "hex");
  if (id.length !== 16) throw new Error("a payment id is a UUID");
  return Buffer.concat([id, hmacSm3(key, id).subarray(0, MAC_BYTES)]).toString("base64url");
}

/** The payment id a token names, or undefined when it is not one of ours. */
export function openCashierToken(key: Buffer, token: string): string | undefined {
  if (!TOKEN.test(token)) return undefined;
  const raw = Buffer.from(token, "base64url");
  if (raw.length !== 16 + MAC_BYTES) return undefined;
  const id = raw.subarray(0, 16);
  const expected = hmacSm3(key, id).subarray(0, MAC_BYTES);
  if (!timingSafeEqual(raw.subarray(16), expected)) return undefined;
  // Re-encoding must give the same text (base64url has no second spelling of these bytes here).
  if (raw.toString("base64url") !== token) return undefined;
  const hex = id.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
