import pino from "pino";
import { describe, expect, it } from "vitest";
import { createHttpApp } from "./http.ts";
import { platformConfig } from "./platform.ts";

/** Who the client is, for lookup limits and a payer's address: the proxy's word only when it is trusted. */
async function clientSeen(trustedProxies: string | undefined, remoteAddress: string, forwardedFor?: string) {
  const app = createHttpApp({
    logger: pino({ level: "silent" }),
    readiness: () => [],
    ...(trustedProxies ? { trustedProxies } : {}),
  });
  app.get("/who", async (req) => ({ ip: req.ip }));
  const res = await app.inject({
    method: "GET",
    url: "/who",
    remoteAddress,
    headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : {},
  });
  await app.close();
  return (res.json() as { ip: string }).ip;
}

describe("the client behind a reverse proxy", () => {
  it("ignores X-Forwarded-For unless the peer is a trusted proxy", async () => {
    expect(await clientSeen(undefined, "10.1.2.3", "203.0.113.7")).toBe("10.1.2.3");
    expect(await clientSeen("10.0.0.0/8", "10.1.2.3", "203.0.113.7")).toBe("203.0.113.7");
    // A client that writes the header itself, not through the proxy, is still itself.
    expect(await clientSeen("10.0.0.0/8", "198.51.100.9", "203.0.113.7")).toBe("198.51.100.9");
    // Only the proxies' hops are believed: a forged first entry is not the client.
    expect(await clientSeen("10.0.0.0/8", "10.1.2.3", "192.0.2.1, 203.0.113.7")).toBe("203.0.113.7");
  });

  it("takes addresses and CIDRs, and refuses anything else naming the variable", () => {
    const field = platformConfig.shape.PIAOJU_TRUSTED_PROXIES;
    for (const ok of ["127.0.0.1", "10.0.0.0/8,127.0.0.1", "fd00::/8", " 10.0.0.1 , ::1"])
      expect(field.safeParse(ok).success, ok).toBe(true);
    for (const bad of ["loopback", "10.0.0.0/33", "10.0.0.1/8/1", "", "10.0.0.1,", "::1/129"])
      expect(field.safeParse(bad).success, bad).toBe(false);
  });
});
