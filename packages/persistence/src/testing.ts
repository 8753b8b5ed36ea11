import { randomBytes } from "node:crypto";
import pg from "pg";

export const DEFAULT_TEST_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  /** connection URL of the new database */
  url: string;
  name: string;
  /** terminates the database's connections and drops it (idempotent) */
  drop(): Promise<void>;
}

/**
 * CREATE DATABASE with a unique name on the machine's PostgreSQL (PIAOJU_TEST_PG_URL, or
 * postgres://postgres@127.0.0.1:5432/postgres), so each test file gets an isolated, empty database.
 */
export async function createTestDatabase(opts: { prefix?: string } = {}): Promise<TestDatabase> {
  const adminUrl = process.env.PIAOJU_TEST_PG_URL || DEFAULT_TEST_PG_URL;
  const name = testDatabaseName(opts.prefix);
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${quoteIdent(name)}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    name,
    drop(): Promise<void> {
      dropped ??= withAdmin(adminUrl, async (admin) => {
        // WITH (FORCE) (PostgreSQL 13+) terminates the sessions still connected, atomically with the drop.
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

/** `<prefix>_<time>_<random>`, lower case, within PostgreSQL's 63-byte identifier limit. */
export function testDatabaseName(prefix = "test"): string {
  const safePrefix =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, "_")
      .replace(/^_+|_+$/g, "")
      .slice(0, 40) || "test";
  return `${safePrefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
