import { describe, expect, it } from "vitest";
import {
  Access,
  AssertionRefused,
  AssertionSigner,
  AssertionVerifier,
  AUTHORISATION_MATRIX,
  BUILT_IN_ROLES,
  CONSOLE_ROUTES,
  generateAssertionKeys,
  INTERNAL_ROUTES,
  maskIdentifier,
  PERMISSIONS,
  publicKeyOf,
} from "./index.ts";
import { testIdentity } from "./testing.ts";

const keys = generateAssertionKeys();
const request = { method: "GET", url: "/v1/receipts/abc?x=1" };
const clerk = testIdentity({ actor: "li.si", agency: "110101", roles: ["clerk"], issuingPoints: ["WIN-01"] });

function refusal(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof AssertionRefused) return error.reason;
    throw error;
  }
  return undefined;
}

describe("the identity assertion", () => {
  it("verifies what the gateway signed, for that request only, while it is fresh", () => {
    let now = Date.parse("2026-12-02T06:00:00Z");
    const signer = new AssertionSigner(keys.privateKey, () => now);
    const verifier = new AssertionVerifier(publicKeyOf(keys.privateKey), () => now);
    const token = signer.sign(clerk, request);
    expect(verifier.verify(token, request)).toEqual(clerk);
    expect(refusal(() => verifier.verify(token, { method: "POST", url: request.url }))).toBe("wrong-request");
    expect(refusal(() => verifier.verify(token, { method: "GET", url: "/v1/receipts/other" }))).toBe(
      "wrong-request",
    );
    now += 31_000;
    expect(refusal(() => verifier.verify(token, request))).toBe("expired");
  });

  it("refuses a changed payload, another key's signature and garbage", () => {
    const signer = new AssertionSigner(keys.privateKey);
    const verifier = new AssertionVerifier(keys.publicKey);
    const token = signer.sign(clerk, request);
    const [body, sig] = token.split(".") as [string, string];
    const widened = JSON.parse(Buffer.from(body, "base64url").toString()) as { agency: string };
    widened.agency = "*";
    const forged = `${Buffer.from(JSON.stringify(widened)).toString("base64url")}.${sig}`;
    expect(refusal(() => verifier.verify(forged, request))).toBe("bad-signature");
    const other = new AssertionSigner(generateAssertionKeys().privateKey).sign(clerk, request);
    expect(refusal(() => verifier.verify(other, request))).toBe("bad-signature");
    for (const junk of ["", "a", "a.b.c", `${body}.`, "..."]) {
      expect(refusal(() => verifier.verify(junk, request))).toMatch(/malformed|bad-signature/);
    }
  });
});

describe("data scopes", () => {
  it("an issuing-point grant reaches its points' things and its agency's shared things, nothing else", () => {
    const access = new Access(clerk);
    expect(access.can("receipt.issue")).toBe(true);
    expect(access.can("stock.confirm")).toBe(false);
    expect(access.allows("receipt.read", { agencyCode: "110101", issuingPointCode: "WIN-01" })).toBe(true);
    expect(access.allows("receipt.read", { agencyCode: "110101", issuingPointCode: "WIN-02" })).toBe(false);
    expect(access.allows("receipt.read", { agencyCode: "440301", issuingPointCode: "WIN-01" })).toBe(false);
    expect(access.allows("base.read", { agencyCode: "110101" })).toBe(true);
    expect(access.allows("base.read", { agencyCode: "440301" })).toBe(false);
    expect(access.reach("receipt.read", "110101")).toEqual({ points: new Set(["WIN-01"]), ownOnly: false });
  });

  it("an own-receipts grant reaches only what the person made; an agency grant all of the agency; * every agency", () => {
    const own = new Access(
      testIdentity({ actor: "wang.wu", agency: "110101", roles: ["clerk"], scope: "own" }),
    );
    expect(
      own.allows("receipt.read", { agencyCode: "110101", issuingPointCode: "WIN-01", createdBy: "wang.wu" }),
    ).toBe(true);
    expect(
      own.allows("receipt.read", { agencyCode: "110101", issuingPointCode: "WIN-01", createdBy: "li.si" }),
    ).toBe(false);
    const manager = new Access(testIdentity({ actor: "m", agency: "110101", roles: ["ticket-manager"] }));
    expect(
      manager.allows("receipt.read", { agencyCode: "110101", issuingPointCode: "WIN-09", createdBy: "x" }),
    ).toBe(true);
    expect(manager.allows("receipt.redFlush", { agencyCode: "110101", issuingPointCode: "WIN-09" })).toBe(
      false,
    );
    const platform = new Access(testIdentity({ actor: "root", agency: "*", roles: ["system-admin"] }));
    expect(platform.allows("base.manage", { agencyCode: "440301" })).toBe(true);
  });

  it("masks identifiers to their ends", () => {
    expect(maskIdentifier("110101199001011234")).toBe("110***********1234");
    expect(maskIdentifier("91110000MA01ABCD2X")).toBe("911***********CD2X");
    expect(maskIdentifier("12345")).toBe("1**45");
    expect(maskIdentifier("123")).toBe("**3");
  });
});

describe("roles, routes and the matrix", () => {
  it("三员分立: the auditor reads the audit log and nothing else; nobody else reads it", () => {
    expect(BUILT_IN_ROLES.auditor.permissions).toEqual(["audit.read"]);
    for (const role of Object.values(BUILT_IN_ROLES)) {
      if (role.name !== "auditor") expect(role.permissions as readonly string[]).not.toContain("audit.read");
    }
    expect(BUILT_IN_ROLES["system-admin"].permissions as readonly string[]).not.toContain("role.manage");
    expect(BUILT_IN_ROLES["security-admin"].permissions as readonly string[]).not.toContain("user.manage");
  });

  it("every route has a row in the matrix, and every permission is used by a route", () => {
    const routes = [...Object.keys(INTERNAL_ROUTES), ...Object.keys(CONSOLE_ROUTES)];
    expect(Object.keys(AUTHORISATION_MATRIX).sort()).toEqual(routes.sort());
    const used = new Set(
      [...Object.values(INTERNAL_ROUTES), ...Object.values(CONSOLE_ROUTES)].flatMap((r) =>
        "permission" in r ? [r.permission] : [],
      ),
    );
    expect(Object.keys(PERMISSIONS).filter((p) => !used.has(p as never))).toEqual([]);
  });
});
