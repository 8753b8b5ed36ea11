import { createECDH, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { bigintFromBytes, bigintToBytes } from "./bytes.ts";
import {
  add,
  compressPoint,
  decodePoint,
  encodePoint,
  G,
  isOnCurve,
  multiplyReference,
  N,
  negate,
  type Point,
} from "./curve.ts";
import { multiplyFull } from "./ecdh-mul.ts";

const randomScalar = () => (bigintFromBytes(randomBytes(32)) % (N - 1n)) + 1n;

describe("SM2 curve arithmetic", () => {
  it("the hard-coded G is the generator OpenSSL uses (1·G from ECDH)", () => {
    const e = createECDH("SM2");
    e.setPrivateKey(bigintToBytes(1n));
    expect(e.getPublicKey()).toEqual(encodePoint(G));
    expect(isOnCurve(G)).toBe(true);
  });

  it("(n-1)·G = -G, so n·G is infinity (n is the group order)", () => {
    const minusG = multiplyReference(N - 1n, G) as Point;
    expect(minusG).toEqual(negate(G));
    expect(add(minusG, G)).toBeNull();
  });

  it("the bigint reference k·G equals OpenSSL's k·G", () => {
    for (let i = 0; i < 5; i++) {
      const k = randomScalar();
      const e = createECDH("SM2");
      e.setPrivateKey(bigintToBytes(k));
      expect(encodePoint(multiplyReference(k, G) as Point)).toEqual(e.getPublicKey());
    }
  });

  it("the ECDH-based full multiplication k·Q recovers the right y (checked against the bigint reference)", () => {
    const ecdhFor = (k: bigint) => {
      const e = createECDH("SM2");
      e.setPrivateKey(bigintToBytes(k));
      return { e, kG: decodePoint(e.getPublicKey()) as Point };
    };
    for (let i = 0; i < 10; i++) {
      const q = multiplyReference(randomScalar(), G) as Point;
      const k = randomScalar();
      const { e, kG } = ecdhFor(k);
      expect(multiplyFull(e, kG, q)).toEqual(multiplyReference(k, q));
    }
    const q = multiplyReference(randomScalar(), G) as Point;
    for (const k of [1n, 2n, N - 2n, N - 1n]) {
      const { e, kG } = ecdhFor(k);
      expect(multiplyFull(e, kG, q)).toEqual(multiplyReference(k, q));
      expect(multiplyFull(e, kG, G)).toEqual(kG);
      expect(multiplyFull(e, kG, negate(G))).toEqual(negate(kG));
      expect(multiplyFull(e, kG, negate(q))).toEqual(negate(multiplyReference(k, q) as Point));
    }
  });

  it("compressed points decompress to the same point; off-curve points are refused", () => {
    for (let i = 0; i < 5; i++) {
      const q = multiplyReference(randomScalar(), G) as Point;
      expect(decodePoint(compressPoint(q))).toEqual(q);
      expect(decodePoint(encodePoint(q))).toEqual(q);
      expect(decodePoint(encodePoint({ x: q.x, y: q.y ^ 1n }))).toBeNull();
    }
    expect(decodePoint(Buffer.alloc(65))).toBeNull();
    expect(decodePoint(Buffer.alloc(64, 1))).toBeNull();
  });
});
