import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { bigintFromBytes, bigintToBytes } from "./bytes.ts";
import { N } from "./curve.ts";
import {
  decodeDerSignature,
  encodeDerSignature,
  signatureDerToRaw,
  signatureRawToDer,
} from "./der-signature.ts";
import { signDigestWithNonce } from "./deterministic.ts";
import { GmCryptoError } from "./errors.ts";
import { generateSm2KeyPair, Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";
import {
  computeDigest,
  createSm2DigestHash,
  Sm2Signer,
  Sm2Verifier,
  sign,
  signDigest,
  verify,
  verifyDigest,
} from "./signature.ts";
import { vectors } from "./testdata/vectors.ts";

const hex = (h: string) => Buffer.from(h, "hex");
const key = generateSm2KeyPair();
const pub = key.publicKey;
const msg = Buffer.from("财政电子票据 #2024-000123");

function expectCode(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(GmCryptoError);
  expect((caught as GmCryptoError).code).toBe(code);
}

describe("SM2 signature: published vector (GM/T 0003.5 / GB/T 32918.5 A.2)", () => {
  for (const v of vectors.sm2_signature) {
    const vPub = Sm2PublicKey.fromHex(v.public_key_hex_uncompressed);
    const raw = Buffer.concat([hex(v.r_hex), hex(v.s_hex)]);

    it("e = SM3(Z_A ‖ M) equals the published e", () => {
      expect(computeDigest(v.message_utf8, vPub, v.user_id_utf8).toString("hex")).toBe(v.e_hex);
    });

    it("the published (r, s) verifies, as raw, as DER, and from the digest", () => {
      expect(verify(v.message_utf8, raw, vPub, { userId: v.user_id_utf8, format: "raw" })).toBe(true);
      expect(verify(v.message_utf8, signatureRawToDer(raw), vPub, { userId: v.user_id_utf8 })).toBe(true);
      expect(verifyDigest(hex(v.e_hex), raw, vPub, { format: "raw" })).toBe(true);
    });

    it("the published (r, s) does not verify for another message or user ID", () => {
      expect(verify("message digesT", raw, vPub, { userId: v.user_id_utf8, format: "raw" })).toBe(false);
      expect(verify(v.message_utf8, raw, vPub, { userId: "ALICE123@YAHOO.COM", format: "raw" })).toBe(false);
    });

    it("signing e with the standard's fixed k reproduces the published r and s exactly", () => {
      // k from GB/T 32918.5 A.2; the vectors file omits it. r = e + x(k·G) matching proves it is the right k.
      const k = v.k_hex ?? "59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21";
      const { r, s } = signDigestWithNonce(
        BigInt(`0x${v.e_hex}`),
        BigInt(`0x${v.private_key_hex}`),
        BigInt(`0x${k}`),
      );
      expect(bigintToBytes(r).toString("hex")).toBe(v.r_hex);
      expect(bigintToBytes(s).toString("hex")).toBe(v.s_hex);
    });

    it("our own signatures with the published key verify (randomized k)", () => {
      const vKey = Sm2PrivateKey.fromHex(v.private_key_hex);
      const sig = sign(v.message_utf8, vKey, { userId: v.user_id_utf8, format: "raw" });
      expect(verifyDigest(hex(v.e_hex), sig, vPub, { format: "raw" })).toBe(true);
    });
  }
});

describe("SM2 signature: sign/verify", () => {
  // Usually 70–72 bytes; an r or s with a leading zero byte (about 1 in 128 signatures) is shorter.
  it("a DER signature verifies, and is at most 72 bytes of canonical DER", () => {
    for (let i = 0; i < 20; i++) {
      const sig = sign(msg, key);
      expect(sig.length).toBeLessThanOrEqual(72);
      expect(encodeDerSignature(decodeDerSignature(sig).r, decodeDerSignature(sig).s)).toEqual(sig);
      expect(verify(msg, sig, pub)).toBe(true);
    }
  });

  it("a raw signature is 64 bytes r‖s and verifies", () => {
    const sig = sign(msg, key, { format: "raw" });
    expect(sig).toHaveLength(64);
    expect(verify(msg, sig, pub, { format: "raw" })).toBe(true);
    expect(verify(msg, signatureRawToDer(sig), pub)).toBe(true);
  });

  it("the user ID is part of what is signed", () => {
    const sig = sign(msg, key, { userId: "piaoju@example.cn" });
    expect(verify(msg, sig, pub, { userId: "piaoju@example.cn" })).toBe(true);
    expect(verify(msg, sig, pub)).toBe(false);
    expect(verify(msg, sign(msg, key, { userId: "" }), pub, { userId: "" })).toBe(true);
  });

  it("a changed message, a changed signature or another key fails", () => {
    const sig = sign(msg, key, { format: "raw" });
    expect(verify(Buffer.concat([msg, Buffer.from([0])]), sig, pub, { format: "raw" })).toBe(false);
    for (const i of [0, 31, 32, 63]) {
      const bad = Buffer.from(sig);
      bad[i] = bad[i]! ^ 0x01;
      expect(verify(msg, bad, pub, { format: "raw" })).toBe(false);
    }
    expect(verify(msg, sig, generateSm2KeyPair().publicKey, { format: "raw" })).toBe(false);
  });

  it("a signature under the negated key (−P, private n−d) does not verify under P, by either path", () => {
    const negKey = Sm2PrivateKey.fromRaw(bigintToBytes(N - key.scalar));
    expect(negKey.publicKey.point.x).toBe(pub.point.x);
    const e = computeDigest(msg, pub);
    for (let i = 0; i < 5; i++) {
      const sig = signDigest(e, negKey);
      expect(verifyDigest(e, sig, negKey.publicKey)).toBe(true);
      expect(verifyDigest(e, sig, pub)).toBe(false);
    }
  });

  it("r or s outside [1, n-1] never verifies", () => {
    const { r, s } = decodeDerSignature(sign(msg, key));
    for (const [rr, ss] of [
      [0n, s],
      [r, 0n],
      [r + N, s],
      [r, s + N],
      [N, s],
    ] as const) {
      if (rr >= 1n << 256n || ss >= 1n << 256n) continue;
      expect(verify(msg, encodeDerSignature(rr, ss), pub)).toBe(false);
      expect(verifyDigest(computeDigest(msg, pub), encodeDerSignature(rr, ss), pub)).toBe(false);
    }
  });
});

describe("SM2 signature: precomputed digest and streaming", () => {
  it("a digest signature verifies as a message signature and vice versa", () => {
    const e = computeDigest(msg, pub);
    expect(verify(msg, signDigest(e, key), pub)).toBe(true);
    expect(verify(msg, signDigest(e, key, { format: "raw" }), pub, { format: "raw" })).toBe(true);
    expect(verifyDigest(e, sign(msg, key), pub)).toBe(true);
    expect(verifyDigest(e, sign(msg, key, { format: "raw" }), pub, { format: "raw" })).toBe(true);
    const otherE = Buffer.from(e);
    otherE[0] = otherE[0]! ^ 1;
    expect(verifyDigest(otherE, sign(msg, key), pub)).toBe(false);
  });

  it("a large message hashed in chunks gives the same e and a verifying signature", () => {
    const big = randomBytes(1 << 20);
    const hash = createSm2DigestHash(pub, "file-signer");
    const signer = new Sm2Signer(key, { userId: "file-signer" });
    const verifier = new Sm2Verifier(pub, { userId: "file-signer" });
    for (let i = 0; i < big.length; i += 65_536) {
      const chunk = big.subarray(i, i + 65_536);
      hash.update(chunk);
      signer.update(chunk);
      verifier.update(chunk);
    }
    const e = hash.digest();
    expect(e).toEqual(computeDigest(big, pub, "file-signer"));
    const sig = signer.sign();
    expect(verifier.verify(sig)).toBe(true);
    expect(verify(big, signDigest(e, key), pub, { userId: "file-signer" })).toBe(true);
  });

  it("a digest that is not 32 bytes is refused with BAD_INPUT", () => {
    expectCode(() => signDigest(Buffer.alloc(31), key), "BAD_INPUT");
    expectCode(() => verifyDigest(Buffer.alloc(33), sign(msg, key), pub), "BAD_INPUT");
  });
});

describe("SM2 signature: DER ↔ raw and malformed input", () => {
  it("raw → DER → raw is the identity, including high-bit and short r/s", () => {
    const cases = [
      Buffer.concat([Buffer.alloc(32, 0xff), Buffer.alloc(32, 0x01)]),
      Buffer.concat([Buffer.alloc(31), Buffer.from([5]), Buffer.alloc(32, 0x80)]),
      randomBytes(64),
    ];
    for (const raw of cases) expect(signatureDerToRaw(signatureRawToDer(raw))).toEqual(raw);
    const highBit = signatureRawToDer(cases[0]!);
    expect(highBit.subarray(0, 5).toString("hex")).toBe("3045022100");
  });

  it("truncated, padded, non-minimal, negative or trailing-garbage DER is BAD_SIGNATURE_FORMAT", () => {
    const der = sign(msg, key);
    const { r, s } = decodeDerSignature(der);
    const nonMinimal = Buffer.concat([
      Buffer.from([0x30, 0]),
      Buffer.from([0x02, 33, 0]),
      bigintToBytes(r & ((1n << 255n) - 1n)),
      Buffer.from([0x02, 32]),
      bigintToBytes(s),
    ]);
    nonMinimal[1] = nonMinimal.length - 2;
    const negative = Buffer.from(`3044022080${"00".repeat(31)}022001${"00".repeat(31)}`, "hex");
    for (const bad of [
      der.subarray(0, der.length - 1),
      Buffer.concat([der, Buffer.from([0])]),
      nonMinimal,
      negative,
      Buffer.alloc(0),
      Buffer.from([0x30, 0x00]),
      randomBytes(64),
    ]) {
      expectCode(() => verify(msg, bad, pub), "BAD_SIGNATURE_FORMAT");
      expectCode(() => signatureDerToRaw(bad), "BAD_SIGNATURE_FORMAT");
    }
    expectCode(() => verify(msg, Buffer.alloc(63), pub, { format: "raw" }), "BAD_SIGNATURE_FORMAT");
    expectCode(() => verify(msg, Buffer.alloc(65), pub, { format: "raw" }), "BAD_SIGNATURE_FORMAT");
    expectCode(() => signatureRawToDer(Buffer.alloc(10)), "BAD_SIGNATURE_FORMAT");
  });

  it("random bytes of any length as a signature give false or GmCryptoError, nothing else", () => {
    for (let i = 0; i < 300; i++) {
      const junk = randomBytes(i % 80);
      if (i % 3 === 0 && junk.length > 2) {
        junk[0] = 0x30;
        junk[1] = junk.length - 2;
      }
      for (const format of ["der", "raw"] as const) {
        try {
          expect(verify(msg, junk, pub, { format })).toBe(false);
          expect(verifyDigest(computeDigest(msg, pub), junk, pub, { format })).toBe(false);
        } catch (e) {
          expect(e).toBeInstanceOf(GmCryptoError);
        }
      }
    }
  });

  it("bigintFromBytes/bigintToBytes agree (sanity of the helpers the codecs use)", () => {
    const b = randomBytes(32);
    expect(bigintToBytes(bigintFromBytes(b))).toEqual(b);
  });
});
