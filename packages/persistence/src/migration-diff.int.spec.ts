import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureMigrations, fixtureSchema } from "../test/support/fixture.ts";
import { internalsOf } from "./database.ts";
import type { Database } from "./index.ts";
import { migrate, openDatabase } from "./index.ts";
import { diffSchema, writeMigration } from "./migration-diff.ts";
import { LOCK_FILE, readMigrations } from "./migrations.ts";
import type { MigrationList } from "./schema-engine.ts";
import { NO_FILTER, openSchemaEngine } from "./schema-engine.ts";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "piaoju-migration-diff-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function migrationList(dir: string): Promise<MigrationList> {
  return {
    baseDir: dir,
    lockfile: { path: LOCK_FILE, content: await readFile(join(dir, LOCK_FILE), "utf8") },
    shadowDbInitScript: "",
    migrationDirectories: (await readMigrations(dir)).map((m) => ({
      path: m.name,
      migrationFile: { path: "migration.sql", content: { tag: "ok", value: m.sql } },
    })),
  };
}

describe("migration diff (Prisma schema engine as WebAssembly, on PGlite)", () => {
  it("finds no drift between the fixture's schema and its migrations", async () => {
    expect((await diffSchema({ schemaPath: fixtureSchema })).sql).toBeNull();
  });

  it("writes the next numbered migration for a changed schema, which migrate() then applies", async () => {
    const prismaDir = join(scratch, "prisma");
    await cp(join(fixtureSchema, ".."), prismaDir, { recursive: true });
    const schemaPath = join(prismaDir, "schema.prisma");
    const schema = await readFile(schemaPath, "utf8");
    await writeFile(
      schemaPath,
      schema.replace("  payer     String\n", "  payer     String\n  memo      String?\n"),
    );

    const written = await writeMigration({ schemaPath, name: "Add memo" });
    expect(written?.name).toBe("0003_add_memo");
    expect(written?.sql).toContain(`ALTER TABLE "receipt" ADD COLUMN     "memo" TEXT;`);
    expect(await readFile(join(prismaDir, "migrations", "0003_add_memo", "migration.sql"), "utf8")).toBe(
      written?.sql,
    );
    // the schema now matches: a second run writes nothing
    expect(await writeMigration({ schemaPath, name: "again" })).toBeNull();
    expect((await readdir(join(prismaDir, "migrations"))).sort()).toEqual([
      "0001_init",
      "0002_index_receipts_by_payer",
      "0003_add_memo",
      LOCK_FILE,
    ]);

    const db = await openDatabase({ kind: "pglite" });
    try {
      expect((await migrate(db, join(prismaDir, "migrations"))).applied).toHaveLength(3);
      await db.query("INSERT INTO receipt (id, payer, amount, memo) VALUES ('m', 'p', 1, 'note')");
    } finally {
      await db.close();
    }
  });

  it("starts from the empty schema when there are no migrations yet, and writes migration_lock.toml", async () => {
    const dir = join(scratch, "fresh");
    await cp(fixtureSchema, join(dir, "schema.prisma"), { recursive: true });
    const written = await writeMigration({ schemaPath: join(dir, "schema.prisma"), name: "init" });
    expect(written?.name).toBe("0001_init");
    expect(written?.sql).toBe(
      await readFile(join(fixtureMigrations, "0001_init", "migration.sql"), "utf8").then(
        // the fixture's 0001 was written by this tool before the index existed
        (sql) => `${sql}\n-- CreateIndex\nCREATE INDEX "receipt_payer_idx" ON "receipt"("payer");\n`,
      ),
    );
    expect(await readFile(join(dir, "migrations", LOCK_FILE), "utf8")).toContain('provider = "postgresql"');
  });
});

function columnsOfMigrationsTable(db: Database) {
  return db.query(
    `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
     FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
  );
}

describe("compatibility with the Prisma CLI's migration history", () => {
  it("the schema engine sees migrate()'s records as applied, with matching checksums", async () => {
    const db = await openDatabase({ kind: "pglite" });
    const driver = internalsOf(db).driver;
    if (driver.kind !== "pglite") throw new Error("expected PGlite");
    const { engine, close } = await openSchemaEngine([], driver.pglite);
    try {
      await migrate(db, fixtureMigrations);
      const list = await migrationList(fixtureMigrations);
      const diagnosis = await engine.diagnoseMigrationHistory({
        migrationsList: list,
        optInToShadowDatabase: false,
        filters: NO_FILTER,
      });
      expect(diagnosis).toMatchObject({ editedMigrationNames: [], failedMigrationNames: [], history: null });
      expect(await engine.applyMigrations({ migrationsList: list, filters: NO_FILTER })).toEqual({
        appliedMigrationNames: [],
      });
    } finally {
      await close();
      await db.close();
    }
  });

  it("migrate() accepts a history written by the schema engine (as `prisma migrate deploy` writes it)", async () => {
    const db = await openDatabase({ kind: "pglite" });
    const driver = internalsOf(db).driver;
    if (driver.kind !== "pglite") throw new Error("expected PGlite");
    const { engine, close } = await openSchemaEngine([], driver.pglite);
    try {
      const applied = await engine.applyMigrations({
        migrationsList: await migrationList(fixtureMigrations),
        filters: NO_FILTER,
      });
      expect(applied.appliedMigrationNames).toEqual(["0001_init", "0002_index_receipts_by_payer"]);
      expect((await migrate(db, fixtureMigrations)).applied).toEqual([]);

      // and the table migrate() creates is the engine's, column for column
      const ours = await openDatabase({ kind: "pglite" });
      try {
        await migrate(ours, fixtureMigrations);
        expect(await columnsOfMigrationsTable(ours)).toEqual(await columnsOfMigrationsTable(db));
      } finally {
        await ours.close();
      }
    } finally {
      await close();
      await db.close();
    }
  });
});
