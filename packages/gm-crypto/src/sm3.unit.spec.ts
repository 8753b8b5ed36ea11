import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { sm3 as smCryptoSm3 } from "sm-crypto";
import { describe, expect, it } from "vitest";
import { createSm3, hmacSm3, sm3 } from "./sm3.ts";
import { vectors } from "./testdata/vectors.ts";

describe("SM3 (GB/T 32905)", () => {
  for (const v of vectors.sm3) {
    it(`hashes the published vector ${JSON.stringify(v.message_utf8)} to its published digest`, () => {
      expect(sm3(v.message_utf8).toString("hex")).toBe(v.digest_hex);
    });
  }

  it("gives the same digest incrementally as in one call", () => {
    const data = randomBytes(10_000);
    const h = createSm3();
    for (let i = 0; i < data.length; i += 997) h.update(data.subarray(i, i + 997));
    expect(h.digest()).toEqual(sm3(data));
  });

  it("agrees with sm-crypto on random inputs of many lengths", () => {
    for (const len of [0, 1, 55, 56, 63, 64, 65, 1000]) {
      const data = randomBytes(len);
      expect(sm3(data).toString("hex")).toBe(smCryptoSm3(Array.from(data)));
    }
  });
});

describe("HMAC-SM3", () => {
  it("agrees with the openssl CLI", () => {
    const data = Buffer.from("piaoju receipt 001");
    const out = execFileSync("openssl", ["dgst", "-sm3", "-hmac", "secret-key", "-r"], { input: data });
    expect(hmacSm3("secret-key", data).toString("hex")).toBe(out.toString().split(" ")[0]);
  });

  it("agrees with sm-crypto for short and long (> 64-byte block, hashed first) keys", () => {
    for (const keyLen of [16, 64, 100]) {
      const key = randomBytes(keyLen);
      const data = randomBytes(200);
      const theirs = smCryptoSm3(Array.from(data), { key: key.toString("hex"), mode: "hmac" });
      expect(hmacSm3(key, data).toString("hex")).toBe(theirs);
    }
  });
});
