import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { quoteIdent, withAdmin } from "./testing.ts";

/**
 * A database's own consistent copy, and back: PGlite's dump of its data folder (embedded), and
 * pg_dump / pg_restore's custom format (PostgreSQL). Each copy is one snapshot of one database.
 */

const run = promisify(execFile);

/** Whether a PGlite data folder is open in some process now (PGlite keeps postmaster.pid while open). */
export function pgliteInUse(dataDir: string): boolean {
  return existsSync(join(dataDir, "postmaster.pid"));
}

/** PGlite's own dump of the database in `dataDir` (a gzipped tar of its data folder) into `file`. */
export async function dumpPglite(dataDir: string, file: string): Promise<void> {
  if (pgliteInUse(dataDir)) throw new Error(`${dataDir} is open (postmaster.pid): stop the platform first`);
  const db = new PGlite(dataDir);
  try {
    await db.query("SELECT 1");
    const dump = await db.dumpDataDir("gzip");
    await writeFile(file, Buffer.from(await dump.arrayBuffer()), { mode: 0o600 });
  } finally {
    await db.close();
  }
}

/** Loads a dump of dumpPglite into `dataDir`, which must not hold a database yet. */
export async function loadPglite(file: string, dataDir: string): Promise<void> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) throw new Error(`${dataDir} is not empty`);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const db = new PGlite(dataDir, { loadDataDir: new Blob([await readFile(file)]) });
  try {
    await db.query("SELECT 1");
  } finally {
    await db.close();
  }
}

/** `url` with its database replaced by `name`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The server's major version and pg_dump's: a dump needs a pg_dump at least as new as the server. */
async function checkClientTools(serverUrl: string): Promise<void> {
  const server = await withAdmin(serverUrl, (c) =>
    c.query<{ server_version_num: string }>("SHOW server_version_num"),
  );
  const serverMajor = Math.floor(Number(server.rows[0]?.server_version_num ?? 0) / 10_000);
  let client: string;
  try {
    client = (await run("pg_dump", ["--version"])).stdout;
  } catch {
    throw new Error("pg_dump is not installed: a cluster backup needs PostgreSQL's client tools");
  }
  const clientMajor = Number(/(\d+)(\.\d+)?/.exec(client)?.[1] ?? 0);
  if (clientMajor < serverMajor) {
    throw new Error(
      `pg_dump ${clientMajor} is older than the server (${serverMajor}): install client tools ${serverMajor} or newer`,
    );
  }
}

/** Databases among `names` that exist on the server. */
export async function existingDatabases(serverUrl: string, names: readonly string[]): Promise<string[]> {
  return withAdmin(serverUrl, async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname = ANY($1)",
      [[...names]],
    );
    return rows.map((r) => r.datname);
  });
}

/** Sessions on `name` other than ours: a running service keeps some open. */
export async function otherSessions(serverUrl: string, name: string): Promise<number> {
  return withAdmin(serverUrl, async (c) => {
    const { rows } = await c.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name],
    );
    return Number(rows[0]?.n ?? 0);
  });
}

/** pg_dump of database `name` in the custom format (one consistent snapshot) into `file`. */
export async function dumpPostgres(serverUrl: string, name: string, file: string): Promise<void> {
  await checkClientTools(serverUrl);
  await run(
    "pg_dump",
    [
      "--format=custom",
      "--no-owner",
      "--no-acl",
      `--file=${file}`,
      `--dbname=${databaseUrl(serverUrl, name)}`,
    ],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
}

/** Creates database `name` (it must not exist) and restores a dump of dumpPostgres into it. */
export async function restorePostgres(file: string, serverUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name ${name}`);
  if ((await existingDatabases(serverUrl, [name])).length > 0) {
    throw new Error(`database ${name} exists: restore into a fresh database (or drop it first)`);
  }
  await withAdmin(serverUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
  await run(
    "pg_restore",
    [
      "--no-owner",
      "--no-acl",
      "--exit-on-error",
      "--single-transaction",
      `--dbname=${databaseUrl(serverUrl, name)}`,
      file,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
}
