/**
 * SM2 signatures (GM/T 0003.2): e = SM3(Z_A ‖ M), r = (e + x1) mod n, s = (1+d)⁻¹(k − r·d) mod n.
 *
 * With the native addon built (native.ts), every function here runs on Piaoju's own SM2 in C:
 * e = SM3(Z_A ‖ M) and the signature in one call, Z_A cached per key, a prepared private key, and
 * a precomputed table for public keys verified more than once. Without it, as follows.
 *
 * sign/verify and the streaming signer/verifier run entirely in Node's OpenSSL:
 * `createSign("sm3").update(Z_A).update(M)` hashes e and OpenSSL's SM2 key signs e (it does not
 * add Z_A itself on this path; the one-shot `crypto.sign` would, with an EMPTY user ID).
 *
 * signDigest/verifyDigest take a ready e (for a file hashed elsewhere as it arrived). OpenSSL
 * offers no "sign this digest" to Node, so they are hand-written on top of native point
 * multiplication: k·G from ECDH key generation; for verifying, x(s·G + t·P_A) = x(t·(P_A + u·G))
 * with u = s/t mod n, i.e. one fixed-base and one variable-base ECDH multiplication.
 */
import {
  createECDH,
  createHash,
  createSign,
  createVerify,
  type Hash,
  type Sign,
  type Verify,
} from "node:crypto";
import { type BytesLike, bigintFromBytes, bigintToBytes, toBuffer } from "./bytes.ts";
import { add, decodePoint, invert, mod, N, type Point } from "./curve.ts";
import {
  decodeSignature,
  encodeDerSignature,
  encodeRawSignature,
  rawBytesToDer,
  type SignatureFormat,
  signatureDerToRaw,
  signatureToRawBytes,
} from "./der-signature.ts";
import { xOfMultiple } from "./ecdh-mul.ts";
import { GmCryptoError } from "./errors.ts";
import type { Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";
import { keyContext, native, tableOf } from "./native.ts";

export interface SignOptions {
  /** Distinguishing ID hashed into Z_A; default "1234567812345678". Strings are UTF-8. */
  userId?: BytesLike;
  /** Default "der". */
  format?: SignatureFormat;
}

export type VerifyOptions = SignOptions;

export interface DigestSignOptions {
  format?: SignatureFormat;
}

function output(der: Buffer, format: SignatureFormat | undefined): Buffer {
  return format === "raw" ? signatureDerToRaw(der) : der;
}

/** The signature as DER for OpenSSL, or null when r or s is out of [1, n-1] (then it cannot verify). */
function toCheckedDer(signature: Uint8Array, format: SignatureFormat | undefined): Buffer | null {
  const f = format ?? "der";
  const { r, s } = decodeSignature(signature, f);
  if (r < 1n || r >= N || s < 1n || s >= N) return null;
  return f === "der" ? Buffer.from(signature) : encodeDerSignature(r, s);
}

/** e = SM3(Z_A ‖ M): the value an SM2 signature actually signs. */
export function computeDigest(message: BytesLike, publicKey: Sm2PublicKey, userId?: BytesLike): Buffer {
  return createSm2DigestHash(publicKey, userId).update(toBuffer(message)).digest();
}

/** An incremental SM3 already fed with Z_A: update() with the message as it arrives, digest() gives e. */
export function createSm2DigestHash(publicKey: Sm2PublicKey, userId?: BytesLike): Hash {
  return createHash("sm3").update(publicKey.za(userId));
}

function nativeOutput(rs: Buffer, format: SignatureFormat | undefined): Buffer {
  return format === "raw" ? rs : rawBytesToDer(rs);
}

export function sign(message: BytesLike, privateKey: Sm2PrivateKey, options: SignOptions = {}): Buffer {
  if (native) {
    const za = privateKey.publicKey.zaView(options.userId);
    return nativeOutput(native.sign(keyContext(native, privateKey), za, toBuffer(message)), options.format);
  }
  return opensslSign(message, privateKey, options);
}

/** @internal sign() on Node's OpenSSL, whether or not the addon is built (tests compare the two). */
export function opensslSign(
  message: BytesLike,
  privateKey: Sm2PrivateKey,
  options: SignOptions = {},
): Buffer {
  const der = createSign("sm3")
    .update(privateKey.publicKey.za(options.userId))
    .update(toBuffer(message))
    .sign(privateKey.keyObject);
  return output(der, options.format);
}

/**
 * true/false for a well-formed signature; throws BAD_SIGNATURE_FORMAT when the signature cannot
 * be parsed in the given format (wrong length, not canonical DER).
 */
export function verify(
  message: BytesLike,
  signature: Uint8Array,
  publicKey: Sm2PublicKey,
  options: VerifyOptions = {},
): boolean {
  if (native) {
    const rs = signatureToRawBytes(signature, options.format ?? "der");
    const xy = publicKey.xyView;
    return native.verify(
      xy,
      tableOf(native, publicKey, xy),
      publicKey.zaView(options.userId),
      toBuffer(message),
      rs,
    );
  }
  return opensslVerify(message, signature, publicKey, options);
}

/** @internal verify() on Node's OpenSSL. */
export function opensslVerify(
  message: BytesLike,
  signature: Uint8Array,
  publicKey: Sm2PublicKey,
  options: VerifyOptions = {},
): boolean {
  const der = toCheckedDer(signature, options.format);
  if (der === null) return false;
  return createVerify("sm3")
    .update(publicKey.za(options.userId))
    .update(toBuffer(message))
    .verify(publicKey.keyObject, der);
}

/** Streaming signing: feed the message in chunks, then sign(). Z_A is fed first. */
export class Sm2Signer {
  readonly #sign: Sign | Hash;
  readonly #key: Sm2PrivateKey;

  constructor(privateKey: Sm2PrivateKey, options: { userId?: BytesLike } = {}) {
    this.#key = privateKey;
    const za = privateKey.publicKey.za(options.userId);
    this.#sign = native ? createHash("sm3").update(za) : createSign("sm3").update(za);
  }

  update(chunk: BytesLike): this {
    this.#sign.update(toBuffer(chunk));
    return this;
  }

  sign(format: SignatureFormat = "der"): Buffer {
    if (native) return signDigest((this.#sign as Hash).digest(), this.#key, { format });
    return output((this.#sign as Sign).sign(this.#key.keyObject), format);
  }
}

export class Sm2Verifier {
  readonly #verify: Verify | Hash;
  readonly #key: Sm2PublicKey;

  constructor(publicKey: Sm2PublicKey, options: { userId?: BytesLike } = {}) {
    this.#key = publicKey;
    const za = publicKey.za(options.userId);
    this.#verify = native ? createHash("sm3").update(za) : createVerify("sm3").update(za);
  }

  update(chunk: BytesLike): this {
    this.#verify.update(toBuffer(chunk));
    return this;
  }

  verify(signature: Uint8Array, format: SignatureFormat = "der"): boolean {
    if (native) return verifyDigest((this.#verify as Hash).digest(), signature, this.#key, { format });
    const verifier = this.#verify as Verify;
    const der = toCheckedDer(signature, format);
    if (der === null) return false;
    return verifier.verify(this.#key.keyObject, der);
  }
}

function checkDigest(e: Uint8Array): bigint {
  if (!(e instanceof Uint8Array) || e.length !== 32) {
    throw new GmCryptoError("BAD_INPUT", "the digest e must be 32 bytes (SM3 of Z_A ‖ M)");
  }
  return bigintFromBytes(e);
}

const inverseCache = new WeakMap<Sm2PrivateKey, bigint>();

/** (r, s) for e with a given nonce k and its point k·G; null when k must be drawn again. */
export function signWithNonce(
  e: bigint,
  d: bigint,
  k: bigint,
  x1: bigint,
  inv1d: bigint,
): [bigint, bigint] | null {
  const r = mod(e + x1, N);
  if (r === 0n || r + k === N) return null;
  const s = mod(inv1d * (k - r * d), N);
  if (s === 0n) return null;
  return [r, s];
}

/** Signs a precomputed e = SM3(Z_A ‖ M) (see computeDigest / createSm2DigestHash). */
export function signDigest(
  e: Uint8Array,
  privateKey: Sm2PrivateKey,
  options: DigestSignOptions = {},
): Buffer {
  checkDigest(e);
  if (native) return nativeOutput(native.sign(keyContext(native, privateKey), null, e), options.format);
  const eInt = checkDigest(e);
  const d = privateKey.scalar;
  let inv1d = inverseCache.get(privateKey);
  if (inv1d === undefined) {
    inv1d = invert(1n + d, N);
    inverseCache.set(privateKey, inv1d);
  }
  for (;;) {
    const ecdh = createECDH("SM2");
    const kG = ecdh.generateKeys();
    const k = bigintFromBytes(ecdh.getPrivateKey());
    const rs = signWithNonce(eInt, d, k, bigintFromBytes(kG.subarray(1, 33)), inv1d);
    if (rs) return options.format === "raw" ? encodeRawSignature(...rs) : encodeDerSignature(...rs);
  }
}

/** Verifies a signature over a precomputed e; same error behaviour as verify(). */
export function verifyDigest(
  e: Uint8Array,
  signature: Uint8Array,
  publicKey: Sm2PublicKey,
  options: DigestSignOptions = {},
): boolean {
  const eInt = checkDigest(e);
  if (native) {
    const rs = signatureToRawBytes(signature, options.format ?? "der");
    const xy = publicKey.xyView;
    return native.verify(xy, tableOf(native, publicKey, xy), null, e, rs);
  }
  const { r, s } = decodeSignature(signature, options.format ?? "der");
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const t = mod(r + s, N);
  if (t === 0n) return false;
  const u = mod(s * invert(t, N), N);
  const ecdhU = createECDH("SM2");
  ecdhU.setPrivateKey(bigintToBytes(u));
  const uG = decodePoint(ecdhU.getPublicKey()) as Point;
  const w = add(publicKey.point, uG);
  if (w === null) return false; // s·G + t·P = t·(P + u·G) = infinity
  const ecdhT = createECDH("SM2");
  ecdhT.setPrivateKey(bigintToBytes(t));
  return mod(eInt + xOfMultiple(ecdhT, w), N) === r;
}
