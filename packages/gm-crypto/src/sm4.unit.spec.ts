import { execFileSync } from "node:child_process";
import { createCipheriv } from "node:crypto";
import { sm4 as smCryptoSm4 } from "sm-crypto";
import { describe, expect, it } from "vitest";
import { GmCryptoError } from "./errors.ts";
import {
  generateSm4Iv,
  generateSm4Key,
  SM4_GCM_SUPPORTED,
  sm4CbcDecrypt,
  sm4CbcEncrypt,
  sm4EcbDecrypt,
  sm4EcbEncrypt,
} from "./sm4.ts";
import { vectors } from "./testdata/vectors.ts";

const hex = (h: string) => Buffer.from(h, "hex");

describe("SM4 (GB/T 32907)", () => {
  for (const v of vectors.sm4_ecb_no_padding) {
    it("encrypts the published ECB vector to its published ciphertext and back", () => {
      const ct = sm4EcbEncrypt(hex(v.key_hex), hex(v.plaintext_hex));
      expect(ct.toString("hex")).toBe(v.ciphertext_hex);
      expect(sm4EcbDecrypt(hex(v.key_hex), ct).toString("hex")).toBe(v.plaintext_hex);
    });
  }

  it("CBC with PKCS#7 round-trips every length around the block size", () => {
    const key = generateSm4Key();
    const iv = generateSm4Iv();
    for (let len = 0; len <= 33; len++) {
      const pt = Buffer.alloc(len, 0xab);
      const ct = sm4CbcEncrypt(key, iv, pt);
      expect(ct.length).toBe((Math.floor(len / 16) + 1) * 16);
      expect(sm4CbcDecrypt(key, iv, ct)).toEqual(pt);
    }
  });

  it("CBC agrees with the openssl CLI (sm4-cbc, PKCS#7)", () => {
    const key = generateSm4Key();
    const iv = generateSm4Iv();
    const pt = Buffer.from("票据 electronic receipt payload");
    const theirs = execFileSync(
      "openssl",
      ["enc", "-sm4-cbc", "-K", key.toString("hex"), "-iv", iv.toString("hex")],
      { input: pt },
    );
    expect(sm4CbcEncrypt(key, iv, pt)).toEqual(theirs);
  });

  it("CBC agrees with sm-crypto (mode cbc, pkcs#7) both ways", () => {
    const key = generateSm4Key();
    const iv = generateSm4Iv();
    const pt = Buffer.from("0123456789abcdef-and-more");
    const theirs = smCryptoSm4.encrypt(Array.from(pt), key.toString("hex"), {
      mode: "cbc",
      iv: iv.toString("hex"),
    });
    expect(sm4CbcEncrypt(key, iv, pt).toString("hex")).toBe(theirs);
    const back = smCryptoSm4.decrypt(sm4CbcEncrypt(key, iv, pt).toString("hex"), key.toString("hex"), {
      mode: "cbc",
      iv: iv.toString("hex"),
      output: "array",
    });
    expect(Buffer.from(back)).toEqual(pt);
  });

  it("rejects a wrong key with DECRYPT_FAILED or garbage, never a crash", () => {
    const key = generateSm4Key();
    const iv = generateSm4Iv();
    const ct = sm4CbcEncrypt(key, iv, Buffer.from("hello"));
    let failures = 0;
    for (let i = 0; i < 20; i++) {
      try {
        expect(sm4CbcDecrypt(generateSm4Key(), iv, ct)).not.toEqual(Buffer.from("hello"));
      } catch (e) {
        expect(e).toBeInstanceOf(GmCryptoError);
        expect((e as GmCryptoError).code).toBe("DECRYPT_FAILED");
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(10);
  });

  it("rejects keys and IVs of the wrong length and truncated ciphertext", () => {
    const iv = generateSm4Iv();
    expect(() => sm4CbcEncrypt(Buffer.alloc(15), iv, Buffer.alloc(1))).toThrow(
      expect.objectContaining({ code: "BAD_INPUT" }),
    );
    expect(() => sm4CbcEncrypt(generateSm4Key(), Buffer.alloc(8), Buffer.alloc(1))).toThrow(
      expect.objectContaining({ code: "BAD_INPUT" }),
    );
    expect(() => sm4CbcDecrypt(generateSm4Key(), iv, Buffer.alloc(17))).toThrow(
      expect.objectContaining({ code: "DECRYPT_FAILED" }),
    );
    expect(() => sm4EcbEncrypt(generateSm4Key(), Buffer.alloc(5))).toThrow(
      expect.objectContaining({ code: "BAD_INPUT" }),
    );
  });

  it("Node 20's OpenSSL 3.0 has no sm4-gcm (SM4_GCM_SUPPORTED reflects the runtime)", () => {
    let nodeHasIt = true;
    try {
      createCipheriv("sm4-gcm", Buffer.alloc(16), Buffer.alloc(12));
    } catch {
      nodeHasIt = false;
    }
    expect(SM4_GCM_SUPPORTED).toBe(nodeHasIt);
  });
});
