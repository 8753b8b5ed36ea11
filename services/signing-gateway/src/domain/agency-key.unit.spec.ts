import { describe, expect, it } from "vitest";
import { isAgencyKey } from "./receipt-signing.ts";

describe("isAgencyKey", () => {
  const mapping = new Map([["110102", "shared-2026"]]);
  it("takes the mapping's keys and the pattern's form for an agency code, nothing else", () => {
    expect(isAgencyKey("agency-110101", mapping, "agency-{agencyCode}")).toBe(true);
    expect(isAgencyKey("shared-2026", mapping, "agency-{agencyCode}")).toBe(true);
    expect(isAgencyKey("agency-", mapping, "agency-{agencyCode}")).toBe(false);
    expect(isAgencyKey("agency-../x", mapping, "agency-{agencyCode}")).toBe(false);
    expect(isAgencyKey("gateway-selftest", mapping, "agency-{agencyCode}")).toBe(false);
    expect(isAgencyKey("k-110101-2026", mapping, "k-{agencyCode}-2026")).toBe(true);
  });
});
