import { randomBytes } from "node:crypto";
import { generateSm4Iv, hmacSm3, sm3, sm4CbcEncrypt } from "@piaoju/gm-crypto";
import { describe, expect, it } from "vitest";
import { Keyring, LEGACY_FORMATS, SealError, Sealer } from "./index.ts";

// The old writers, as each service had them before @piaoju/sealing (kept here to prove old data opens).
const K = Buffer.from("00112233445566778899aabbccddeeff", "hex");
const derive = (key: Buffer, purpose: string) =>
  sm3(Buffer.concat([Buffer.from(`piaoju/${purpose}\0`), key]));

function oldGatewayOrDelivery(key: Buffer, plain: Buffer): Buffer {
  const iv = randomBytes(16);
  const ct = sm4CbcEncrypt(key, iv, plain);
  return Buffer.concat([iv, ct, hmacSm3(derive(key, "seal/mac"), Buffer.concat([iv, ct]))]);
}
function oldFinanceSimulator(key: Buffer, plain: Buffer): Buffer {
  const iv = generateSm4Iv();
  const body = Buffer.concat([iv, sm4CbcEncrypt(key, iv, plain)]);
  return Buffer.concat([body, hmacSm3(key, body)]);
}
function oldReporting(key: Buffer, plain: Buffer): Buffer {
  const iv = randomBytes(16);
  const body = Buffer.concat([
    iv,
    sm4CbcEncrypt(derive(key, "reporting/payer-seal").subarray(0, 16), iv, plain),
  ]);
  return Buffer.concat([body, hmacSm3(derive(key, "reporting/payer-mac"), body)]);
}
function oldKeystore(keyId: string, key: Buffer, plain: Buffer): Buffer {
  const enc = hmacSm3(key, "piaoju-keystore/v1/enc").subarray(0, 16);
  const mac = hmacSm3(key, "piaoju-keystore/v1/mac");
  const iv = generateSm4Iv();
  const ct = sm4CbcEncrypt(enc, iv, plain);
  const head = Buffer.from([0x50, 0x4a, 0x4b, 0x53, 0x01]);
  const tag = hmacSm3(mac, Buffer.concat([head, Buffer.from(keyId), Buffer.of(0), iv, ct]));
  return Buffer.concat([head, iv, ct, tag]);
}

describe("legacy formats", () => {
  const plain = Buffer.from('{"name":"张三","code":"110101199003071234"}');
  const cases = [
    ["gatewayDelivery", LEGACY_FORMATS.gatewayDelivery, oldGatewayOrDelivery(K, plain), "x"],
    ["financeSimulator", LEGACY_FORMATS.financeSimulator, oldFinanceSimulator(K, plain), "x"],
    ["reporting", LEGACY_FORMATS.reporting, oldReporting(K, plain), "x"],
    ["keystore", LEGACY_FORMATS.keystore, oldKeystore("agency-1", K, plain), "keystore/agency-1"],
  ] as const;

  for (const [name, format, stored, context] of cases) {
    it(`opens what the ${name} wrote before v1, and only with its own reader and key`, () => {
      expect(new Sealer(new Keyring(K), { legacy: [format] }).unseal(context, stored).equals(plain)).toBe(
        true,
      );
      expect(() =>
        new Sealer(new Keyring(randomBytes(16)), { legacy: [format] }).unseal(context, stored),
      ).toThrow(SealError);
      const others = cases.filter(([n]) => n !== name).map(([, f]) => f);
      expect(() => new Sealer(new Keyring(K), { legacy: others }).unseal(context, stored)).toThrow(SealError);
    });
  }

  it("binds a legacy keystore file to its key id (a renamed file does not open)", () => {
    const s = new Sealer(new Keyring(K), { legacy: [LEGACY_FORMATS.keystore] });
    expect(() => s.unseal("keystore/agency-2", oldKeystore("agency-1", K, plain))).toThrow(SealError);
  });
});
