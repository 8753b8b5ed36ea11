import { randomUUID } from "node:crypto";
import type { Database, Session } from "./database.ts";
import { internalsOf } from "./database.ts";
import type { MigrationFile } from "./migrations.ts";
import { compareMigrationNames, readMigrations } from "./migrations.ts";

/**
 * The advisory lock key the Prisma schema engine itself takes while migrating, so migrate() here and a real
 * `prisma migrate deploy` exclude each other too. Advisory locks are per database: services do not block each other.
 */
export const MIGRATION_LOCK_KEY = 72707369;

/** The table exactly as the Prisma schema engine creates it (PostgreSQL connector). */
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export interface MigrateOptions {
  log?: (msg: string) => void;
}

/**
 * Applies the migration folders of `migrationsDir` (Prisma's layout) that the database has not recorded yet, in
 * order, each in its own transaction, recording each in `_prisma_migrations` as the Prisma CLI does.
 *
 * Refuses to start when an applied migration's file changed (checksum) or when the table records a failed
 * migration (left by the Prisma CLI). Holds pg_advisory_lock for the whole run so that concurrent starts of the same
 * service apply each migration once.
 */
export async function migrate(
  db: Database,
  migrationsDirs: string | readonly string[],
  opts: MigrateOptions = {},
): Promise<{ applied: string[] }> {
  const log = opts.log ?? (() => {});
  // Several folders (the platform's outbox/inbox tables, then the service's own) form one history, by name.
  const dirs = typeof migrationsDirs === "string" ? [migrationsDirs] : migrationsDirs;
  const migrations = (await Promise.all(dirs.map((dir) => readMigrations(dir))))
    .flat()
    .sort((a, b) => compareMigrationNames(a.name, b.name));
  const duplicate = migrations.find((m, i) => i > 0 && migrations[i - 1]!.name === m.name);
  if (duplicate)
    throw new Error(`@piaoju/persistence: migration ${duplicate.name} appears in more than one folder`);
  const migrationsDir = dirs.join(", ");
  const internal = internalsOf(db);
  const run = internal.migrationQueue.then(() =>
    internal.withSession((session) => migrateLocked(session, migrations, migrationsDir, log)),
  );
  internal.migrationQueue = run.catch(() => {});
  return run;
}

async function migrateLocked(
  session: Session,
  migrations: readonly MigrationFile[],
  migrationsDir: string,
  log: (msg: string) => void,
): Promise<{ applied: string[] }> {
  await session.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
  try {
    await session.exec(CREATE_MIGRATIONS_TABLE);
    const rows = await session.query<MigrationRow>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at`,
    );
    const pending = planMigrations(migrations, rows, migrationsDir, log);
    const applied: string[] = [];
    for (const migration of pending) {
      const startedAt = new Date();
      try {
        await session.transaction(async (tx) => {
          await tx.exec(migration.sql);
          await tx.query(
            `INSERT INTO "_prisma_migrations"
               (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
             VALUES ($1, $2, clock_timestamp(), $3, NULL, NULL, $4, 1)`,
            [randomUUID(), migration.checksum, migration.name, startedAt],
          );
        });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(
          `@piaoju/persistence: migration ${migration.name} failed and was rolled back (nothing recorded): ${reason}`,
          { cause: error },
        );
      }
      applied.push(migration.name);
      log(`applied migration ${migration.name}`);
    }
    if (applied.length === 0) log(`database schema is up to date (${migrations.length} migrations)`);
    return { applied };
  } finally {
    // If this fails the connection is gone, and the lock with it: do not hide the original error.
    await session.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
  }
}

/** Decides what to apply, or throws when the recorded history does not allow starting. Pure. */
export function planMigrations(
  migrations: readonly MigrationFile[],
  rows: readonly MigrationRow[],
  migrationsDir: string,
  log: (msg: string) => void = () => {},
): MigrationFile[] {
  const failed = rows.filter((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed.length > 0) {
    const names = failed.map((row) => row.migration_name).join(", ");
    throw new Error(
      `@piaoju/persistence: the database records failed migration(s) ${names} (started but never finished). ` +
        "Fix the database by hand, then mark it with `prisma migrate resolve --rolled-back <name>` or delete its " +
        "row from _prisma_migrations.",
    );
  }
  const applied = new Map<string, MigrationRow>();
  for (const row of rows) {
    if (row.finished_at !== null && row.rolled_back_at === null) applied.set(row.migration_name, row);
  }
  const changed = migrations.filter((m) => {
    const row = applied.get(m.name);
    return row !== undefined && row.checksum !== m.checksum;
  });
  if (changed.length > 0) {
    const names = changed.map((m) => m.name).join(", ");
    throw new Error(
      `@piaoju/persistence: refusing to migrate: applied migration(s) ${names} in ${migrationsDir} were modified ` +
        "after being applied (checksum differs from _prisma_migrations). Restore the original file(s) and put the " +
        "change in a new migration.",
    );
  }
  const known = new Set(migrations.map((m) => m.name));
  const unknown = [...applied.keys()].filter((name) => !known.has(name));
  if (unknown.length > 0) {
    log(
      `warning: the database has migration(s) not in ${migrationsDir}: ${unknown.join(", ")} (newer code ran?)`,
    );
  }
  return migrations.filter((m) => !applied.has(m.name));
}
