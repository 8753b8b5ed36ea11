import { type Database, openDatabase } from "@piaoju/persistence";
import { createTestDatabase, type TestDatabase } from "@piaoju/persistence/testing";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lookupLimiter } from "./rate-limit.ts";

/** A replica of a service: its own process-local server and pool, the shared database. */
async function replica(db: Database | undefined): Promise<FastifyInstance> {
  const app = Fastify();
  const limiter = await lookupLimiter(app, { perAddress: 5, perCaller: 3, windowMs: 60_000 }, db, "test");
  app.get("/lookup", async (req, reply) => {
    await limiter.byAddress(req, reply);
    const caller = req.headers["x-caller"];
    if (typeof caller === "string") await limiter.byCaller(req, reply, caller);
    return { ok: true };
  });
  await app.ready();
  return app;
}

const from = (app: FastifyInstance, address: string, caller?: string) =>
  app.inject({
    method: "GET",
    url: "/lookup",
    remoteAddress: address,
    headers: caller ? { "x-caller": caller } : {},
  });

describe("lookup limits", () => {
  let server: TestDatabase;
  const dbs: Database[] = [];

  beforeAll(async () => {
    server = await createTestDatabase({ prefix: "rate_limit" });
  });
  afterAll(async () => {
    for (const db of dbs) await db.close();
    await server?.drop();
  });

  it("in memory: per address and per caller, each on its own budget", async () => {
    const app = await replica(undefined);
    for (let i = 0; i < 5; i++) expect((await from(app, "10.0.0.1")).statusCode).toBe(200);
    const refused = await from(app, "10.0.0.1");
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect((await from(app, "10.0.0.2")).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) expect((await from(app, `10.1.0.${i}`, "app-1")).statusCode).toBe(200);
    expect((await from(app, "10.1.0.9", "app-1")).statusCode).toBe(429);
    expect((await from(app, "10.1.0.9", "app-2")).statusCode).toBe(200);
    await app.close();
  });

  it("in PostgreSQL: two replicas count against one budget", async () => {
    for (let i = 0; i < 2; i++) dbs.push(await openDatabase({ kind: "postgres", url: server.url }));
    const [a, b] = [await replica(dbs[0]), await replica(dbs[1])];
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) answers.push((await from(i % 2 ? b : a, "10.9.9.9")).statusCode);
    expect(answers).toEqual([200, 200, 200, 200, 200, 429]);
    // A replica alone in memory would have let each of them take 5.
    expect((await from(a, "10.9.9.9")).statusCode).toBe(429);
    expect((await from(b, "10.9.9.10")).statusCode).toBe(200);
    await a.close();
    await b.close();
  });
});
