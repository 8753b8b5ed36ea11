import { timingSafeEqual } from "node:crypto";
import { generateSm4Iv, hmacSm3, SM4_BLOCK_LENGTH, sm4CbcDecrypt, sm4CbcEncrypt } from "@piaoju/gm-crypto";
import { deriveKey, type Keyring, type RootKey } from "./keyring.ts";

/**
 * The one sealed format (v1), documented in docs/adr/0015-sealing-format-and-key-rotation.md:
 *
 *   offset 0   "PJSL"       magic (4 bytes)
 *          4   0x01         version
 *          5   key id       4 bytes: which root key (see keyIdOf)
 *          9   IV           16 bytes, random
 *         25   ciphertext   SM4-CBC, PKCS#7 padding, under enc = derive(K, "sealing/v1/enc")[0..16)
 *     end-32   tag          HMAC-SM3(mac, len(context) (2, BE) ‖ context ‖ bytes[0..end-32)),
 *                           mac = derive(K, "sealing/v1/mac")
 *
 * Encrypt-then-MAC because Node 20's OpenSSL has no SM4-GCM. The context (for instance
 * "issuance/receipt/<id>/payer") is not stored: it binds a value to where it belongs, so a
 * sealed value copied into another row or column does not open.
 */
const MAGIC = Buffer.from("PJSL", "latin1");
const VERSION = 0x01;
const HEADER_LENGTH = 4 + 1 + 4;
const TAG_LENGTH = 32;
const MIN_LENGTH = HEADER_LENGTH + SM4_BLOCK_LENGTH * 2 + TAG_LENGTH;

export class SealError extends Error {
  override readonly name = "SealError";
}

/**
 * A format a service sealed with before v1, read so existing data folders still open. Given
 * one root key of the ring it returns a reader: the plaintext, or undefined when the bytes
 * are not in its format or do not open under that key.
 */
export type LegacyFormat = (root: Buffer) => (sealed: Buffer, context: string) => Buffer | undefined;

export interface SealerOptions {
  /** Formats to read (never to write) besides v1, tried in order when a value is not v1. */
  legacy?: readonly LegacyFormat[];
}

/** What a sealed value is, to decide whether to seal it again (rotation, migration). */
export type SealedInfo = { format: "v1"; keyId: string; current: boolean } | { format: "legacy" };

interface DerivedKeys {
  enc: Buffer;
  mac: Buffer;
}

/** Seals and opens values at rest; keyed hashes for finding them. One per service and root key list. */
export class Sealer {
  readonly #keyring: Keyring;
  readonly #derived = new Map<string, DerivedKeys>();
  readonly #legacy: { keyId: string; read: (sealed: Buffer, context: string) => Buffer | undefined }[];

  constructor(keyring: Keyring, options: SealerOptions = {}) {
    this.#keyring = keyring;
    for (const k of keyring.keys)
      this.#derived.set(k.id, {
        enc: deriveKey(k.key, "sealing/v1/enc").subarray(0, 16),
        mac: deriveKey(k.key, "sealing/v1/mac"),
      });
    this.#legacy = (options.legacy ?? []).flatMap((format) =>
      keyring.keys.map((k) => ({ keyId: k.id, read: format(k.key) })),
    );
  }

  get currentKeyId(): string {
    return this.#keyring.current.id;
  }

  seal(context: string, plaintext: Uint8Array | string): Buffer {
    const key = this.#keyring.current;
    const { enc, mac } = this.#keys(key);
    const iv = generateSm4Iv();
    const body = Buffer.concat([
      MAGIC,
      Buffer.of(VERSION),
      Buffer.from(key.id, "hex"),
      iv,
      sm4CbcEncrypt(enc, iv, typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext),
    ]);
    return Buffer.concat([body, tag(mac, context, body)]);
  }

  sealJson(context: string, value: unknown): Buffer {
    return this.seal(context, JSON.stringify(value));
  }

  /** The plaintext; throws SealError when the value was altered, belongs elsewhere, or no key of the ring opens it. */
  unseal(context: string, sealed: Uint8Array): Buffer {
    const bytes = Buffer.from(sealed);
    if (isV1(bytes)) {
      const keyId = bytes.subarray(5, 9).toString("hex");
      const key = this.#keyring.byId(keyId);
      if (key) {
        const { enc, mac } = this.#keys(key);
        const body = bytes.subarray(0, bytes.length - TAG_LENGTH);
        if (timingSafeEqual(bytes.subarray(bytes.length - TAG_LENGTH), tag(mac, context, body)))
          return sm4CbcDecrypt(
            enc,
            body.subarray(HEADER_LENGTH, HEADER_LENGTH + 16),
            body.subarray(HEADER_LENGTH + 16),
          );
        throw new SealError(`a sealed value (key ${keyId}) was altered or does not belong to ${context}`);
      }
      if (this.#legacy.length === 0)
        throw new SealError(`a sealed value names key ${keyId}, which is not in the configured key list`);
    }
    // A legacy value starts with a random IV, so "PJSL" at its front is possible (2^-32): try them too.
    for (const l of this.#legacy) {
      const plain = l.read(bytes, context);
      if (plain) return plain;
    }
    throw new SealError(`a sealed value for ${context} was altered or no configured key opens it`);
  }

  unsealText(context: string, sealed: Uint8Array): string {
    return this.unseal(context, sealed).toString("utf8");
  }

  unsealJson<T>(context: string, sealed: Uint8Array): T {
    return JSON.parse(this.unsealText(context, sealed)) as T;
  }

  /** Which format and key a value is sealed with: a value not v1 under the current key wants sealing again. */
  inspect(sealed: Uint8Array): SealedInfo {
    const bytes = Buffer.from(sealed);
    if (isV1(bytes)) {
      const keyId = bytes.subarray(5, 9).toString("hex");
      if (this.#keyring.byId(keyId)) return { format: "v1", keyId, current: keyId === this.currentKeyId };
    }
    return { format: "legacy" };
  }

  /**
   * A keyed hash (HMAC-SM3, hex) to find a value without keeping it in clear or as a plain hash one
   * could brute-force. The caller normalises the value (see normalizeForLookup). Under the current key.
   */
  lookupHash(purpose: string, value: string): string {
    return hmacSm3(deriveKey(this.#keyring.current.key, purpose), value).toString("hex");
  }

  /** The lookup hash under every key of the ring, current first: what to search for while a rotation is under way. */
  lookupHashes(purpose: string, value: string): string[] {
    return this.#keyring.keys.map((k) => hmacSm3(deriveKey(k.key, purpose), value).toString("hex"));
  }

  /** A key for one purpose (tokens, MACs) derived from the current root key. */
  derivedKey(purpose: string): Buffer {
    return deriveKey(this.#keyring.current.key, purpose);
  }

  #keys(key: RootKey): DerivedKeys {
    return this.#derived.get(key.id) as DerivedKeys;
  }
}

function isV1(bytes: Buffer): boolean {
  return (
    bytes.length >= MIN_LENGTH &&
    (bytes.length - HEADER_LENGTH - 16 - TAG_LENGTH) % SM4_BLOCK_LENGTH === 0 &&
    bytes.subarray(0, 4).equals(MAGIC) &&
    bytes[4] === VERSION
  );
}

function tag(mac: Buffer, context: string, body: Buffer): Buffer {
  const ctx = Buffer.from(context, "utf8");
  if (ctx.length > 0xffff) throw new SealError("a sealing context is at most 65535 bytes");
  const len = Buffer.alloc(2);
  len.writeUInt16BE(ctx.length);
  return hmacSm3(mac, Buffer.concat([len, ctx, body]));
}

/** Names compare without blanks and case (the X of an ID number); phones by their digits, without +86. */
export function normalizeForLookup(kind: "name" | "code" | "phone" | "email", value: string): string {
  if (kind === "phone") return value.replace(/\D/g, "").replace(/^86(?=1\d{10}$)/, "");
  if (kind === "email") return value.trim().toLowerCase();
  return value.replace(/\s+/g, "").toUpperCase();
}
