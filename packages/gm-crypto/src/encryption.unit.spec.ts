import { randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { type CiphertextForm, convertCiphertext, decrypt, encrypt, sm3Kdf } from "./encryption.ts";
import { GmCryptoError } from "./errors.ts";
import { generateSm2KeyPair, Sm2PrivateKey } from "./keys.ts";
import { sm3 } from "./sm3.ts";
import { vectors } from "./testdata/vectors.ts";

const key = generateSm2KeyPair();
const forms: CiphertextForm[] = ["C1C3C2", "C1C2C3", "asn1"];

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

describe("SM2 encryption: published vector (OpenSSL sm2_internal_test, GM/T 0009 ASN.1 form)", () => {
  for (const v of vectors.sm2_encryption) {
    const vKey = Sm2PrivateKey.fromHex(v.private_key_hex);
    const ct = Buffer.from(v.ciphertext_asn1_hex, "hex");

    it("decrypts the published ASN.1 ciphertext to the published plaintext", () => {
      expect(decrypt(ct, vKey, { form: "asn1" }).toString("utf8")).toBe(v.plaintext_utf8);
    });

    it("the same ciphertext converted to C1C3C2 and C1C2C3 decrypts too, and converts back byte-exactly", () => {
      for (const form of ["C1C3C2", "C1C2C3"] as const) {
        const raw = convertCiphertext(ct, { form: "asn1" }, { form });
        expect(raw[0]).toBe(4);
        expect(decrypt(raw, vKey, { form }).toString("utf8")).toBe(v.plaintext_utf8);
        expect(convertCiphertext(raw, { form }, { form: "asn1" })).toEqual(ct);
      }
    });

    it("the vector's C1C3C2 layout is 04‖x‖y‖C3‖C2 (the note in the vectors file)", () => {
      const raw = convertCiphertext(ct, { form: "asn1" }, { form: "C1C3C2" });
      expect(raw.length).toBe(65 + 32 + Buffer.byteLength(v.plaintext_utf8));
    });
  }
});

describe("SM2 encryption: round trips", () => {
  it("every form round-trips messages of many lengths (C2 is as long as M)", () => {
    for (const form of forms) {
      for (const len of [1, 2, 31, 32, 33, 64, 100, 1000]) {
        const m = randomBytes(len);
        const ct = encrypt(m, key.publicKey, { form });
        if (form !== "asn1") expect(ct.length).toBe(65 + 32 + len);
        expect(decrypt(ct, key, { form })).toEqual(m);
      }
    }
  });

  it("plaintexts with small leading bytes come back whole (the bug one npm package has)", () => {
    for (let lead = 0; lead < 32; lead++) {
      const m = Buffer.from([lead, 0, 1, 2, 3]);
      expect(decrypt(encrypt(m, key.publicKey), key)).toEqual(m);
    }
  });

  it("C1 without its 04 (sm-crypto layout) round-trips with { c1Prefix: false }", () => {
    const ct = encrypt("hello", key.publicKey, { c1Prefix: false });
    expect(ct.length).toBe(64 + 32 + 5);
    expect(decrypt(ct, key, { c1Prefix: false }).toString()).toBe("hello");
  });

  it("compressed C1 (02/03) is accepted on input", () => {
    const ct = encrypt("compressed", key.publicKey);
    const x = ct.subarray(1, 33);
    const yOdd = ct[64]! & 1;
    const compressed = Buffer.concat([Buffer.from([yOdd ? 3 : 2]), x, ct.subarray(65)]);
    expect(decrypt(compressed, key).toString()).toBe("compressed");
  });

  it("encrypting twice gives different ciphertexts (fresh k)", () => {
    expect(encrypt("same", key.publicKey)).not.toEqual(encrypt("same", key.publicKey));
  });

  it("the KDF is SM3(Z ‖ ct) in counter mode, 32-bit big-endian counter from 1", () => {
    const z = randomBytes(64);
    const expected = Buffer.concat([
      sm3(Buffer.concat([z, Buffer.from([0, 0, 0, 1])])),
      sm3(Buffer.concat([z, Buffer.from([0, 0, 0, 2])])),
    ]);
    expect(sm3Kdf(z, 40)).toEqual(expected.subarray(0, 40));
    expect(sm3Kdf(z, 0)).toHaveLength(0);
  });
});

describe("SM2 encryption: rejection", () => {
  const m = Buffer.from("secret 密钥 material");

  it("a changed C3, C2 or C1 is DECRYPT_FAILED", () => {
    const ct = encrypt(m, key.publicKey);
    for (const i of [65, 96, 97, ct.length - 1]) {
      const bad = Buffer.from(ct);
      bad[i] = bad[i]! ^ 1;
      expectCode(() => decrypt(bad, key), "DECRYPT_FAILED");
    }
  });

  it("C1 not on the curve is DECRYPT_FAILED before any multiplication", () => {
    const ct = encrypt(m, key.publicKey);
    const bad = Buffer.from(ct);
    bad[64] = bad[64]! ^ 1; // y1 changed: off the curve
    expectCode(() => decrypt(bad, key), "DECRYPT_FAILED");
    const zero = Buffer.concat([Buffer.from([4]), Buffer.alloc(64), ct.subarray(65)]);
    expectCode(() => decrypt(zero, key), "DECRYPT_FAILED");
    const asn1 = convertCiphertext(ct, {}, { form: "asn1" });
    const offCurve = Buffer.from(
      new asn1js.Sequence({
        value: [
          asn1js.Integer.fromBigInt(1n),
          asn1js.Integer.fromBigInt(2n),
          new asn1js.OctetString({ valueHex: Buffer.alloc(32) }),
          new asn1js.OctetString({ valueHex: Buffer.alloc(5) }),
        ],
      }).toBER(),
    );
    expect(asn1[0]).toBe(0x30);
    expectCode(() => decrypt(offCurve, key, { form: "asn1" }), "DECRYPT_FAILED");
  });

  it("another key, or the other raw order, is DECRYPT_FAILED", () => {
    const ct = encrypt(m, key.publicKey);
    expectCode(() => decrypt(ct, generateSm2KeyPair()), "DECRYPT_FAILED");
    expectCode(() => decrypt(ct, key, { form: "C1C2C3" }), "DECRYPT_FAILED");
  });

  it("truncated, empty, prefix-less or trailing-garbage input is BAD_CIPHERTEXT_FORMAT", () => {
    const ct = encrypt(m, key.publicKey);
    const asn1 = encrypt(m, key.publicKey, { form: "asn1" });
    expectCode(() => decrypt(ct.subarray(0, 97), key), "BAD_CIPHERTEXT_FORMAT");
    expectCode(() => decrypt(Buffer.alloc(0), key), "BAD_CIPHERTEXT_FORMAT");
    expectCode(() => decrypt(ct.subarray(1), key), "BAD_CIPHERTEXT_FORMAT");
    expectCode(
      () => decrypt(Buffer.concat([asn1, Buffer.from([0])]), key, { form: "asn1" }),
      "BAD_CIPHERTEXT_FORMAT",
    );
    expectCode(
      () => decrypt(asn1.subarray(0, asn1.length - 1), key, { form: "asn1" }),
      "BAD_CIPHERTEXT_FORMAT",
    );
    expectCode(() => decrypt(ct, key, { form: "asn1" }), "BAD_CIPHERTEXT_FORMAT");
    expectCode(() => encrypt(Buffer.alloc(0), key.publicKey), "BAD_INPUT");
  });

  it("ASN.1 that makes asn1js throw (a malformed GeneralizedTime inside) is BAD_CIPHERTEXT_FORMAT", () => {
    expectCode(
      () => decrypt(Buffer.from("3003180141", "hex"), key, { form: "asn1" }),
      "BAD_CIPHERTEXT_FORMAT",
    );
    expectCode(() => decrypt(Buffer.from("180141", "hex"), key, { form: "asn1" }), "BAD_CIPHERTEXT_FORMAT");
  });

  it("random bytes in any form give a GmCryptoError, never another exception", () => {
    for (let i = 0; i < 200; i++) {
      const junk = randomBytes(i);
      if (i % 2 === 0 && i > 0) junk[0] = i % 4 === 0 ? 0x30 : 0x04;
      for (const form of forms) {
        for (const c1Prefix of [true, false]) {
          expect(() => decrypt(junk, key, { form, c1Prefix })).toThrow(GmCryptoError);
        }
      }
    }
  });
});
