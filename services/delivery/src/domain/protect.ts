import { timingSafeEqual } from "node:crypto";
import { hmacSm3 } from "@piaoju/gm-crypto";
import type { Sealer } from "@piaoju/sealing";

/**
 * Personal data at rest and in links, through the platform's one sealing format
 * (@piaoju/sealing, docs/adr/0015) under the secrets key list:
 * - sealed: the payer (name, code, contacts), the receipt document (it names the payer) and
 *   webhook secrets, each bound to its row (the context names the receipt or agency);
 * - digests: HMAC-SM3 of a normalized value, to find a payer's receipts by name or phone
 *   without keeping either in clear or as a plain hash one could brute-force (the same
 *   digests as before the shared format: derive(K, "delivery/lookup"));
 * - pick-up tokens: a receipt id and an expiry under HMAC-SM3, so a download link proves the
 *   payer found the receipt moments ago and reveals nothing.
 */
export class Protector {
  private readonly tokenKey: Buffer;

  constructor(readonly sealer: Sealer) {
    this.tokenKey = sealer.derivedKey("delivery/pickup-token");
  }

  seal(context: string, plaintext: Uint8Array | string): Buffer {
    return this.sealer.seal(`delivery/${context}`, plaintext);
  }

  unseal(context: string, sealed: Uint8Array): Buffer {
    return this.sealer.unseal(`delivery/${context}`, sealed);
  }

  /** The receipt document as stored: base64 of its sealed bytes. */
  sealDocument(receiptId: string, documentBase64: string): string {
    return this.seal(`receipt/${receiptId}/document`, Buffer.from(documentBase64, "base64")).toString(
      "base64",
    );
  }

  /** The document's base64 from what is stored; a row written before documents were sealed holds it in clear. */
  openDocument(receiptId: string, stored: string): string {
    const bytes = Buffer.from(stored, "base64");
    if (!bytes.subarray(0, 4).equals(SEALED_MAGIC)) return stored;
    return this.unseal(`receipt/${receiptId}/document`, bytes).toString("base64");
  }

  /** Under the current key: what to store. */
  digest(kind: "name" | "phone" | "code", value: string): string {
    return this.sealer.lookupHash(LOOKUP, `${kind}\n${normalize(kind, value)}`);
  }

  /** Under every key of the list: what to look for while a rotation is under way. */
  digests(kind: "name" | "phone" | "code", value: string): string[] {
    return this.sealer.lookupHashes(LOOKUP, `${kind}\n${normalize(kind, value)}`);
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

const LOOKUP = "delivery/lookup";
/** An XML document never starts with these bytes; a sealed value always does. */
const SEALED_MAGIC = Buffer.from("PJSL", "latin1");

/** Names compare without surrounding or inner blanks; phones by their digits, without +86. */
export function normalize(kind: "name" | "phone" | "code", value: string): string {
  if (kind === "phone") return value.replace(/\D/g, "").replace(/^86(?=1\d{10}$)/, "");
  return value.replace(/\s+/g, "").toUpperCase();
}
