import { timingSafeEqual } from "node:crypto";
import { hmacSm3, sm3 } from "@piaoju/gm-crypto";

/**
 * The agency bank's front-end message MAC (银行前置报文 MAC), both ways: HMAC-SM3 (GM/T 0004 in
 * RFC 2104's construction) with the working key agreed for one bank and one agency account, over
 *
 *   METHOD \n PATH \n X-Bank-Timestamp \n X-Bank-Nonce \n hex(SM3(body))
 *
 * for a request, and over `STATUS \n TIMESTAMP \n NONCE \n hex(SM3(body))` for its answer (the
 * answer's own timestamp and nonce). The MAC goes in X-Bank-Signature (hex), the timestamp is Unix
 * milliseconds and must be within five minutes of the receiver's clock.
 */
export const BANK_CLOCK_SKEW_MS = 5 * 60_000;

export function bankRequestString(
  method: string,
  path: string,
  timestamp: string,
  nonce: string,
  body: Uint8Array,
): string {
  return [method.toUpperCase(), path, timestamp, nonce, sm3(body).toString("hex")].join("\n");
}

export function bankAnswerString(status: number, timestamp: string, nonce: string, body: Uint8Array): string {
  return [String(status), timestamp, nonce, sm3(body).toString("hex")].join("\n");
}

export function bankMac(keyHex: string, text: string): string {
  return hmacSm3(Buffer.from(keyHex, "hex"), Buffer.from(text, "utf8")).toString("hex");
}

/** Whether the presented MAC is the key's over the text, and the timestamp within the window. */
export function bankMacHolds(
  keyHex: string,
  text: string,
  presented: string | undefined,
  timestamp: string | undefined,
  now: number,
): boolean {
  if (!presented || !/^[0-9a-f]{64}$/i.test(presented)) return false;
  if (!timestamp || !/^\d{13}$/.test(timestamp)) return false;
  if (Math.abs(now - Number(timestamp)) > BANK_CLOCK_SKEW_MS) return false;
  const expected = Buffer.from(bankMac(keyHex, text), "hex");
  const given = Buffer.from(presented, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
