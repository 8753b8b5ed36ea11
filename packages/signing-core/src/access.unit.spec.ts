import { describe, expect, it } from "vitest";
import { decide } from "./access.ts";

const agency = (keyId: string) => keyId.startsWith("agency-");

describe("the signing policy", () => {
  it("lets only the signing gateway call a device, with any key", () => {
    expect(
      decide({ endpoint: "device", caller: "signing-gateway", method: "Sign", keyIds: ["x"] }, agency),
    ).toEqual({
      allowed: true,
    });
    for (const caller of ["issuance", "delivery", "finance-exchange"]) {
      expect(decide({ endpoint: "device", caller, method: "Health", keyIds: [] }, agency).allowed).toBe(
        false,
      );
    }
  });

  it("lets issuance and the gateway use agency keys at the gateway, nobody any other key, nobody else at all", () => {
    for (const method of ["Sign", "SignBatch", "SignStream", "OpenEnvelope"] as const) {
      expect(
        decide({ endpoint: "gateway", caller: "issuance", method, keyIds: ["agency-110101"] }, agency),
      ).toEqual({
        allowed: true,
      });
      expect(
        decide({ endpoint: "gateway", caller: "issuance", method, keyIds: ["agency-1", "ferry"] }, agency),
      ).toEqual({
        allowed: false,
        reason: `"issuance" may not use key "ferry" (${method})`,
      });
    }
    expect(
      decide({ endpoint: "gateway", caller: "signing-gateway", method: "Sign", keyIds: ["agency-1"] }, agency)
        .allowed,
    ).toBe(true);
    expect(
      decide({ endpoint: "gateway", caller: "issuance", method: "Verify", keyIds: [] }, agency).allowed,
    ).toBe(true);
    expect(
      decide({ endpoint: "gateway", caller: "stock", method: "Verify", keyIds: [] }, agency).allowed,
    ).toBe(false);
  });

  it("lets delivery sign receipt PDFs with agency keys, and no other key", () => {
    expect(
      decide({ endpoint: "gateway", caller: "delivery", method: "Sign", keyIds: ["agency-110101"] }, agency),
    ).toEqual({ allowed: true });
    expect(
      decide({ endpoint: "gateway", caller: "delivery", method: "Sign", keyIds: ["ferry"] }, agency).allowed,
    ).toBe(false);
    expect(
      decide({ endpoint: "device", caller: "delivery", method: "Sign", keyIds: ["agency-110101"] }, agency)
        .allowed,
    ).toBe(false);
  });
});
