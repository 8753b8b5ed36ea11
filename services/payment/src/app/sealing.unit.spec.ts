import { randomBytes } from "node:crypto";
import { sealSm4 } from "@piaoju/gm-crypto";
import { Keyring, LEGACY_FORMATS, Sealer } from "@piaoju/sealing";
import { describe, expect, it } from "vitest";
import { type PaymentContext, sealJson, unsealJson } from "./context.ts";

const hex = () => randomBytes(16).toString("hex");
const contextWith = (keys: string) =>
  ({
    sealer: new Sealer(Keyring.parse(keys), { legacy: [LEGACY_FORMATS.gatewayDelivery] }),
  }) as unknown as PaymentContext;

describe("payment's sealing at rest", () => {
  it("seals in the platform's format, opens under a rotated ring, and still opens what was sealed before it", () => {
    const [oldKey, newKey] = [hex(), hex()];
    const before = contextWith(oldKey);
    const sealed = sealJson(before, { privateKey: "-----BEGIN…", secret: "s" });
    expect(sealed.subarray(0, 4).toString("latin1")).toBe("PJSL");
    expect(sealed.includes("secret")).toBe(false);
    // After rotation (new key first, the old one kept until every row is sealed again).
    const rotated = contextWith(`${newKey},${oldKey}`);
    expect(unsealJson(rotated, sealed)).toEqual({ privateKey: "-----BEGIN…", secret: "s" });
    // Rows written by gm-crypto's sealSm4 before this format, under the old key.
    const legacy = sealSm4(Buffer.from(oldKey, "hex"), Buffer.from(JSON.stringify({ name: "张三" }), "utf8"));
    expect(unsealJson(rotated, legacy)).toEqual({ name: "张三" });
    // A value altered at rest, or sealed under no key of the ring, does not open.
    const altered = Buffer.from(sealed);
    altered[altered.length - 1]! ^= 1;
    expect(() => unsealJson(rotated, altered)).toThrow();
    expect(() => unsealJson(contextWith(hex()), sealed)).toThrow();
  });
});
