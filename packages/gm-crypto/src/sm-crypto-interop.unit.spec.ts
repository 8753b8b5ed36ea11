/**
 * Interop with sm-crypto 0.5.8 (npm), both ways. Its conventions: keys are hex, public keys
 * 04‖x‖y; signatures hex, r‖s unless { der: true }; { hash: true } means "compute e with Z_A"
 * (default ID 1234567812345678); ciphertexts hex WITHOUT the 04 of C1, cipherMode 1 = C1C3C2,
 * 0 = C1C2C3; a failed decryption returns "" / [] instead of throwing.
 */
import { randomBytes } from "node:crypto";
import { sm2 } from "sm-crypto";
import { describe, expect, it } from "vitest";
import { decrypt, encrypt } from "./encryption.ts";
import { generateSm2KeyPair, Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";
import { sign, verify } from "./signature.ts";

const ours = generateSm2KeyPair();
const theirs = sm2.generateKeyPairHex();
const theirKey = Sm2PrivateKey.fromHex(theirs.privateKey);
const message = Buffer.from("票据 interop ✓");
const msgArray = Array.from(message);

describe("interop with sm-crypto 0.5.8: keys", () => {
  it("its hex key pair imports here and derives the same public key", () => {
    expect(theirKey.publicKey.toHex()).toBe(theirs.publicKey);
    expect(Sm2PublicKey.fromHex(theirs.publicKey).equals(theirKey.publicKey)).toBe(true);
  });
});

describe("interop with sm-crypto 0.5.8: signatures", () => {
  it("sm-crypto verifies our DER and raw signatures (hash: true, default user ID)", () => {
    const pubHex = ours.publicKey.toHex();
    const der = sign(message, ours).toString("hex");
    const raw = sign(message, ours, { format: "raw" }).toString("hex");
    expect(sm2.doVerifySignature(msgArray, der, pubHex, { hash: true, der: true })).toBe(true);
    expect(sm2.doVerifySignature(msgArray, raw, pubHex, { hash: true })).toBe(true);
    expect(sm2.doVerifySignature(Array.from(Buffer.from("x")), raw, pubHex, { hash: true })).toBe(false);
  });

  it("sm-crypto verifies our signatures with a custom user ID", () => {
    const raw = sign(message, ours, { userId: "piaoju-01", format: "raw" }).toString("hex");
    expect(
      sm2.doVerifySignature(msgArray, raw, ours.publicKey.toHex(), { hash: true, userId: "piaoju-01" }),
    ).toBe(true);
  });

  it("we verify sm-crypto's DER and raw signatures, default and custom user ID", () => {
    const pub = theirKey.publicKey;
    const der = Buffer.from(sm2.doSignature(msgArray, theirs.privateKey, { hash: true, der: true }), "hex");
    const raw = Buffer.from(sm2.doSignature(msgArray, theirs.privateKey, { hash: true }), "hex");
    expect(verify(message, der, pub)).toBe(true);
    expect(verify(message, raw, pub, { format: "raw" })).toBe(true);
    const custom = Buffer.from(
      sm2.doSignature(msgArray, theirs.privateKey, {
        hash: true,
        userId: "piaoju-01",
        publicKey: theirs.publicKey,
      }),
      "hex",
    );
    expect(verify(message, custom, pub, { userId: "piaoju-01", format: "raw" })).toBe(true);
    expect(verify(message, custom, pub, { format: "raw" })).toBe(false);
  });
});

describe("interop with sm-crypto 0.5.8: encryption", () => {
  it("sm-crypto decrypts our C1C3C2 (mode 1) and C1C2C3 (mode 0) ciphertexts without the 04", () => {
    for (const [form, mode] of [
      ["C1C3C2", 1],
      ["C1C2C3", 0],
    ] as const) {
      const m = randomBytes(50);
      const ct = encrypt(m, ours.publicKey, { form, c1Prefix: false }).toString("hex");
      const out = sm2.doDecrypt(ct, ours.toHex(), mode, { output: "array" }) as unknown as number[];
      expect(Buffer.from(out)).toEqual(m);
    }
  });

  it("we decrypt sm-crypto's mode 1 (C1C3C2) and mode 0 (C1C2C3) ciphertexts", () => {
    for (const [form, mode] of [
      ["C1C3C2", 1],
      ["C1C2C3", 0],
    ] as const) {
      const m = randomBytes(50);
      const ct = Buffer.from(sm2.doEncrypt(Array.from(m), theirs.publicKey, mode), "hex");
      expect(ct.length).toBe(64 + 32 + 50);
      expect(decrypt(ct, theirKey, { form, c1Prefix: false })).toEqual(m);
      expect(decrypt(Buffer.concat([Buffer.from([4]), ct]), theirKey, { form })).toEqual(m);
    }
  });

  it("sm-crypto cannot read our default (04-prefixed) ciphertext: the prefix option matters", () => {
    const ct = encrypt("hello", ours.publicKey).toString("hex");
    expect(sm2.doDecrypt(ct, ours.toHex(), 1)).toBe("");
  });
});
