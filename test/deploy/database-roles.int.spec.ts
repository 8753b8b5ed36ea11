import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDatabase } from "@piaoju/persistence";
import { DEFAULT_TEST_PG_URL, quoteIdent, withAdmin } from "@piaoju/persistence/testing";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "./k8s.ts";

// k8s/base/postgres/database-roles.sh, the script the database-roles Job runs, against the machine's
// PostgreSQL: per-service roles that own their database, cannot CREATE DATABASE, and cannot connect to
// another service's database; run twice, it changes nothing but passwords.
const adminUrl = new URL(process.env.PIAOJU_TEST_PG_URL || DEFAULT_TEST_PG_URL);
const tag = `hd${Date.now().toString(36)}`;
const services = [`${tag}-alpha`, `${tag}-beta`];
const names = services.map((s) => `piaoju_${s.replaceAll("-", "_")}`);
const passwords = mkdtempSync(join(tmpdir(), "piaoju-roles-"));

function runScript() {
  return execFileSync("bash", [join(repoRoot, "k8s/base/postgres/database-roles.sh")], {
    encoding: "utf8",
    env: {
      ...process.env,
      SERVICES: services.join(" "),
      PASSWORDS_DIR: passwords,
      PGHOST: adminUrl.hostname,
      PGPORT: adminUrl.port || "5432",
      PGUSER: decodeURIComponent(adminUrl.username) || "postgres",
    },
  });
}
const serviceUrl = (name: string, database = name) => {
  const url = new URL(adminUrl);
  url.username = name;
  url.password = "pw";
  url.pathname = `/${database}`;
  return url.toString();
};

afterAll(async () => {
  rmSync(passwords, { recursive: true, force: true });
  await withAdmin(adminUrl.toString(), async (admin) => {
    for (const name of names) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`);
    }
  });
});

describe("database-roles.sh", () => {
  it("makes one owner role per service without CREATEDB, idempotently, each kept out of the others' databases", async () => {
    for (const s of services) writeFileSync(join(passwords, s), "pw\n");
    expect(runScript()).toContain(`role and database ${names[0]} ready`);
    expect(runScript()).toContain(`role and database ${names[1]} ready`);

    const roles = await withAdmin(adminUrl.toString(), (admin) =>
      admin.query(
        "SELECT r.rolname, r.rolcreatedb, r.rolcreaterole, r.rolsuper, d.datname IS NOT NULL AS owns FROM pg_roles r LEFT JOIN pg_database d ON d.datdba = r.oid AND d.datname = r.rolname WHERE r.rolname = ANY($1) ORDER BY 1",
        [names],
      ),
    );
    expect(roles.rows).toEqual(
      names.map((rolname) => ({
        rolname,
        rolcreatedb: false,
        rolcreaterole: false,
        rolsuper: false,
        owns: true,
      })),
    );
    // What the platform does at start in the cluster: finds its database, creates nothing.
    const [alpha, beta] = names as [string, string];
    expect(await ensureDatabase(serviceUrl(alpha), alpha, { create: false })).toContain(`/${alpha}`);
    await withAdmin(serviceUrl(alpha), (c) => c.query("CREATE TABLE owned_by_alpha (id int)"));
    await expect(withAdmin(serviceUrl(alpha, beta), (c) => c.query("SELECT 1"))).rejects.toThrow(
      /permission denied for database/,
    );
  }, 60_000);
});
