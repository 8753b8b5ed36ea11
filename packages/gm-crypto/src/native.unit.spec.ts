/**
 * Piaoju's native SM2 (native/sm2.c) against every published vector, against the OpenSSL path
 * this package had before (Node's OpenSSL, kept as the fallback) on thousands of seeded random
 * cases with edge values, and against the bigint reference multiplication. The openssl CLI and
 * sm-crypto interop suites (openssl-interop, sm-crypto-interop) run through the native path too,
 * since it is the default whenever it is built.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bigintFromBytes, bigintToBytes } from "./bytes.ts";
import { G, multiplyReference, N, type Point } from "./curve.ts";
import { rawBytesToDer, signatureToRawBytes } from "./der-signature.ts";
import { convertCiphertext, decrypt, encrypt, opensslDecrypt, opensslEncrypt } from "./encryption.ts";
import { GmCryptoError } from "./errors.ts";
import { Sm2PrivateKey } from "./keys.ts";
import { keyContext, native, sm2Backend } from "./native.ts";
import { opensslSign, opensslVerify, sign, signDigest, verify, verifyDigest } from "./signature.ts";
import { sm3 } from "./sm3.ts";
import { vectors } from "./testdata/vectors.ts";

const hex = (h: string) => Buffer.from(h, "hex");

/** A seeded byte stream (SHA-256 in counter mode): the same cases on every run. */
function seeded(seed: string): (n: number) => Buffer {
  let counter = 0;
  return (n) => {
    const out: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const block = createHash("sha256").update(`${seed}/${counter++}`).digest();
      out.push(block);
      have += block.length;
    }
    return Buffer.concat(out).subarray(0, n);
  };
}

const xy = (p: Point) => Buffer.concat([bigintToBytes(p.x), bigintToBytes(p.y)]);

describe("the SM2 backend", () => {
  it("is the native addon (the suite refuses the OpenSSL fallback, so CI always tests the fast path)", () => {
    // PIAOJU_GM_NATIVE_OPTIONAL=1 lets a machine without a C compiler run the rest of the suite.
    if (process.env.PIAOJU_GM_NATIVE_OPTIONAL !== "1") {
      expect(
        sm2Backend(),
        "native/build.mjs did not build the addon: see `pnpm install` output",
      ).toMatchObject({ name: "native" });
    }
    expect(sm2Backend().detail).not.toBe("");
  });
});

describe.runIf(native)("native SM2: published vectors", () => {
  const addon = native!;
  const sig = vectors.sm2_signature[0]!;
  const enc = vectors.sm2_encryption[0]!;

  it("derives the published public key from the private key (GM/T 0003.5 A.2)", () => {
    const ctx = addon.keyContext(hex(sig.private_key_hex));
    expect(addon.publicOf(ctx).toString("hex")).toBe(sig.public_key_hex_uncompressed.slice(2));
    expect(addon.mul(hex(sig.private_key_hex), null)?.toString("hex")).toBe(
      sig.public_key_hex_uncompressed.slice(2),
    );
  });

  it("reproduces the published signature (r, s) with the standard's k, from e and from Z_A ‖ M", () => {
    const ctx = addon.keyContext(hex(sig.private_key_hex));
    const k = hex(sig.k_hex!);
    const expected = sig.r_hex + sig.s_hex;
    expect(addon.sign(ctx, null, hex(sig.e_hex), k).toString("hex")).toBe(expected);
    expect(addon.sign(ctx, hex(sig.za_hex), Buffer.from(sig.message_utf8), k).toString("hex")).toBe(expected);
    const pub = hex(sig.public_key_hex_uncompressed).subarray(1);
    expect(addon.verify(pub, null, null, hex(sig.e_hex), hex(expected))).toBe(true);
    expect(addon.verify(pub, addon.buildTable(pub), null, hex(sig.e_hex), hex(expected))).toBe(true);
  });

  it("reproduces the published ciphertext with the standard's k, with and without the key's table", () => {
    const d = hex(enc.private_key_hex);
    const pub = addon.publicOf(addon.keyContext(d));
    const message = Buffer.from(enc.plaintext_utf8);
    const published = convertCiphertext(hex(enc.ciphertext_asn1_hex), { form: "asn1" }, { c1Prefix: false });
    for (const table of [null, addon.buildTable(pub)]) {
      const ours = addon.encrypt(pub, table, message, hex(enc.k_hex!));
      expect(ours.toString("hex")).toBe(published.toString("hex"));
      expect(convertCiphertext(ours, { c1Prefix: false }, { form: "asn1" }).toString("hex")).toBe(
        enc.ciphertext_asn1_hex,
      );
    }
  });

  it("derives the published x2‖y2 = d·C1 and its KDF output (the C2 mask)", () => {
    const raw = convertCiphertext(hex(enc.ciphertext_asn1_hex), { form: "asn1" }, { c1Prefix: false });
    const c1 = raw.subarray(0, 64);
    const x2y2 = addon.mul(hex(enc.private_key_hex), c1);
    expect(x2y2?.toString("hex")).toBe(enc.x2y2_hex);
    const c2 = raw.subarray(96);
    const mask = addon.kdf(x2y2!, c2.length);
    const plain = Buffer.from(c2.map((b, i) => b ^ mask[i]!));
    expect(plain.toString()).toBe(enc.plaintext_utf8);
  });

  it("SM3 matches the published digest and OpenSSL's on every length around the block size", () => {
    expect(addon.sm3(Buffer.from(vectors.sm3[0]!.message_utf8)).toString("hex")).toBe(
      vectors.sm3[0]!.digest_hex,
    );
    const bytes = seeded("sm3");
    for (const length of [...Array.from({ length: 140 }, (_, i) => i), 1000, 65_537]) {
      const data = bytes(length);
      expect(addon.sm3(data).equals(sm3(data)), `length ${length}`).toBe(true);
    }
  });
});

describe.runIf(native)("native SM2 against the OpenSSL path", () => {
  const addon = native!;
  const bytes = seeded("native-vs-openssl");
  const nBytes = bigintToBytes(N);
  const edgeScalars = [1n, 2n, 3n, N - 2n, N - 3n, 1n << 255n, (1n << 224n) - 1n, N >> 1n];
  const keys = [
    ...edgeScalars.map((d) => Sm2PrivateKey.fromRaw(bigintToBytes(d))),
    ...Array.from({ length: 120 }, () =>
      Sm2PrivateKey.fromRaw(bigintToBytes((bigintFromBytes(bytes(32)) % (N - 2n)) + 1n)),
    ),
  ];

  it("1,024 signatures: ours verify on OpenSSL, OpenSSL's verify here, altered ones fail on both", {
    timeout: 60_000,
  }, () => {
    let cases = 0;
    for (const [i, key] of keys.entries()) {
      for (let j = 0; j < 8; j++) {
        const message = bytes((i * 8 + j) % 300);
        const userId = j % 4 === 3 ? bytes(1 + (j % 40)) : undefined;
        const options = {
          ...(userId ? { userId } : {}),
          format: j % 2 ? ("raw" as const) : ("der" as const),
        };
        const ours = sign(message, key, options);
        expect(opensslVerify(message, ours, key.publicKey, options)).toBe(true);
        const theirs = opensslSign(message, key, options);
        expect(verify(message, theirs, key.publicKey, options)).toBe(true);
        const altered = Buffer.from(message.length ? message : Buffer.from([0]));
        altered[0]! ^= 1 << (j % 8);
        expect(verify(altered, theirs, key.publicKey, options)).toBe(false);
        expect(opensslVerify(altered, ours, key.publicKey, options)).toBe(false);
        cases++;
      }
    }
    expect(cases).toBeGreaterThanOrEqual(1000);
  });

  it("signatures with r, s or r + s at the edges verify the same on both paths (false), never throw", () => {
    const key = keys[9]!;
    const e = bytes(32);
    const good = signatureToRawBytes(signDigest(e, key), "der");
    const r = bigintFromBytes(good.subarray(0, 32));
    const s = bigintFromBytes(good.subarray(32));
    const two256 = (1n << 256n) - 1n;
    const pairs: [bigint, bigint][] = [
      [0n, s],
      [r, 0n],
      [N, s],
      [r, N],
      [two256, s],
      [r, two256],
      [N - 1n, s],
      [r, N - 1n],
      [r, N - r], // t = r + s = n
      [1n, 1n],
    ];
    for (const [ri, si] of pairs) {
      const raw = Buffer.concat([bigintToBytes(ri), bigintToBytes(si)]);
      expect(verifyDigest(e, raw, key.publicKey, { format: "raw" })).toBe(false);
      expect(addon.verify(key.publicKey.xyView, null, null, e, raw)).toBe(false);
    }
    expect(verifyDigest(e, rawBytesToDer(good), key.publicKey)).toBe(true);
  });

  // CPU-bound loops of fixed size: the time limit is for a machine busy with other work.
  it("300 encryptions: ours decrypt on the OpenSSL path and back, in every form, tampering refused", {
    timeout: 60_000,
  }, () => {
    const forms = [{}, { form: "C1C2C3" as const }, { form: "asn1" as const }, { c1Prefix: false }];
    for (let i = 0; i < 300; i++) {
      const key = keys[i % keys.length]!;
      const message = bytes(1 + (i % 97));
      const options = forms[i % forms.length]!;
      const ours = encrypt(message, key.publicKey, options);
      expect(opensslDecrypt(ours, key, options).equals(message)).toBe(true);
      if (i % 5 === 0) {
        const theirs = opensslEncrypt(message, key.publicKey, options);
        expect(decrypt(theirs, key, options).equals(message)).toBe(true);
      }
      const tampered = Buffer.from(ours);
      tampered[tampered.length - 1]! ^= 0x40;
      expect(() => decrypt(tampered, key, options)).toThrow(GmCryptoError);
    }
  });

  it("k·G and k·P equal the bigint reference for edge and random scalars; k ≡ 0 and points off the curve give null", () => {
    const p = multiplyReference(0xabcdef0123456789n, G) as Point;
    const scalars = [
      ...edgeScalars,
      N - 1n,
      N + 1n,
      (1n << 256n) - 1n,
      ...Array.from({ length: 12 }, () => bigintFromBytes(bytes(32))),
    ];
    for (const k of scalars) {
      const kb = bigintToBytes(k % (1n << 256n));
      expect(addon.mul(kb, null)?.toString("hex"), `k·G, k = ${k}`).toBe(
        xy(multiplyReference(k, G) as Point).toString("hex"),
      );
      expect(addon.mul(kb, xy(p))?.toString("hex"), `k·P, k = ${k}`).toBe(
        xy(multiplyReference(k, p) as Point).toString("hex"),
      );
    }
    expect(addon.mul(nBytes, null)).toBeNull();
    expect(addon.mul(Buffer.alloc(32), xy(p))).toBeNull();
    const offCurve = xy({ x: p.x, y: p.y ^ 1n });
    expect(addon.mul(bigintToBytes(5n), offCurve)).toBeNull();
    expect(addon.onCurve(offCurve)).toBe(false);
    expect(addon.onCurve(xy(p))).toBe(true);
    expect(addon.buildTable(offCurve)).toBeNull();
  });

  it("refuses private keys outside [1, n−2] as OpenSSL-path keys do", () => {
    for (const d of [0n, N - 1n, N, (1n << 256n) - 1n]) {
      expect(() => addon.keyContext(bigintToBytes(d))).toThrow(RangeError);
    }
    expect(() => keyContext(addon, Sm2PrivateKey.fromRaw(bigintToBytes(N - 2n)))).not.toThrow();
  });

  it("a C1 off the curve is DECRYPT_FAILED, on both paths", () => {
    const key = keys[10]!;
    const ct = encrypt(Buffer.from("x"), key.publicKey);
    ct[64]! ^= 1;
    for (const fn of [decrypt, opensslDecrypt]) {
      let caught: unknown;
      try {
        fn(ct, key);
      } catch (e) {
        caught = e;
      }
      expect((caught as GmCryptoError).code).toBe("DECRYPT_FAILED");
    }
  });
});

describe.runIf(native && existsSync("/usr/bin/valgrind"))("native SM2: constant time", () => {
  it("valgrind's memcheck finds no branch or memory index that depends on a key, nonce or plaintext", {
    timeout: 120_000,
  }, () => {
    const script = new URL("../native/ct-check.sh", import.meta.url).pathname;
    const out = execFileSync(script, ["1"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(out).toContain("ct-harness: 1 rounds");
  });
});
