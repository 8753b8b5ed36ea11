/**
 * SM2 public-key encryption (GM/T 0003.4). Node has none (publicEncrypt refuses SM2 keys), so
 * this is hand-written over Node's native pieces: the point multiplications k·G, k·P_B and d·C1
 * come from OpenSSL through ECDH (ecdh-mul.ts), SM3 from OpenSSL; the glue (KDF, C3, the
 * encodings, the checks) is here.
 *
 *   C1 = k·G,  (x2, y2) = k·P_B,  t = KDF(x2 ‖ y2, len(M)),  C2 = M ⊕ t,  C3 = SM3(x2 ‖ M ‖ y2)
 *
 * Forms of the ciphertext:
 *   "C1C3C2"  04‖x1‖y1 ‖ C3 ‖ C2 — GM/T 0003-2012 and GB/T 32918 order (default here);
 *   "C1C2C3"  04‖x1‖y1 ‖ C2 ‖ C3 — the order of the 2010 draft, still common in old systems;
 *   "asn1"    GM/T 0009 SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING },
 *             the only form OpenSSL reads and writes.
 * sm-crypto writes and reads the raw forms without the leading 04 of C1: use { c1Prefix: false }.
 *
 * With the native addon built (native.ts), encryption and decryption run there whole (k·G, k·P_B
 * with P_B's precomputed table when it is a repeat recipient, d·C1, the KDF and C3), and the
 * encodings are read and written here on bytes, without big integers.
 */
import { createECDH, createHash, type ECDH, timingSafeEqual } from "node:crypto";
import { type BytesLike, bigintToBytes, toBuffer } from "./bytes.ts";
import { decodePoint, encodePoint, type Point } from "./curve.ts";
import { multiplyFull } from "./ecdh-mul.ts";
import { GmCryptoError } from "./errors.ts";
import type { Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";
import { keyContext, native, tableOf } from "./native.ts";

export type CiphertextForm = "C1C3C2" | "C1C2C3" | "asn1";

export interface CiphertextOptions {
  /** Default "C1C3C2". */
  form?: CiphertextForm;
  /**
   * Raw forms only: whether C1 carries its point-format byte (04, or 02/03 compressed when
   * reading). Default true; false for sm-crypto, which writes and expects bare x1‖y1.
   */
  c1Prefix?: boolean;
}

interface Parts {
  c1: Point;
  c3: Buffer;
  c2: Buffer;
}

const C3_LENGTH = 32;

function badFormat(message: string): GmCryptoError {
  return new GmCryptoError("BAD_CIPHERTEXT_FORMAT", message);
}

function decryptFailed(message: string): GmCryptoError {
  return new GmCryptoError("DECRYPT_FAILED", message);
}

/** The GM/T 0003.4 key derivation function: SM3(Z ‖ ct) for ct = 1, 2, … (32-bit big-endian), cut to klen bytes. */
export function sm3Kdf(z: Uint8Array, klen: number): Buffer {
  if (!Number.isSafeInteger(klen) || klen < 0)
    throw new GmCryptoError("BAD_INPUT", "KDF length must be a non-negative integer");
  const out = Buffer.alloc(klen);
  const base = createHash("sm3").update(z);
  const counter = Buffer.alloc(4);
  for (let ct = 1, offset = 0; offset < klen; ct++, offset += 32) {
    counter.writeUInt32BE(ct);
    base.copy().update(counter).digest().copy(out, offset);
  }
  return out;
}

function isAllZero(bytes: Buffer): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

function encode(parts: Parts, options: CiphertextOptions): Buffer {
  return encodeBytes({ c1: encodePoint(parts.c1).subarray(1), c3: parts.c3, c2: parts.c2 }, options);
}

/** Splits a ciphertext; C1 is checked to be on the curve (DECRYPT_FAILED otherwise). */
function parse(ciphertext: Uint8Array, options: CiphertextOptions): Parts {
  const { c1, c3, c2 } = parseBytes(ciphertext, options);
  const point = decodePoint(Buffer.concat([Buffer.from([4]), c1]));
  if (!point) throw decryptFailed("C1 is not a point on the SM2 curve");
  return { c1: point, c3, c2 };
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function c3Of(x2y2: Buffer, message: Buffer): Buffer {
  return createHash("sm3").update(x2y2.subarray(0, 32)).update(message).update(x2y2.subarray(32)).digest();
}

function pointBytes(pt: Point): Buffer {
  return Buffer.concat([bigintToBytes(pt.x), bigintToBytes(pt.y)]);
}

// ---------------------------------------------------------------------------------------------
// The same encodings on bytes (C1 as x‖y), for the native path.

interface ByteParts {
  /** x1‖y1, 64 bytes; not yet checked to be on the curve. */
  c1: Buffer;
  c3: Buffer;
  c2: Buffer;
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function derTlv(tag: number, value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(value.length), value]);
}

/** DER INTEGER of an unsigned 32-byte big-endian value. */
function derUnsigned(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const body = bytes.subarray(i);
  return derTlv(0x02, body[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body);
}

function encodeBytes(parts: ByteParts, options: CiphertextOptions): Buffer {
  const form = options.form ?? "C1C3C2";
  if (form === "asn1") {
    const body = Buffer.concat([
      derUnsigned(parts.c1.subarray(0, 32)),
      derUnsigned(parts.c1.subarray(32, 64)),
      derTlv(0x04, parts.c3),
      derTlv(0x04, parts.c2),
    ]);
    return derTlv(0x30, body);
  }
  const c1 = options.c1Prefix === false ? parts.c1 : Buffer.concat([Buffer.from([4]), parts.c1]);
  if (form === "C1C3C2") return Buffer.concat([c1, parts.c3, parts.c2]);
  if (form === "C1C2C3") return Buffer.concat([c1, parts.c2, parts.c3]);
  throw new GmCryptoError("BAD_INPUT", `unknown ciphertext form ${String(form)}`);
}

/** One BER/DER element with a definite length at `offset`: its tag and value bounds, or null. */
function readTlv(buf: Buffer, offset: number): { tag: number; start: number; end: number } | null {
  if (offset + 2 > buf.length) return null;
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > buf.length) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  return end > buf.length ? null : { tag, start, end };
}

/** An unsigned INTEGER's value as 32 bytes, or null (negative, wider than 256 bits). */
function unsigned32(buf: Buffer, tlv: { tag: number; start: number; end: number } | null): Buffer | null {
  if (tlv?.tag !== 0x02 || tlv.end === tlv.start) return null;
  let value = buf.subarray(tlv.start, tlv.end);
  if (value[0]! & 0x80) return null;
  while (value.length > 1 && value[0] === 0) value = value.subarray(1);
  if (value.length > 32) return null;
  const out = Buffer.alloc(32);
  value.copy(out, 32 - value.length);
  return out;
}

function parseBytes(ciphertext: Uint8Array, options: CiphertextOptions): ByteParts {
  if (!(ciphertext instanceof Uint8Array)) throw badFormat("ciphertext must be bytes");
  const form = options.form ?? "C1C3C2";
  const buf = toBuffer(ciphertext);
  let c1: Buffer;
  let c3: Buffer;
  let c2: Buffer;
  if (form === "asn1") {
    const shape = "not a GM/T 0009 SM2 ciphertext SEQUENCE { x, y, hash, ciphertext }";
    const top = readTlv(buf, 0);
    if (top?.tag !== 0x30 || top.end !== buf.length) throw badFormat(shape);
    const tx = readTlv(buf, top.start);
    const ty = tx && readTlv(buf, tx.end);
    const th = ty && readTlv(buf, ty.end);
    const tb = th && readTlv(buf, th.end);
    const x = unsigned32(buf, tx);
    const y = unsigned32(buf, ty);
    if (!x || !y || !th || !tb || th.tag !== 0x04 || tb.tag !== 0x04 || tb.end !== top.end)
      throw badFormat(shape);
    if (th.end - th.start !== C3_LENGTH)
      throw badFormat(`hash (C3) must be ${C3_LENGTH} bytes, got ${th.end - th.start}`);
    c1 = Buffer.concat([x, y]);
    c3 = buf.subarray(th.start, th.end);
    c2 = buf.subarray(tb.start, tb.end);
  } else if (form === "C1C3C2" || form === "C1C2C3") {
    let c1Len = 64;
    if (options.c1Prefix !== false) {
      if (buf[0] === 4) c1Len = 65;
      else if (buf[0] === 2 || buf[0] === 3) c1Len = 33;
      else
        throw badFormat("C1 must start with 04 (or 02/03); for sm-crypto's bare x‖y use { c1Prefix: false }");
    }
    if (buf.length < c1Len + C3_LENGTH + 1) {
      throw badFormat(
        `ciphertext of ${buf.length} bytes is shorter than C1 + C3 + 1 (${c1Len + C3_LENGTH + 1})`,
      );
    }
    if (c1Len === 33) {
      const point = decodePoint(buf.subarray(0, 33));
      if (!point) throw decryptFailed("C1 is not a point on the SM2 curve");
      c1 = encodePoint(point).subarray(1);
    } else {
      c1 = buf.subarray(c1Len - 64, c1Len);
    }
    if (form === "C1C3C2") {
      c3 = buf.subarray(c1Len, c1Len + C3_LENGTH);
      c2 = buf.subarray(c1Len + C3_LENGTH);
    } else {
      c2 = buf.subarray(c1Len, buf.length - C3_LENGTH);
      c3 = buf.subarray(buf.length - C3_LENGTH);
    }
  } else {
    throw new GmCryptoError("BAD_INPUT", `unknown ciphertext form ${String(form)}`);
  }
  if (c2.length === 0) throw badFormat("empty C2 (SM2 cannot encrypt an empty message)");
  return { c1, c3, c2 };
}

const C3_MISMATCH = "C3 does not match: wrong key, wrong form (C1C3C2/C1C2C3) or tampered ciphertext";

export function encrypt(
  plaintext: BytesLike,
  publicKey: Sm2PublicKey,
  options: CiphertextOptions = {},
): Buffer {
  const message = toBuffer(plaintext);
  if (message.length === 0) throw new GmCryptoError("BAD_INPUT", "SM2 cannot encrypt an empty message");
  if (native) {
    const xy = publicKey.xyView;
    const out = native.encrypt(xy, tableOf(native, publicKey, xy), message);
    return encodeBytes({ c1: out.subarray(0, 64), c3: out.subarray(64, 96), c2: out.subarray(96) }, options);
  }
  return opensslEncrypt(message, publicKey, options);
}

/** @internal encrypt() with Node's OpenSSL for the point multiplications (tests compare the paths). */
export function opensslEncrypt(
  plaintext: BytesLike,
  publicKey: Sm2PublicKey,
  options: CiphertextOptions = {},
): Buffer {
  const message = toBuffer(plaintext);
  for (;;) {
    const ecdh = createECDH("SM2");
    const kG = decodePoint(ecdh.generateKeys()) as Point;
    const x2y2 = pointBytes(multiplyFull(ecdh, kG, publicKey.point));
    const t = sm3Kdf(x2y2, message.length);
    if (isAllZero(t)) continue; // GM/T 0003.4 §6.1 A5: draw another k
    return encode({ c1: kG, c3: c3Of(x2y2, message), c2: xor(message, t) }, options);
  }
}

const ecdhCache = new WeakMap<Sm2PrivateKey, ECDH>();

export function decrypt(
  ciphertext: Uint8Array,
  privateKey: Sm2PrivateKey,
  options: CiphertextOptions = {},
): Buffer {
  if (!native) return opensslDecrypt(ciphertext, privateKey, options);
  const { c1, c3, c2 } = parseBytes(ciphertext, options);
  const result = native.decrypt(keyContext(native, privateKey), c1, c3, c2);
  if (result === 1) throw decryptFailed("C1 is not a point on the SM2 curve");
  if (result === 2) throw decryptFailed("KDF output is all zero");
  if (result === 3) throw decryptFailed(C3_MISMATCH);
  return result;
}

/** @internal decrypt() with Node's OpenSSL for d·C1. */
export function opensslDecrypt(
  ciphertext: Uint8Array,
  privateKey: Sm2PrivateKey,
  options: CiphertextOptions = {},
): Buffer {
  const { c1, c3, c2 } = parse(ciphertext, options);
  let ecdh = ecdhCache.get(privateKey);
  if (!ecdh) {
    ecdh = createECDH("SM2");
    ecdh.setPrivateKey(privateKey.toRaw());
    ecdhCache.set(privateKey, ecdh);
  }
  let x2y2: Buffer;
  try {
    x2y2 = pointBytes(multiplyFull(ecdh, privateKey.publicKey.point, c1));
  } catch (cause) {
    throw new GmCryptoError("DECRYPT_FAILED", "C1 was refused by OpenSSL", { cause });
  }
  const t = sm3Kdf(x2y2, c2.length);
  if (isAllZero(t)) throw decryptFailed("KDF output is all zero");
  const message = xor(c2, t);
  if (!timingSafeEqual(c3Of(x2y2, message), c3)) {
    throw decryptFailed(C3_MISMATCH);
  }
  return message;
}

/** Re-encodes a ciphertext from one form to another without decrypting it. */
export function convertCiphertext(
  ciphertext: Uint8Array,
  from: CiphertextOptions,
  to: CiphertextOptions,
): Buffer {
  return encode(parse(ciphertext, from), to);
}
