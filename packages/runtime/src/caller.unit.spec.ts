import { ASSERTION_HEADER, AssertionVerifier } from "@piaoju/access";
import { TEST_ASSERTION_KEYS, testIdentity, testSigner } from "@piaoju/access/testing";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { authenticateCaller, installAssertionVerifier, scopedPoint } from "./caller.ts";
import { AppError, problemOf } from "./errors.ts";

const TOKEN = "k".repeat(40);
const signer = testSigner();

async function app() {
  const http = Fastify();
  installAssertionVerifier(http, new AssertionVerifier(TEST_ASSERTION_KEYS.publicKey));
  http.setErrorHandler((error, _req, reply) => {
    if (!(error instanceof AppError)) throw error;
    const p = problemOf(error);
    return reply.status(p.status).send(p);
  });
  // Routes of the real table: a report read, an operators' route, and one the table does not know.
  http.get("/v1/reporting/reports/:report", async (req) => {
    const caller = authenticateCaller(req, TOKEN);
    const q = req.query as { agencyCode: string; issuingPointCode?: string };
    return { actor: caller.actor, point: scopedPoint(caller, q.agencyCode, q.issuingPointCode) ?? null };
  });
  http.get("/v1/admin/dead-letters/:group", async (req) => ({ actor: authenticateCaller(req, TOKEN).actor }));
  http.get("/v1/not/in/the/table", async (req) => authenticateCaller(req, TOKEN));
  return http;
}

const as = (identity: Parameters<typeof signer.sign>[0], url: string, token = TOKEN) => ({
  authorization: `Bearer ${token}`,
  [ASSERTION_HEADER]: signer.sign(identity, { method: "GET", url }),
});

describe("authenticateCaller", () => {
  it("takes who calls from the verified assertion only, and the route's permission from the table", async () => {
    const http = await app();
    const url = "/v1/reporting/reports/issued-detail?agencyCode=110101";
    const manager = testIdentity({ actor: "m", agency: "110101", roles: ["ticket-manager"] });
    const ok = await http.inject({ url, headers: as(manager, url) });
    expect(ok.json()).toEqual({ actor: "m", point: null });
    const noToken = await http.inject({ url, headers: as(manager, url, "x".repeat(40)) });
    expect(noToken.json().code).toBe("UNAUTHENTICATED");
    const selfDeclared = await http.inject({
      url,
      headers: { authorization: `Bearer ${TOKEN}`, "x-piaoju-actor": "m", "x-piaoju-agencies": "*" },
    });
    expect(selfDeclared.json().code).toBe("ASSERTION_REQUIRED");
    const clerk = testIdentity({ actor: "c", agency: "110101", roles: ["clerk"], issuingPoints: ["WIN-01"] });
    expect((await http.inject({ url, headers: as(clerk, url) })).json().code).toBe("PERMISSION_DENIED");
    const ungoverned = await http.inject({
      url: "/v1/not/in/the/table",
      headers: as(manager, "/v1/not/in/the/table"),
    });
    expect(ungoverned.json().code).toBe("ROUTE_UNGOVERNED");
  });

  it("operators' routes take the token alone and refuse a person", async () => {
    const http = await app();
    const url = "/v1/admin/dead-letters/g";
    const op = await http.inject({
      url,
      headers: { authorization: `Bearer ${TOKEN}`, "x-piaoju-operator": "ops.li" },
    });
    expect(op.json()).toEqual({ actor: "operator:ops.li" });
    const person = await http.inject({
      url,
      headers: as(testIdentity({ actor: "a", agency: "*", roles: ["system-admin"] }), url),
    });
    expect(person.json().code).toBe("OPERATORS_ONLY");
  });

  it("a report reader bound to issuing points reads one of theirs at a time", async () => {
    const http = await app();
    const reader = {
      actor: "r",
      kind: "person" as const,
      agency: "110101",
      grants: [
        {
          permissions: ["report.read" as const],
          scope: "points" as const,
          issuingPoints: ["WIN-01", "WIN-02"],
        },
      ],
    };
    const get = (q: string) => {
      const url = `/v1/reporting/reports/issued-detail?agencyCode=110101${q}`;
      return http.inject({ url, headers: as(reader, url) }).then((r) => r.json());
    };
    expect(await get("&issuingPointCode=WIN-02")).toEqual({ actor: "r", point: "WIN-02" });
    expect((await get("&issuingPointCode=WIN-03")).code).toBe("OUT_OF_SCOPE");
    expect((await get("")).code).toBe("OUT_OF_SCOPE");
    const one = { ...reader, grants: [{ ...reader.grants[0]!, issuingPoints: ["WIN-01"] }] };
    const url = "/v1/reporting/reports/issued-detail?agencyCode=110101";
    expect((await http.inject({ url, headers: as(one, url) })).json()).toEqual({
      actor: "r",
      point: "WIN-01",
    });
  });
});
