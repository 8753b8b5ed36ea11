import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  LOCK_FILE,
  LOCK_FILE_CONTENT,
  MIGRATION_FILE,
  migrationSlug,
  nextMigrationPrefix,
  readMigrations,
} from "./migrations.ts";
import type { MigrationList } from "./schema-engine.ts";
import { NO_FILTER, openSchemaEngine } from "./schema-engine.ts";

export interface DiffOptions {
  /** schema.prisma, or a folder of .prisma files (Prisma's multi-file schema) */
  schemaPath: string;
  /** default: `migrations` beside the schema file */
  migrationsDir?: string;
}

export interface SchemaFile {
  path: string;
  content: string;
}

/** The schema files: the one file, or every .prisma file under the folder. */
export async function readSchemaFiles(schemaPath: string): Promise<SchemaFile[]> {
  if (!(await isDirectoryPath(schemaPath))) {
    return [{ path: schemaPath, content: await readFile(schemaPath, "utf8") }];
  }
  const entries = await readdir(schemaPath, { recursive: true, withFileTypes: true });
  const paths = entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".prisma"))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  return Promise.all(paths.map(async (path) => ({ path, content: await readFile(path, "utf8") })));
}

export function defaultMigrationsDir(schemaPath: string, isDirectory: boolean): string {
  return join(isDirectory ? schemaPath : dirname(schemaPath), "migrations");
}

/**
 * The SQL that takes a database from "every existing migration applied" (or empty, when there is none) to the
 * schema file, as `prisma migrate diff --from-migrations ... --to-schema ... --script` computes it. The existing
 * migrations are replayed on a fresh in-memory PGlite (the shadow database). `null` when nothing changed.
 */
export async function diffSchema(opts: DiffOptions): Promise<{ sql: string | null; migrationsDir: string }> {
  const isDirectory = await isDirectoryPath(opts.schemaPath);
  const migrationsDir = opts.migrationsDir ?? defaultMigrationsDir(opts.schemaPath, isDirectory);
  const files = await readSchemaFiles(opts.schemaPath);
  const existing = (await isDirectoryPath(migrationsDir)) ? await readMigrations(migrationsDir) : [];
  const lockContent = await readFile(join(migrationsDir, LOCK_FILE), "utf8").catch(() => LOCK_FILE_CONTENT);
  const list: MigrationList = {
    baseDir: migrationsDir,
    lockfile: { path: LOCK_FILE, content: lockContent },
    shadowDbInitScript: "",
    migrationDirectories: existing.map((m) => ({
      path: m.name,
      migrationFile: { path: MIGRATION_FILE, content: { tag: "ok", value: m.sql } },
    })),
  };
  const { engine, close } = await openSchemaEngine(files.map((f) => [f.path, f.content] as const));
  try {
    const result = await engine.diff({
      // Also with no migration yet: "from migrations" replays onto a fresh shadow database (which has the public
      // schema), like `prisma migrate dev`; "from empty" would add a CREATE SCHEMA "public" step.
      from: { tag: "migrations", ...list },
      to: { tag: "schemaDatamodel", files },
      script: true,
      // With exitCode set, the engine answers 2 when there is a difference and 0 when there is none.
      exitCode: true,
      filters: NO_FILTER,
    });
    return { sql: result.exitCode === 2 ? (result.stdout ?? "") : null, migrationsDir };
  } finally {
    await close();
  }
}

export interface WrittenMigration {
  name: string;
  /** path of the migration.sql written */
  path: string;
  sql: string;
}

/**
 * Diffs and writes `<migrationsDir>/NNNN_<name>/migration.sql` (plus migration_lock.toml when missing).
 * Returns null, writing nothing, when the schema matches the migrations already.
 */
export async function writeMigration(opts: DiffOptions & { name: string }): Promise<WrittenMigration | null> {
  const slug = migrationSlug(opts.name);
  const { sql, migrationsDir } = await diffSchema(opts);
  if (sql === null) return null;
  const existing = await readdir(migrationsDir).catch(() => [] as string[]);
  const name = `${nextMigrationPrefix(existing)}_${slug}`;
  const dir = join(migrationsDir, name);
  await mkdir(dir, { recursive: true });
  if (!existing.includes(LOCK_FILE)) await writeFile(join(migrationsDir, LOCK_FILE), LOCK_FILE_CONTENT);
  const path = join(dir, MIGRATION_FILE);
  await writeFile(path, sql, { flag: "wx" });
  return { name, path, sql };
}

async function isDirectoryPath(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info?.isDirectory() ?? false;
}
