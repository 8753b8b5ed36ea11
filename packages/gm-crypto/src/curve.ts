/**
 * The SM2 recommended curve (GM/T 0003.5 / GB/T 32918.5) and the little bigint arithmetic this
 * package needs by hand: field inverses, the on-curve check, point addition, decompression, and
 * a reference scalar multiplication used only by tests and the deterministic-k test path.
 * The fast scalar multiplications go through Node's OpenSSL (see ecdh-mul.ts).
 */
import { bigintFromBytes, bigintToBytes } from "./bytes.ts";

export const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
export const A = 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn;
export const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
export const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
export const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
export const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

/** An affine point; `null` is the point at infinity. */
export interface Point {
  x: bigint;
  y: bigint;
}

export const G: Point = { x: GX, y: GY };

export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** Modular inverse by the extended Euclidean algorithm (much faster than a^(m-2) with bigint). */
export function invert(a: bigint, m: bigint): bigint {
  let r0 = mod(a, m);
  if (r0 === 0n) throw new RangeError("0 has no inverse");
  let r1 = m;
  let s0 = 1n;
  let s1 = 0n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  base = mod(base, m);
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % m;
    base = (base * base) % m;
    exp >>= 1n;
  }
  return result;
}

/** y² for a given x: x³ + ax + b mod p. */
export function rhs(x: bigint): bigint {
  return mod(((x * x) % P) * x + A * x + B, P);
}

export function isOnCurve(pt: Point): boolean {
  const { x, y } = pt;
  if (x < 0n || x >= P || y < 0n || y >= P) return false;
  return mod(y * y, P) === rhs(x);
}

export function negate(pt: Point): Point {
  return { x: pt.x, y: mod(-pt.y, P) };
}

export function add(p1: Point | null, p2: Point | null): Point | null {
  if (p1 === null) return p2;
  if (p2 === null) return p1;
  let lambda: bigint;
  if (p1.x === p2.x) {
    if (mod(p1.y + p2.y, P) === 0n) return null;
    lambda = mod((3n * p1.x * p1.x + A) * invert(2n * p1.y, P), P);
  } else {
    lambda = mod((p2.y - p1.y) * invert(p2.x - p1.x, P), P);
  }
  const x = mod(lambda * lambda - p1.x - p2.x, P);
  const y = mod(lambda * (p1.x - x) - p1.y, P);
  return { x, y };
}

/** Reference double-and-add, affine. Slow (milliseconds) and not constant-time: tests and test vectors only. */
export function multiplyReference(k: bigint, pt: Point): Point | null {
  let result: Point | null = null;
  let addend: Point | null = pt;
  k = mod(k, N);
  while (k > 0n) {
    if (k & 1n) result = add(result, addend);
    addend = add(addend, addend);
    k >>= 1n;
  }
  return result;
}

/** Square root mod p (p ≡ 3 mod 4), or null when `c` is not a square. */
export function sqrtModP(c: bigint): bigint | null {
  const r = modPow(c, (P + 1n) / 4n, P);
  return mod(r * r, P) === mod(c, P) ? r : null;
}

/** 04‖x‖y (65 bytes). */
export function encodePoint(pt: Point): Buffer {
  return Buffer.concat([Buffer.from([4]), bigintToBytes(pt.x), bigintToBytes(pt.y)]);
}

/**
 * Decodes 04‖x‖y (65 bytes) or a compressed 02/03‖x (33 bytes); null if malformed or not on
 * the curve.
 */
export function decodePoint(bytes: Uint8Array): Point | null {
  if (bytes.length === 65 && bytes[0] === 4) {
    const pt = { x: bigintFromBytes(bytes.subarray(1, 33)), y: bigintFromBytes(bytes.subarray(33, 65)) };
    return isOnCurve(pt) ? pt : null;
  }
  if (bytes.length === 33 && (bytes[0] === 2 || bytes[0] === 3)) {
    const x = bigintFromBytes(bytes.subarray(1));
    if (x >= P) return null;
    const y = sqrtModP(rhs(x));
    if (y === null) return null;
    const odd = bytes[0] === 3;
    return { x, y: (y & 1n) === (odd ? 1n : 0n) ? y : mod(-y, P) };
  }
  return null;
}

export function compressPoint(pt: Point): Buffer {
  return Buffer.concat([Buffer.from([pt.y & 1n ? 3 : 2]), bigintToBytes(pt.x)]);
}
