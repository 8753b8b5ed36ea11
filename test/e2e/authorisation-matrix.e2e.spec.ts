import { randomBytes, randomUUID } from "node:crypto";
import {
  AUTHORISATION_MATRIX,
  allowedRoles,
  type BuiltInRole,
  builtInRoleNames,
  CONSOLE_ROUTES,
  INTERNAL_ROUTES,
} from "@piaoju/access";
import { testIdentity } from "@piaoju/access/testing";
import { deliveryService } from "@piaoju/delivery";
import { financeExchangeService } from "@piaoju/finance-exchange";
import { gatewayService } from "@piaoju/gateway";
import { issuanceService } from "@piaoju/issuance";
import { paymentService } from "@piaoju/payment";
import { reportingService } from "@piaoju/reporting";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { stockService } from "@piaoju/stock";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type ConsoleSession, signedInAs } from "../support/console.ts";

const AGENCY = `M${randomUUID().replaceAll("-", "").slice(0, 8).toUpperCase()}`;

/** A concrete path for a route pattern: each parameter a value of the right shape. */
function concrete(pattern: string): string {
  const values: Record<string, string> = {
    id: randomUUID(),
    receiptId: randomUUID(),
    appId: "app-unknown",
    group: "matrix.group",
    agencyCode: AGENCY,
    billCode: "11010126",
    issuingPointCode: "WIN-01",
    channel: "email",
    report: "issued-daily",
    contentSm3: "0".repeat(64),
    name: "matrix-role",
  };
  const path = pattern.replace(/:(\w+)/g, (_, name: string) => values[name] ?? "x");
  return pattern.startsWith("/api/console/audit") ? path : `${path}?agencyCode=${AGENCY}`;
}

/**
 * The authorisation matrix (issue 11): every route × every built-in role, asserted against the
 * table beside the permissions (packages/access/src/matrix.ts). Each internal route is called twice
 * per role: through the gateway with the person's real session (the gateway's check), and straight
 * at the service with what the gateway would assert for that role (the service's own check).
 * Allowed means anything but 403 PERMISSION_DENIED (a probe with an empty body meets 400/404);
 * refused means exactly that.
 */
describe("authorisation matrix", () => {
  let t: TestPlatform;
  const sessions = new Map<BuiltInRole, ConsoleSession>();
  const tally = { requests: 0, allowed: 0, refused: 0 };

  beforeAll(async () => {
    t = await startTestPlatform({
      mode: "embedded",
      services: [
        stockService,
        issuanceService,
        gatewayService,
        financeExchangeService,
        deliveryService,
        reportingService,
        paymentService,
      ],
      kafkaBrokers: inject("kafkaBrokers"),
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_CHECK_CODE_KEY: randomBytes(16).toString("hex"),
        PIAOJU_CONSOLE_SECURE_COOKIES: "false",
      },
    });
    for (const role of builtInRoleNames) {
      const { session } = await signedInAs(t, {
        username: `m.${role}`,
        agencyCode: AGENCY,
        roles: [role],
        issuingPoints: ["WIN-01"],
      });
      sessions.set(role, session);
    }
  }, 300_000);
  afterAll(async () => {
    console.log(
      `authorisation matrix: ${Object.keys(AUTHORISATION_MATRIX).length} routes × ${builtInRoleNames.length} roles; ` +
        `${tally.requests} requests, ${tally.allowed} allowed, ${tally.refused} refused, all as the table says`,
    );
    await t?.stop();
  });

  const expectDecision = (
    route: string,
    role: BuiltInRole,
    via: string,
    res: { status: number; body: { code?: string } },
  ) => {
    tally.requests += 1;
    const denied = res.status === 403 && res.body.code === "PERMISSION_DENIED";
    const allowed = allowedRoles(route).includes(role);
    if (allowed) tally.allowed += 1;
    else tally.refused += 1;
    expect({ route, role, via, refused: denied, status: res.status }).toEqual({
      route,
      role,
      via,
      refused: !allowed,
      status: allowed ? expect.any(Number) : 403,
    });
  };

  it("internal routes: the gateway and each service decide as the table says", async () => {
    for (const [route, rule] of Object.entries(INTERNAL_ROUTES)) {
      const [method, pattern] = route.split(" ") as [string, string];
      for (const role of builtInRoleNames) {
        const path = concrete(pattern);
        const body = method === "GET" ? undefined : {};
        const viaGateway = await sessions.get(role)!.request(method, `/api/internal${path}`, body);
        if ("service" in rule) {
          // Operators' routes are not reachable for people at all.
          expect({ route, role, status: viaGateway.status }).toEqual({ route, role, status: 404 });
          tally.requests += 1;
          tally.refused += 1;
          continue;
        }
        expectDecision(route, role, "gateway", viaGateway);
        const direct = await t.call(
          method,
          path,
          body,
          testIdentity({ actor: `m.${role}`, agency: AGENCY, roles: [role], issuingPoints: ["WIN-01"] }),
        );
        expectDecision(route, role, "service", direct);
      }
    }
  }, 600_000);

  it("console routes: users, roles and the audit log by permission (三员分立)", async () => {
    const self = Object.entries(CONSOLE_ROUTES).filter(([, r]) => "self" in r);
    for (const [route, rule] of Object.entries(CONSOLE_ROUTES)) {
      if ("self" in rule) continue;
      const [method, pattern] = route.split(" ") as [string, string];
      for (const role of builtInRoleNames) {
        const res = await sessions
          .get(role)!
          .request(method, concrete(pattern), method === "GET" ? undefined : {});
        expectDecision(route, role, "console", res);
      }
    }
    // A person's own account: everyone (logout last, it ends the session).
    for (const role of builtInRoleNames) {
      for (const [route] of [
        ...self.filter(([r]) => !r.includes("logout")),
        ...self.filter(([r]) => r.includes("logout")),
      ]) {
        const [method, pattern] = route.split(" ") as [string, string];
        const res = await sessions.get(role)!.request(method, pattern, method === "GET" ? undefined : {});
        expectDecision(route, role, "console", res);
      }
    }
  }, 300_000);
});
