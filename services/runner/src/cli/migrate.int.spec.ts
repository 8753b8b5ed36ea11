import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createTestDatabase, quoteIdent, type TestDatabase, withAdmin } from "@piaoju/persistence/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// `piaoju migrate apply` against PostgreSQL, as an operator runs it before a roll-out.
const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const prefix = `mig${randomUUID().replaceAll("-", "").slice(0, 8)}_`;
let server: TestDatabase;

beforeAll(async () => {
  server = await createTestDatabase({ prefix: "migrate_server" });
});
afterAll(async () => {
  await withAdmin(server.url, (c) =>
    c.query(`DROP DATABASE IF EXISTS ${quoteIdent(`${prefix}stock`)} WITH (FORCE)`),
  );
  await server.drop();
});

function piaoju(env: Record<string, string>, ...args: string[]) {
  const run = spawnSync(process.execPath, ["--import", "tsx", "services/runner/src/main.ts", ...args], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { PATH: process.env.PATH, PIAOJU_DATABASE_URL: server.url, PIAOJU_DATABASE_PREFIX: prefix, ...env },
  });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

describe("piaoju migrate apply", () => {
  it("refuses a missing database when creating is off, then migrates one service, needing no token", async () => {
    const refused = piaoju({ PIAOJU_DATABASE_CREATE: "false" }, "migrate", "apply", "stock");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`database ${prefix}stock does not exist, and PIAOJU_DATABASE_CREATE=false`);

    const applied = piaoju({}, "migrate", "apply", "stock");
    expect(applied.err).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.out).toContain("migrated: stock");
    const url = Object.assign(new URL(server.url), { pathname: `/${prefix}stock` }).toString();
    const names = await withAdmin(url, (c) =>
      c.query("SELECT migration_name FROM _prisma_migrations ORDER BY 1"),
    );
    expect(names.rows.map((r: { migration_name: string }) => r.migration_name)).toContain("0001_init");

    // Again: nothing left to apply, still a success.
    expect(piaoju({}, "migrate", "apply", "stock").code).toBe(0);
  }, 120_000);
});
