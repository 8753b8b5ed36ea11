/**
 * The native SM2 path: Piaoju's own SM2/SM3 in C (native/sm2.c, a Node-API addon built by this
 * package's install step), used for signing, verification, encryption and decryption whenever it
 * is built; otherwise every operation runs on Node's OpenSSL as before, and a warning says so once.
 * `sm2Backend()` tells which one is in use (the signing device logs it at start).
 *
 * What the addon keeps: a prepared private key (d, (1+d)⁻¹ mod n, d·G) per Sm2PrivateKey, and
 * for public keys seen more than once a 61 KiB table of multiples (64 windows × 15 points) that
 * makes verification and encryption to that key about twice as fast.
 */
import { createRequire } from "node:module";
import type { Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";

export interface NativeSm2 {
  keyContext(d: Uint8Array): ArrayBuffer;
  publicOf(ctx: ArrayBuffer): Buffer;
  sign(ctx: ArrayBuffer, za: Uint8Array | null, message: Uint8Array, k?: Uint8Array | null): Buffer;
  verify(
    pub: Uint8Array,
    table: ArrayBuffer | null,
    za: Uint8Array | null,
    message: Uint8Array,
    rs: Uint8Array,
  ): boolean;
  buildTable(pub: Uint8Array): ArrayBuffer | null;
  encrypt(pub: Uint8Array, table: ArrayBuffer | null, message: Uint8Array, k?: Uint8Array | null): Buffer;
  /** The plaintext, or 1 (C1 off the curve), 2 (all-zero KDF output), 3 (C3 mismatch). */
  decrypt(ctx: ArrayBuffer, c1: Uint8Array, c3: Uint8Array, c2: Uint8Array): Buffer | 1 | 2 | 3;
  onCurve(point: Uint8Array): boolean;
  /** k·P (or k·G when point is null) as x‖y; null when P is off the curve or k ≡ 0 mod n. */
  mul(k: Uint8Array, point: Uint8Array | null): Buffer | null;
  sm3(data: Uint8Array): Buffer;
  kdf(z: Uint8Array, length: number): Buffer;
  TABLE_BYTES: number;
}

export interface Sm2Backend {
  name: "native" | "openssl";
  /** What was loaded, or why the native path is not in use. */
  detail: string;
}

const ADDON = "../native/build/Release/gm_sm2.node";

function load(): { addon: NativeSm2 | null; backend: Sm2Backend } {
  const require = createRequire(import.meta.url);
  try {
    const addon = require(ADDON) as NativeSm2;
    return {
      addon,
      backend: { name: "native", detail: `Piaoju's SM2 addon (${require.resolve(ADDON)})` },
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    process.emitWarning(
      `gm-crypto: the native SM2 addon is not built (${reason}); SM2 runs on Node's OpenSSL, about 10x slower. ` +
        "Build it with `pnpm --filter @piaoju/gm-crypto build:native`.",
      { code: "PIAOJU_GM_NATIVE_MISSING" },
    );
    return {
      addon: null,
      backend: { name: "openssl", detail: `Node's OpenSSL (addon not built: ${reason})` },
    };
  }
}

const loaded = load();

/** The addon, or null when it is not built (callers then use the OpenSSL path). */
export const native: NativeSm2 | null = loaded.addon;

/** Which SM2 implementation this process uses. */
export function sm2Backend(): Sm2Backend {
  return { ...loaded.backend };
}

const contexts = new WeakMap<Sm2PrivateKey, ArrayBuffer>();

/** The prepared native key for `key` (made once per key object). */
export function keyContext(addon: NativeSm2, key: Sm2PrivateKey): ArrayBuffer {
  let ctx = contexts.get(key);
  if (!ctx) {
    const d = key.toRaw();
    ctx = addon.keyContext(d);
    d.fill(0);
    contexts.set(key, ctx);
  }
  return ctx;
}

interface TableEntry {
  uses: number;
  table: ArrayBuffer | null;
}

/** Tables by key object, and by point for keys parsed anew each time (certificates in messages). */
const tablesByKey = new WeakMap<Sm2PublicKey, TableEntry>();
const tablesByPoint = new Map<string, TableEntry>();
const MAX_TABLES = 256; // × 61 KiB = 15 MiB at most per thread

/**
 * The precomputed table of `key` from its second use on (a table costs about as much as ten
 * verifications, so a key seen once is not worth one), or null.
 */
export function tableOf(addon: NativeSm2, key: Sm2PublicKey, point: Buffer): ArrayBuffer | null {
  let entry = tablesByKey.get(key);
  if (!entry) {
    const id = point.toString("latin1");
    entry = tablesByPoint.get(id);
    if (!entry) {
      if (tablesByPoint.size >= MAX_TABLES) tablesByPoint.clear();
      entry = { uses: 0, table: null };
      tablesByPoint.set(id, entry);
    }
    tablesByKey.set(key, entry);
  }
  entry.uses++;
  if (entry.table === null && entry.uses >= 2) entry.table = addon.buildTable(point);
  return entry.table;
}
