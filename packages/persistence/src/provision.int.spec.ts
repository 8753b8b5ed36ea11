import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "./provision.ts";
import { DEFAULT_TEST_PG_URL, quoteIdent, testDatabaseName, withAdmin } from "./testing.ts";

// A production service connects as its own role, which owns its database and cannot CREATE
// DATABASE (k8s/base/postgres): the platform must start with that, and say plainly when the
// database is missing rather than try what the role may not do.
const adminUrl = process.env.PIAOJU_TEST_PG_URL || DEFAULT_TEST_PG_URL;
const role = testDatabaseName("house_role");
const password = randomBytes(12).toString("hex");
const owned = testDatabaseName("house_owned");
const roleUrl = (database: string) => {
  const url = new URL(adminUrl);
  url.username = role;
  url.password = password;
  url.pathname = `/${database}`;
  return url.toString();
};

afterAll(async () => {
  await withAdmin(adminUrl, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(owned)} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
  });
});

describe("ensureDatabase with a service role that has no CREATEDB", () => {
  it("finds the database the role owns, refuses a missing one by name, and never needs CREATEDB", async () => {
    await withAdmin(adminUrl, async (admin) => {
      await admin.query(
        `CREATE ROLE ${quoteIdent(role)} LOGIN NOCREATEDB NOCREATEROLE PASSWORD '${password}'`,
      );
      await admin.query(`CREATE DATABASE ${quoteIdent(owned)} OWNER ${quoteIdent(role)}`);
    });

    // The service's URL names its own database; the check connects there.
    const url = await ensureDatabase(roleUrl(owned), owned, { create: false });
    expect(new URL(url).pathname).toBe(`/${owned}`);
    // As owner it can migrate: create tables in public (PostgreSQL 15 gives public to the owner).
    await withAdmin(url, (c) => c.query("CREATE TABLE migrated_here (id int PRIMARY KEY)"));

    const missing = testDatabaseName("house_missing");
    await expect(ensureDatabase(roleUrl(owned), missing, { create: false })).rejects.toThrow(
      new RegExp(
        `database ${missing} does not exist, and PIAOJU_DATABASE_CREATE=false: have it created with owner ${role}`,
      ),
    );
    // With creation allowed the same role is refused by PostgreSQL itself: what production avoids.
    await expect(ensureDatabase(roleUrl(owned), missing)).rejects.toThrow(
      /permission denied to create database/,
    );
  });
});
