import { afterAll, describe, expect, it } from "vitest";
import { createHttpApp } from "./http.ts";
import { createLogger } from "./logger.ts";

// A database outage under a request is the caller's cue to try again, not an internal error: what
// node-postgres, PostgreSQL and Prisma's pg adapter throw while the database restarts becomes 503
// DATABASE_UNAVAILABLE with Retry-After, in both languages.
const app = createHttpApp({ logger: createLogger({ name: "t", level: "silent" }), readiness: () => [] });
const thrown: Record<string, () => Error> = {
  terminated: () => new Error("Connection terminated unexpectedly"),
  recovery: () => Object.assign(new Error("the database system is in recovery mode"), { code: "57P03" }),
  adapter: () =>
    Object.assign(new Error("ConnectionClosed"), {
      name: "DriverAdapterError",
      cause: { kind: "ConnectionClosed" },
    }),
  other: () => new Error("a bug"),
};
app.get("/throw/:what", async (req) => {
  throw (thrown[(req.params as { what: string }).what] ?? thrown.other)?.();
});
afterAll(() => app.close());

describe("a database outage under a request", () => {
  for (const what of ["terminated", "recovery", "adapter"]) {
    it(`answers 503 DATABASE_UNAVAILABLE with Retry-After (${what})`, async () => {
      const res = await app.inject({ method: "GET", url: `/throw/${what}` });
      expect(res.statusCode).toBe(503);
      expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
      expect(res.json()).toMatchObject({
        status: 503,
        code: "DATABASE_UNAVAILABLE",
        detailZh: expect.stringContaining("稍后重试"),
      });
    });
  }

  it("still answers a bug with 500 INTERNAL, its message kept out of the answer", async () => {
    const res = await app.inject({ method: "GET", url: "/throw/other" });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: "INTERNAL", detail: "internal error" });
  });
});
