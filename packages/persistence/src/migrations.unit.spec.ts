import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { planMigrations } from "./migrate.ts";
import type { MigrationFile } from "./migrations.ts";
import { checksumOf, compareMigrationNames, migrationSlug, nextMigrationPrefix } from "./migrations.ts";
import { testDatabaseName } from "./testing.ts";

const file = (name: string, sql = `-- ${name}`): MigrationFile => ({ name, sql, checksum: checksumOf(sql) });
const row = (
  m: MigrationFile,
  extra: Partial<{ finished_at: Date | null; rolled_back_at: Date | null }> = {},
) => ({
  migration_name: m.name,
  checksum: m.checksum,
  finished_at: new Date(),
  rolled_back_at: null,
  ...extra,
});

describe("checksumOf", () => {
  it("is the sha256 hex of the file's UTF-8 bytes, as Prisma records it", () => {
    const sql = "CREATE TABLE 票据 (id INT);\n";
    expect(checksumOf(sql)).toBe(createHash("sha256").update(Buffer.from(sql, "utf8")).digest("hex"));
    expect(checksumOf(sql)).toHaveLength(64);
  });
});

describe("planMigrations", () => {
  const a = file("0001_a");
  const b = file("0002_b");
  const c = file("0003_c");

  it("returns the migrations not yet recorded, in folder order", () => {
    expect(planMigrations([a, b, c], [row(a)], "dir")).toEqual([b, c]);
    expect(planMigrations([a, b, c], [], "dir")).toEqual([a, b, c]);
    expect(planMigrations([a, b], [row(a), row(b)], "dir")).toEqual([]);
  });

  it("applies a folder that sorts before the last applied one (merged branch), as Prisma does", () => {
    expect(planMigrations([a, b, c], [row(a), row(c)], "dir")).toEqual([b]);
  });

  it("refuses when an applied migration's checksum changed", () => {
    const edited = { ...a, checksum: checksumOf("something else") };
    expect(() => planMigrations([edited, b], [row(a)], "dir")).toThrow(
      /0001_a .*modified after being applied/,
    );
  });

  it("refuses when the table records a failed migration", () => {
    expect(() => planMigrations([a, b], [row(a, { finished_at: null })], "dir")).toThrow(
      /failed migration.*0001_a/,
    );
  });

  it("treats a rolled-back record as not applied", () => {
    const rolledBack = row(a, { finished_at: null, rolled_back_at: new Date() });
    expect(planMigrations([a], [rolledBack], "dir")).toEqual([a]);
  });

  it("warns about recorded migrations missing from the folder, and goes on", () => {
    const logs: string[] = [];
    expect(planMigrations([a], [row(a), row(file("0009_newer"))], "dir", (msg) => logs.push(msg))).toEqual(
      [],
    );
    expect(logs).toEqual([expect.stringContaining("0009_newer")]);
  });
});

describe("migration names", () => {
  it("numbers the next folder one past the highest", () => {
    expect(nextMigrationPrefix([])).toBe("0001");
    expect(nextMigrationPrefix(["0001_init", "0007_x", "migration_lock.toml"])).toBe("0008");
    expect(nextMigrationPrefix(["20240101120000_prisma_style"])).toBe("20240101120001");
  });

  it("slugs the name", () => {
    expect(migrationSlug(" Add payer index! ")).toBe("add_payer_index");
    expect(() => migrationSlug("!!")).toThrow(/no letters or digits/);
  });

  it("orders folders as the Prisma CLI does", () => {
    expect(["0010_b", "0002_a", "0001_z"].sort(compareMigrationNames)).toEqual([
      "0001_z",
      "0002_a",
      "0010_b",
    ]);
  });
});

describe("testDatabaseName", () => {
  it("is unique, lower case and a valid identifier", () => {
    const name = testDatabaseName("Billing Service");
    expect(name).toMatch(/^billing_service_[a-z0-9]+_[0-9a-f]{8}$/);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(testDatabaseName("x".repeat(100)).length).toBeLessThanOrEqual(63);
    expect(testDatabaseName()).not.toBe(testDatabaseName());
  });
});
