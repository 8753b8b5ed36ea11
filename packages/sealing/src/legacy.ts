import { timingSafeEqual } from "node:crypto";
import { hmacSm3, SM4_BLOCK_LENGTH, sm4CbcDecrypt } from "@piaoju/gm-crypto";
import { deriveKey } from "./keyring.ts";
import type { LegacyFormat } from "./sealer.ts";

/**
 * The formats v1 replaced: all were SM4-CBC then HMAC-SM3, laid out
 *   header ‖ IV (16) ‖ ciphertext ‖ tag (32),  tag = HMAC-SM3(macKey, header ‖ aad ‖ IV ‖ ciphertext)
 * and differed in the keys, the header and what the tag also covered. Read only: a service
 * seals new values in v1 and seals old ones again (see each service's README).
 */
export interface CbcThenHmacLayout {
  /** The SM4 key and the MAC key, from the root key. */
  keys: (root: Buffer) => { enc: Buffer; mac: Buffer };
  /** Stored before the IV (the keystore's "PJKS" ‖ 0x01); none by default. */
  header?: Buffer;
  /** Covered by the tag between header and IV but not stored (the keystore's key id ‖ 0x00), from the context. */
  aad?: (context: string) => Buffer;
}

export function cbcThenHmac(layout: CbcThenHmacLayout): LegacyFormat {
  const header = layout.header ?? Buffer.alloc(0);
  return (root) => {
    const { enc, mac } = layout.keys(root);
    return (sealed, context) => {
      if (sealed.length < header.length + SM4_BLOCK_LENGTH * 2 + 32) return undefined;
      if (!sealed.subarray(0, header.length).equals(header)) return undefined;
      const body = sealed.subarray(header.length, sealed.length - 32);
      if (body.length % SM4_BLOCK_LENGTH !== 0) return undefined;
      const aad = layout.aad?.(context) ?? Buffer.alloc(0);
      const expected = hmacSm3(mac, Buffer.concat([header, aad, body]));
      if (!timingSafeEqual(sealed.subarray(sealed.length - 32), expected)) return undefined;
      return sm4CbcDecrypt(enc, body.subarray(0, 16), body.subarray(16));
    };
  };
}

/**
 * Each format v1 replaced, by the service that wrote it (read-only; the tests in
 * legacy.unit.spec.ts build bytes exactly as the old code did and open them).
 */
export const LEGACY_FORMATS = {
  /** gateway (app secrets) and delivery (payer, webhook secrets): iv ‖ SM4-CBC under K ‖ HMAC-SM3(SM3("piaoju/seal/mac\0" ‖ K)). */
  gatewayDelivery: cbcThenHmac({ keys: (k) => ({ enc: k, mac: deriveKey(k, "seal/mac") }) }),
  /** finance-simulator (agency secrets, private keys): iv ‖ SM4-CBC under K ‖ HMAC-SM3(K). */
  financeSimulator: cbcThenHmac({ keys: (k) => ({ enc: k, mac: k }) }),
  /** reporting (payer name and ID number as JSON): keys derived for reporting. */
  reporting: cbcThenHmac({
    keys: (k) => ({
      enc: deriveKey(k, "reporting/payer-seal").subarray(0, 16),
      mac: deriveKey(k, "reporting/payer-mac"),
    }),
  }),
  /**
   * the signing keystore's `<keyId>.key` files: "PJKS" ‖ 0x01 ‖ iv ‖ ciphertext ‖ tag, the tag also over
   * the key id ‖ 0x00; keys HMAC-SM3(K, "piaoju-keystore/v1/enc"|"…/mac"). The context is `keystore/<keyId>`.
   */
  keystore: cbcThenHmac({
    keys: (k) => ({
      enc: hmacSm3(k, "piaoju-keystore/v1/enc").subarray(0, 16),
      mac: hmacSm3(k, "piaoju-keystore/v1/mac"),
    }),
    header: Buffer.from([0x50, 0x4a, 0x4b, 0x53, 0x01]),
    aad: (context) => Buffer.from(`${context.replace(/^keystore\//, "")}\0`, "utf8"),
  }),
} as const satisfies Record<string, LegacyFormat>;
