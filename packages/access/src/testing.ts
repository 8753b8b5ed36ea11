import { type AssertedIdentity, AssertionSigner, generateAssertionKeys } from "./assertion.ts";
import { BUILT_IN_ROLES, type BuiltInRole, type DataScope } from "./permissions.ts";

/** One key pair for a test process: the platform under test verifies with it, the test signs with it. */
export const TEST_ASSERTION_KEYS = generateAssertionKeys();

/** An identity with built-in roles, as the gateway would assert it for a user with them. */
export function testIdentity(options: {
  actor: string;
  agency: string;
  roles: readonly BuiltInRole[];
  issuingPoints?: readonly string[];
  scope?: DataScope;
  kind?: "person" | "app";
}): AssertedIdentity {
  return {
    actor: options.actor,
    kind: options.kind ?? "person",
    agency: options.agency,
    grants: options.roles.map((r) => {
      const scope = options.scope ?? BUILT_IN_ROLES[r].dataScope;
      return {
        permissions: BUILT_IN_ROLES[r].permissions,
        scope,
        ...(scope === "points" ? { issuingPoints: options.issuingPoints ?? [] } : {}),
      };
    }),
  };
}

/** Every permission there is, agency-wide: what tests of one service's mechanics act as. */
export function allPowerful(actor: string, agency: string): AssertedIdentity {
  return {
    actor,
    kind: "person",
    agency,
    grants: [
      { permissions: Object.values(BUILT_IN_ROLES).flatMap((r) => [...r.permissions]), scope: "agency" },
    ],
  };
}

export function testSigner(): AssertionSigner {
  return new AssertionSigner(TEST_ASSERTION_KEYS.privateKey);
}
