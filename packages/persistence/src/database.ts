import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { access, cp, mkdir, readdir, rename, rm, rmdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Transaction as PGliteTransaction } from "@electric-sql/pglite";
import { PGlite, types as pgliteTypes } from "@electric-sql/pglite";
import pg from "pg";
import type { PgliteWorkerPool, RemotePGlite } from "./pglite-thread.ts";

/** Runs SQL with positional parameters ($1, $2, ...) and returns the rows. */
export interface SqlExecutor {
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
}

export interface Database extends SqlExecutor {
  readonly kind: "postgres" | "pglite";
  /** runs fn in one transaction (BEGIN/COMMIT, ROLLBACK on throw) on one connection */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** executes a multi-statement SQL script */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export type DatabaseConfig =
  | { kind: "postgres"; url: string; poolSize?: number }
  | {
      kind: "pglite";
      /** undefined = in memory */
      dataDir?: string;
      /**
       * A folder for an initialised, never used PGlite cluster. A new `dataDir` starts as a copy of
       * it (about 1.5 s) instead of running initdb again (6-10 s of WebAssembly on the main thread):
       * the embedded platform opens one database per service. Made on first use.
       */
      template?: string;
      /**
       * Run this database's PGlite on a worker thread of this pool (one round trip per statement)
       * instead of on the calling thread. Unset: in this thread, as before.
       */
      worker?: PgliteWorkerPool;
    };

/** One connection's worth of work: what migrate() needs to hold an advisory lock across transactions. */
export interface Session extends SqlExecutor {
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
}

export type Driver =
  | { kind: "postgres"; pool: pg.Pool }
  | { kind: "pglite"; pglite: PGlite }
  | { kind: "pglite-worker"; pglite: RemotePGlite };

interface Internals {
  readonly driver: Driver;
  /** Runs fn on one dedicated connection (PostgreSQL) or on the single PGlite connection. */
  withSession<T>(fn: (session: Session) => Promise<T>): Promise<T>;
  /** Serialises migrate() calls on the same Database object (the advisory lock covers other processes). */
  migrationQueue: Promise<unknown>;
}

const internals = new WeakMap<Database, Internals>();

/** @internal for migrate() and createPrismaClient(): the driver behind a Database from openDatabase(). */
export function internalsOf(db: Database): Internals {
  const found = internals.get(db);
  if (!found) throw new Error("@piaoju/persistence: this Database was not created by openDatabase()");
  return found;
}

export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  return config.kind === "postgres" ? openPostgres(config) : openPglite(config);
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL (pg.Pool)

async function openPostgres(config: { url: string; poolSize?: number }): Promise<Database> {
  const pool = new pg.Pool({ connectionString: config.url, max: config.poolSize ?? 10 });
  // An idle client that loses its connection (server restart, test database dropped) emits 'error' on the pool;
  // without a listener that would crash the process. The pool discards the client by itself.
  pool.on("error", () => {});
  // A client in use (inside a transaction, or checked out by Prisma's adapter) that loses its
  // connection emits 'error' on itself, where the pool listens only while it is idle: unheard, that
  // would end the process when PostgreSQL restarts. The statement in flight fails with the error
  // anyway, and the pool discards the client on release (it is no longer queryable).
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  // Fail at start-up, not on the first request, when the database is unreachable.
  const probe = await pool.connect().catch(async (error: unknown) => {
    await pool.end().catch(() => {});
    throw error;
  });
  probe.release();

  let closed: Promise<void> | undefined;
  const db: Database = {
    kind: "postgres",
    async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
      const result = await pool.query(text, params ? [...params] : undefined);
      return result.rows as T[];
    },
    async exec(sql: string): Promise<void> {
      await pool.query(sql);
    },
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      return withClient(pool, (client) => clientTransaction(client, fn));
    },
    close(): Promise<void> {
      closed ??= pool.end();
      return closed;
    },
  };
  internals.set(db, {
    driver: { kind: "postgres", pool },
    withSession: (fn) => withClient(pool, (client) => fn(clientSession(client))),
    migrationQueue: Promise.resolve(),
  });
  return db;
}

/** Connections whose ROLLBACK failed: they may still be inside a transaction, so they are destroyed, not reused. */
const brokenClients = new WeakSet<pg.PoolClient>();

async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release(brokenClients.has(client) ? new Error("connection left in an unknown state") : undefined);
  }
}

function clientExecutor(client: pg.PoolClient): SqlExecutor {
  return {
    async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
      const result = await client.query(text, params ? [...params] : undefined);
      return result.rows as T[];
    },
  };
}

function clientSession(client: pg.PoolClient): Session {
  const session: Session = {
    ...clientExecutor(client),
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
    transaction: (fn) => clientTransaction(client, () => fn(session)),
  };
  return session;
}

async function clientTransaction<T>(client: pg.PoolClient, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  let result: T;
  try {
    result = await fn(clientExecutor(client));
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => brokenClients.add(client));
    throw error;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// PGlite (one embedded connection)
//
// PGlite serialises by itself: its top-level query()/exec() and transaction() all wait on one internal
// "transaction" mutex, and transaction() holds it until COMMIT/ROLLBACK. pglite-prisma-adapter runs Prisma's
// queries through the same query() and its interactive transactions through the same transaction(), so a raw
// transaction from here and a Prisma transaction queue on that one mutex and never interleave statements.
//
// The price of a single connection: inside db.transaction(fn), calling db.query() (instead of tx.query())
// would wait for the transaction that is waiting for it. That is detected and refused instead of hanging.

const insidePgliteTransaction = new AsyncLocalStorage<{ open: boolean }>();

function refuseNestedUse(what: string): void {
  if (insidePgliteTransaction.getStore()?.open) {
    throw new Error(
      `@piaoju/persistence: db.${what}() called inside db.transaction() on PGlite, which has one connection ` +
        "and would deadlock; use the tx executor passed to the transaction callback",
    );
  }
}

/** The PGlite release this build runs, so that a template made by another release is never used. */
export const pgliteVersion: string = (() => {
  const entry = fileURLToPath(import.meta.resolve("@electric-sql/pglite"));
  const manifest = join(dirname(dirname(entry)), "package.json");
  return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
})();

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

const templatesInProgress = new Map<string, Promise<void>>();

/** Makes the template once per process; across processes, the first rename wins and the others discard theirs. */
async function ensurePgliteTemplate(template: string): Promise<void> {
  if (await exists(join(template, "PG_VERSION"))) return;
  let making = templatesInProgress.get(template);
  if (!making) {
    making = (async () => {
      const scratch = `${template}.${randomUUID().slice(0, 8)}.tmp`;
      await mkdir(scratch, { recursive: true });
      const fresh = await PGlite.create({ dataDir: scratch });
      await fresh.close();
      try {
        await rename(scratch, template);
      } catch (error) {
        await rm(scratch, { recursive: true, force: true });
        if (!(await exists(join(template, "PG_VERSION")))) throw error;
      }
    })().finally(() => templatesInProgress.delete(template));
    templatesInProgress.set(template, making);
  }
  await making;
}

/** A new data folder from the template, copied aside and renamed, so a crash never leaves half a cluster. */
async function seedFromTemplate(template: string, dataDir: string): Promise<void> {
  await ensurePgliteTemplate(template);
  const copy = `${dataDir}.${randomUUID().slice(0, 8)}.tmp`;
  await cp(template, copy, { recursive: true });
  if (await exists(dataDir)) {
    if ((await readdir(dataDir)).length > 0) {
      await rm(copy, { recursive: true, force: true });
      return; // something else initialised it meanwhile; leave it to PGlite
    }
    await rmdir(dataDir);
  }
  await rename(copy, dataDir);
}

async function openPglite(config: {
  dataDir?: string;
  template?: string;
  worker?: PgliteWorkerPool;
}): Promise<Database> {
  if (config.dataDir !== undefined) {
    await mkdir(dirname(config.dataDir), { recursive: true });
    if (config.template !== undefined && !(await exists(join(config.dataDir, "PG_VERSION")))) {
      await seedFromTemplate(config.template, config.dataDir);
    }
    await mkdir(config.dataDir, { recursive: true });
  }
  // Same JS types as node-postgres for raw queries: int8 stays a string (PGlite's default, a JS number, loses
  // precision past 2^53). Prisma's adapter passes its own parsers per query and is unaffected. (The worker
  // sets the same parser on its side.)
  const driver: Driver = config.worker
    ? { kind: "pglite-worker", pglite: await config.worker.open(config.dataDir) }
    : {
        kind: "pglite",
        pglite: await PGlite.create({
          ...(config.dataDir === undefined ? {} : { dataDir: config.dataDir }),
          parsers: { [pgliteTypes.INT8]: (value: string) => value },
        }),
      };
  // Both answer the same calls (RemotePGlite is the part of PGlite's interface used here and by the adapter).
  const pglite = driver.pglite as PGlite;

  async function pgliteTransaction<T>(fn: (tx: PGliteTransaction) => Promise<T>): Promise<T> {
    refuseNestedUse("transaction");
    const state = { open: true };
    try {
      return await insidePgliteTransaction.run(state, () => pglite.transaction(fn));
    } finally {
      state.open = false;
    }
  }

  const session: Session = {
    async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
      refuseNestedUse("query");
      const result = await pglite.query<T>(text, params ? [...params] : undefined);
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      refuseNestedUse("exec");
      await pglite.exec(sql);
    },
    transaction: (fn) => pgliteTransaction((tx) => fn(pgliteTxSession(tx))),
  };

  let closed: Promise<void> | undefined;
  const db: Database = {
    kind: "pglite",
    query: session.query,
    exec: session.exec,
    transaction: (fn) => pgliteTransaction((tx) => fn(pgliteTxSession(tx))),
    close(): Promise<void> {
      closed ??= pglite.closed ? Promise.resolve() : pglite.close();
      return closed;
    },
  };
  internals.set(db, {
    driver,
    withSession: (fn) => fn(session),
    migrationQueue: Promise.resolve(),
  });
  return db;
}

function pgliteTxSession(tx: PGliteTransaction): Session {
  const txSession: Session = {
    async query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
      const result = await tx.query<T>(text, params ? [...params] : undefined);
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      await tx.exec(sql);
    },
    transaction: () =>
      Promise.reject(new Error("@piaoju/persistence: nested transactions are not supported")),
  };
  return txSession;
}
