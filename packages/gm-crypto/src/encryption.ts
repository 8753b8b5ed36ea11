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
 */
import { createECDH, createHash, type ECDH, timingSafeEqual } from "node:crypto";
import * as asn1js from "asn1js";
import { asOctets, asSequence, asUnsignedInteger, parseAsn1, toDer } from "./asn1.ts";
import { type BytesLike, bigintToBytes, toBuffer } from "./bytes.ts";
import { decodePoint, encodePoint, isOnCurve, type Point } from "./curve.ts";
import { multiplyFull } from "./ecdh-mul.ts";
import { GmCryptoError } from "./errors.ts";
import type { Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";

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
  const form = options.form ?? "C1C3C2";
  if (form === "asn1") {
    return toDer(
      new asn1js.Sequence({
        value: [
          asn1js.Integer.fromBigInt(parts.c1.x),
          asn1js.Integer.fromBigInt(parts.c1.y),
          new asn1js.OctetString({ valueHex: parts.c3 }),
          new asn1js.OctetString({ valueHex: parts.c2 }),
        ],
      }),
    );
  }
  const c1Full = encodePoint(parts.c1);
  const c1 = options.c1Prefix === false ? c1Full.subarray(1) : c1Full;
  if (form === "C1C3C2") return Buffer.concat([c1, parts.c3, parts.c2]);
  if (form === "C1C2C3") return Buffer.concat([c1, parts.c2, parts.c3]);
  throw new GmCryptoError("BAD_INPUT", `unknown ciphertext form ${String(form)}`);
}

/** Splits a ciphertext; C1 is checked to be on the curve (DECRYPT_FAILED otherwise). */
function parse(ciphertext: Uint8Array, options: CiphertextOptions): Parts {
  if (!(ciphertext instanceof Uint8Array)) throw badFormat("ciphertext must be bytes");
  const form = options.form ?? "C1C3C2";
  let c1: Point | null;
  let c3: Buffer;
  let c2: Buffer;
  if (form === "asn1") {
    const seq = asSequence(parseAsn1(ciphertext), 4);
    const x = seq && asUnsignedInteger(seq[0]);
    const y = seq && asUnsignedInteger(seq[1]);
    const hash = seq && asOctets(seq[2]);
    const body = seq && asOctets(seq[3]);
    if (x == null || y == null || !hash || !body) {
      throw badFormat("not a GM/T 0009 SM2 ciphertext SEQUENCE { x, y, hash, ciphertext }");
    }
    if (hash.length !== C3_LENGTH)
      throw badFormat(`hash (C3) must be ${C3_LENGTH} bytes, got ${hash.length}`);
    c1 = isOnCurve({ x, y }) ? { x, y } : null;
    c3 = Buffer.from(hash);
    c2 = Buffer.from(body);
  } else if (form === "C1C3C2" || form === "C1C2C3") {
    const buf = toBuffer(ciphertext);
    let c1Len = 64;
    let c1Bytes: Buffer;
    if (options.c1Prefix === false) {
      c1Bytes = Buffer.concat([Buffer.from([4]), buf.subarray(0, 64)]);
    } else {
      if (buf[0] === 4) c1Len = 65;
      else if (buf[0] === 2 || buf[0] === 3) c1Len = 33;
      else
        throw badFormat("C1 must start with 04 (or 02/03); for sm-crypto's bare x‖y use { c1Prefix: false }");
      c1Bytes = buf.subarray(0, c1Len);
    }
    if (buf.length < c1Len + C3_LENGTH + 1) {
      throw badFormat(
        `ciphertext of ${buf.length} bytes is shorter than C1 + C3 + 1 (${c1Len + C3_LENGTH + 1})`,
      );
    }
    c1 = decodePoint(c1Bytes);
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
  if (!c1) throw decryptFailed("C1 is not a point on the SM2 curve");
  return { c1, c3, c2 };
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

export function encrypt(
  plaintext: BytesLike,
  publicKey: Sm2PublicKey,
  options: CiphertextOptions = {},
): Buffer {
  const message = toBuffer(plaintext);
  if (message.length === 0) throw new GmCryptoError("BAD_INPUT", "SM2 cannot encrypt an empty message");
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
    throw decryptFailed("C3 does not match: wrong key, wrong form (C1C3C2/C1C2C3) or tampered ciphertext");
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
