import { randomBytes } from "node:crypto";
import { hmacSm3, sm3, sm4CbcEncrypt } from "@piaoju/gm-crypto";
import { describe, expect, it } from "vitest";
import {
  cbcThenHmac,
  deriveKey,
  Keyring,
  KeyringError,
  keyIdOf,
  normalizeForLookup,
  SealError,
  Sealer,
} from "./index.ts";

const OLD = Buffer.from("00112233445566778899aabbccddeeff", "hex");
const NEW = Buffer.from("ffeeddccbbaa99887766554433221100", "hex");

describe("Sealer (format v1)", () => {
  it("opens what it sealed, for any plaintext length, and never holds the plaintext in clear", () => {
    const s = new Sealer(new Keyring(NEW));
    for (const n of [0, 1, 15, 16, 17, 31, 32, 1000]) {
      const plain = randomBytes(n);
      const sealed = s.seal("ctx", plain);
      expect(sealed.subarray(0, 4).toString("latin1")).toBe("PJSL");
      expect(sealed[4]).toBe(1);
      expect(sealed.subarray(5, 9).toString("hex")).toBe(keyIdOf(NEW));
      expect(s.unseal("ctx", sealed).equals(plain)).toBe(true);
      if (n >= 8) expect(sealed.includes(plain.subarray(0, 8))).toBe(false);
    }
    expect(s.unsealJson("j", s.sealJson("j", { name: "张三" }))).toEqual({ name: "张三" });
  });

  it("refuses a value altered in any byte, or opened in another context", () => {
    const s = new Sealer(new Keyring(NEW));
    const sealed = s.seal("issuance/receipt/1/payer", "张三");
    expect(() => s.unseal("issuance/receipt/2/payer", sealed)).toThrow(SealError);
    for (let i = 0; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i] = (bad[i] as number) ^ 0x01;
      expect(() => s.unseal("issuance/receipt/1/payer", bad), `byte ${i}`).toThrow();
    }
    expect(() => s.unseal("issuance/receipt/1/payer", sealed.subarray(0, 40))).toThrow(SealError);
  });

  it("rotates: new values under the current key, old ones still open until sealed again", () => {
    const before = new Sealer(new Keyring(OLD));
    const old = before.seal("c", "13800138000");
    const after = new Sealer(Keyring.parse(`${NEW.toString("hex")},${OLD.toString("hex")}`));
    expect(after.unsealText("c", old)).toBe("13800138000");
    expect(after.inspect(old)).toEqual({ format: "v1", keyId: keyIdOf(OLD), current: false });
    const again = after.seal("c", after.unseal("c", old));
    expect(after.inspect(again)).toEqual({ format: "v1", keyId: keyIdOf(NEW), current: true });
    // Without the old key in the list, the old value names a key the service does not have.
    expect(() => new Sealer(new Keyring(NEW)).unseal("c", old)).toThrow(/not in the configured key list/);
  });

  it("finds by keyed hash under every key of the ring during a rotation, never by a plain hash", () => {
    const before = new Sealer(new Keyring(OLD));
    const after = new Sealer(new Keyring(NEW, [OLD]));
    const v = normalizeForLookup("phone", "+86 138-0013-8000");
    expect(v).toBe("13800138000");
    expect(after.lookupHashes("p", v)).toEqual([after.lookupHash("p", v), before.lookupHash("p", v)]);
    expect(before.lookupHash("p", v)).not.toBe(sm3(v).toString("hex"));
    expect(before.lookupHash("p", v)).not.toBe(before.lookupHash("q", v));
  });

  it("reads a legacy format with each key of the ring, and refuses it under a wrong key", () => {
    // The gateway's and delivery's format before v1: iv ‖ SM4-CBC under the key ‖ HMAC-SM3(derived mac key).
    const legacy = cbcThenHmac({ keys: (k) => ({ enc: k, mac: deriveKey(k, "seal/mac") }) });
    const iv = randomBytes(16);
    const ct = sm4CbcEncrypt(OLD, iv, Buffer.from("app secret"));
    const stored = Buffer.concat([iv, ct, hmacSm3(deriveKey(OLD, "seal/mac"), Buffer.concat([iv, ct]))]);
    const s = new Sealer(new Keyring(NEW, [OLD]), { legacy: [legacy] });
    expect(s.unsealText("anything", stored)).toBe("app secret");
    expect(s.inspect(stored)).toEqual({ format: "legacy" });
    expect(() => new Sealer(new Keyring(NEW), { legacy: [legacy] }).unseal("x", stored)).toThrow(SealError);
  });

  it("derives a ring for one use: current first, apart from the root keys, rotating with them", () => {
    const ring = new Keyring(NEW, [OLD]).derive("events");
    expect(ring.keys.map((k) => k.key)).toEqual([
      deriveKey(NEW, "events").subarray(0, 16),
      deriveKey(OLD, "events").subarray(0, 16),
    ]);
    const old = new Sealer(new Keyring(OLD).derive("events")).seal("c", "张三");
    expect(new Sealer(ring).unsealText("c", old)).toBe("张三");
    expect(() => new Sealer(new Keyring(OLD)).unseal("c", old)).toThrow(SealError);
    expect(() => new Sealer(new Keyring(OLD).derive("other")).unseal("c", old)).toThrow(SealError);
  });

  it("parses a key list and names no key in its errors", () => {
    expect(Keyring.parse(NEW.toString("hex")).current.id).toBe(keyIdOf(NEW));
    expect(() => Keyring.parse("abc")).toThrow(KeyringError);
    expect(() => Keyring.parse(`${NEW.toString("hex")},zz`)).toThrow(/key 2/);
    expect(() => Keyring.parse(`${NEW.toString("hex")},${NEW.toString("hex")}`)).toThrow(/twice/);
    try {
      Keyring.parse(`${NEW.toString("hex")}x`);
    } catch (e) {
      expect(String(e)).not.toContain(NEW.toString("hex"));
    }
  });
});
