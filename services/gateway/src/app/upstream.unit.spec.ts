import { type AssertedIdentity, AssertionSigner, generateAssertionKeys } from "@piaoju/access";
import { createHttpApp, createLogger } from "@piaoju/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpUpstream, inProcessUpstream, type Upstream } from "./upstream.ts";

// A service that says which bytes reached it: what the console proxy forwards must be what the
// person sent, not a re-serialisation of what the gateway parsed (issue 9, class 2).
const service = createHttpApp({
  logger: createLogger({ name: "echo", level: "silent" }),
  readiness: () => [],
  bodyLimit: 64 * 1024,
});
service.post("/v1/echo", async (req) => ({
  raw: req.rawBody?.toString("utf8") ?? null,
  contentType: req.headers["content-type"] ?? null,
}));
const signer = new AssertionSigner(generateAssertionKeys().privateKey);
const caller: AssertedIdentity = { actor: "alice", kind: "person", agency: "A1", grants: [] };
let base = "";
beforeAll(async () => {
  base = await service.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(() => service.close());

// Bytes a JSON.parse + JSON.stringify round trip would change: spacing, escapes rewritten, a
// number past 2^53 rounded, an exponent spelt out.
const asSent = Buffer.from('{ "b" : 1,\n "a":"\\u00e9\\/", "n": 12345678901234567890, "e": 1e2 }', "utf8");

describe("the gateway's upstream", () => {
  const upstreams: Array<[string, () => Upstream]> = [
    ["in process (embedded)", () => inProcessUpstream(service, "token", signer)],
    ["over HTTP (cluster)", () => httpUpstream("echo", base, "token", signer)],
  ];
  for (const [name, make] of upstreams) {
    it(`${name}: relays a body's bytes exactly as they came, and sends a value as JSON`, async () => {
      const upstream = make();
      const relayed = await upstream.request("POST", "/v1/echo", caller, asSent);
      expect(relayed.status, JSON.stringify(relayed.body)).toBe(200);
      expect(relayed.body).toEqual({ raw: asSent.toString("utf8"), contentType: "application/json" });
      const built = await upstream.request("POST", "/v1/echo", caller, { a: 1 });
      expect(built.body).toEqual({ raw: '{"a":1}', contentType: "application/json" });
    });
  }
});
