import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FixtureClientModule } from "../test/support/fixture.ts";
import { fixtureMigrations, loadFixtureClient } from "../test/support/fixture.ts";
import type { Database, DatabaseConfig } from "./index.ts";
import { createPrismaClient, migrate, openDatabase, PgliteWorkerPool, prismaExecutor } from "./index.ts";
import type { TestDatabase } from "./testing.ts";
import { createTestDatabase } from "./testing.ts";

// One contract, two engines: every service runs on PostgreSQL in production and on PGlite embedded/in tests,
// PGlite either on the calling thread or on a worker thread (what the embedded platform runs by default).

type Engine = "postgres" | "pglite" | "pglite-worker";
type Prisma = InstanceType<FixtureClientModule["PrismaClient"]>;

let scratch: string;
let counter = 0;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "piaoju-persistence-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A migrations folder in Prisma's layout. Names are unique per call: one database serves the whole file. */
async function migrationsDir(files: Record<string, string>): Promise<{ dir: string; names: string[] }> {
  const dir = join(scratch, `migrations_${++counter}`);
  const names: string[] = [];
  for (const [name, sql] of Object.entries(files)) {
    const unique = name.replace(/^(\d+)_/, `$1_c${counter}_`);
    names.push(unique);
    await mkdir(join(dir, unique), { recursive: true });
    await writeFile(join(dir, unique, "migration.sql"), sql);
  }
  return { dir, names: names.sort() };
}

async function recorded(db: Database, names: readonly string[]) {
  return db.query<{
    migration_name: string;
    checksum: string;
    finished_at: Date | null;
    applied_steps_count: number;
  }>(
    `SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations"
     WHERE migration_name = ANY($1::text[]) ORDER BY migration_name`,
    [names],
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each<Engine>(["postgres", "pglite", "pglite-worker"])("persistence on %s", (engine) => {
  const pglite = engine !== "postgres";
  let testDb: TestDatabase | undefined;
  let config: DatabaseConfig;
  let db: Database;
  let client: FixtureClientModule;

  beforeAll(async () => {
    client = await loadFixtureClient();
    if (engine === "postgres") {
      testDb = await createTestDatabase({ prefix: "persistence" });
      config = { kind: "postgres", url: testDb.url, poolSize: 5 };
    } else if (engine === "pglite") {
      config = { kind: "pglite" };
    } else {
      config = { kind: "pglite", worker: new PgliteWorkerPool(1) };
    }
    db = await openDatabase(config);
  });

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it("reports its kind and runs parameterised queries", async () => {
    expect(db.kind).toBe(pglite ? "pglite" : "postgres");
    const rows = await db.query<{ n: string; s: string }>("SELECT $1::int8 AS n, $2::text AS s", [
      42,
      "票据",
    ]);
    // int8 comes back as a string on both engines (node-postgres' convention)
    expect(rows).toEqual([{ n: "42", s: "票据" }]);
  });

  describe("migrate", () => {
    it("applies pending migrations in order, records them as Prisma does, and is idempotent", async () => {
      const { dir, names } = await migrationsDir({
        "0002_add_column": "ALTER TABLE t_order ADD COLUMN note TEXT NOT NULL DEFAULT 'x';",
        "0001_create": "CREATE TABLE t_order (id INT PRIMARY KEY);\nCREATE INDEX t_order_id ON t_order (id);",
        "0010_insert": "INSERT INTO t_order (id) VALUES (1);",
      });
      const logs: string[] = [];
      const first = await migrate(db, dir, { log: (msg) => logs.push(msg) });
      expect(first.applied).toEqual(names);
      expect(logs).toEqual(names.map((name) => `applied migration ${name}`));
      expect(await db.query("SELECT id, note FROM t_order")).toEqual([{ id: 1, note: "x" }]);

      const rows = await recorded(db, names);
      expect(rows.map((row) => row.migration_name)).toEqual(names);
      for (const row of rows) {
        expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
        expect(row.finished_at).toBeInstanceOf(Date);
        expect(row.applied_steps_count).toBe(1);
      }

      const second = await migrate(db, dir);
      expect(second.applied).toEqual([]);
      expect(await recorded(db, names)).toHaveLength(3);
    });

    it("applies only the new folder when one is added later", async () => {
      const { dir, names } = await migrationsDir({ "0001_create": "CREATE TABLE t_later (id INT);" });
      expect((await migrate(db, dir)).applied).toEqual(names);
      const added = names[0]!.replace(/^0001_/, "0002_").replace("create", "fill");
      await mkdir(join(dir, added));
      await writeFile(join(dir, added, "migration.sql"), "INSERT INTO t_later VALUES (7);");
      expect((await migrate(db, dir)).applied).toEqual([added]);
      expect(await db.query("SELECT id FROM t_later")).toEqual([{ id: 7 }]);
    });

    it("refuses to start when an applied migration's file changed", async () => {
      const { dir, names } = await migrationsDir({ "0001_create": "CREATE TABLE t_sum (id INT);" });
      await migrate(db, dir);
      await writeFile(join(dir, names[0]!, "migration.sql"), "CREATE TABLE t_sum (id BIGINT);");
      const pending = names[0]!.replace(/^0001_/, "0002_");
      await mkdir(join(dir, pending));
      await writeFile(join(dir, pending, "migration.sql"), "CREATE TABLE t_sum_never (id INT);");
      await expect(migrate(db, dir)).rejects.toThrow(/modified after being applied/);
      // nothing else was applied
      expect(await recorded(db, [pending])).toEqual([]);
    });

    it("rolls back a failing migration, records nothing for it, and keeps the ones before it", async () => {
      const { dir, names } = await migrationsDir({
        "0001_ok": "CREATE TABLE t_fail_ok (id INT);",
        "0002_bad": "CREATE TABLE t_fail_half (id INT);\nINSERT INTO t_fail_ok VALUES (1);\nSELECT 1/0;",
        "0003_after": "CREATE TABLE t_fail_after (id INT);",
      });
      await expect(migrate(db, dir)).rejects.toThrow(
        /migration .*0002_.*bad failed and was rolled back.*division by zero/,
      );
      expect((await recorded(db, names)).map((row) => row.migration_name)).toEqual([names[0]]);
      const tables = await db.query<{ name: string }>(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_name LIKE 't_fail_%' ORDER BY 1",
      );
      expect(tables).toEqual([{ name: "t_fail_ok" }]);
      expect(await db.query("SELECT * FROM t_fail_ok")).toEqual([]);

      // once fixed, the failed one and the rest apply
      await writeFile(join(dir, names[1]!, "migration.sql"), "CREATE TABLE t_fail_half (id INT);");
      expect((await migrate(db, dir)).applied).toEqual(names.slice(1));
    });

    it("serialises concurrent migrate() calls on one Database", async () => {
      const { dir, names } = await migrationsDir({
        "0001_a": "CREATE TABLE t_same_db (id INT);",
        "0002_b": "INSERT INTO t_same_db VALUES (1);",
      });
      const results = await Promise.all([migrate(db, dir), migrate(db, dir), migrate(db, dir)]);
      expect(results.flatMap((r) => r.applied).sort()).toEqual(names);
      expect(await db.query("SELECT id FROM t_same_db")).toEqual([{ id: 1 }]);
    });

    it("fails clearly when the folder does not exist", async () => {
      await expect(migrate(db, join(scratch, "nope"))).rejects.toThrow(/does not exist/);
    });
  });

  describe("transaction", () => {
    beforeAll(async () => {
      await db.exec("CREATE TABLE t_tx (id INT PRIMARY KEY, who TEXT); CREATE TABLE t_tx_counter (n INT);");
    });

    it("commits what the callback did and returns its value", async () => {
      const value = await db.transaction(async (tx) => {
        await tx.query("INSERT INTO t_tx (id, who) VALUES ($1, $2)", [1, "commit"]);
        return (await tx.query<{ who: string }>("SELECT who FROM t_tx WHERE id = 1"))[0]?.who;
      });
      expect(value).toBe("commit");
      expect(await db.query("SELECT who FROM t_tx WHERE id = 1")).toEqual([{ who: "commit" }]);
    });

    it("rolls back when the callback throws, and rethrows", async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO t_tx (id, who) VALUES ($1, $2)", [2, "rollback"]);
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(await db.query("SELECT * FROM t_tx WHERE id = 2")).toEqual([]);
    });

    it("rolls back when a statement fails", async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO t_tx (id, who) VALUES (3, 'first')");
          await tx.query("INSERT INTO t_tx (id, who) VALUES (1, 'duplicate key')");
        }),
      ).rejects.toThrow(/duplicate key/);
      expect(await db.query("SELECT * FROM t_tx WHERE id = 3")).toEqual([]);
    });

    it("keeps concurrent transactions and queries apart", async () => {
      await db.exec("INSERT INTO t_tx_counter VALUES (0)");
      const work = Array.from({ length: 12 }, (_, i) =>
        i % 3 === 0
          ? db.query("SELECT count(*) FROM t_tx")
          : db.transaction(async (tx) => {
              // read-modify-write: only correct if no other transaction's statements interleave (PGlite) or with
              // a row lock (PostgreSQL)
              const [row] = await tx.query<{ n: number }>("SELECT n FROM t_tx_counter FOR UPDATE");
              await sleep(2);
              await tx.query("UPDATE t_tx_counter SET n = $1", [row!.n + 1]);
              if (i % 4 === 1) throw new Error("rolled back on purpose");
            }),
      );
      const settled = await Promise.allSettled(work);
      const committed = settled.filter((s, i) => i % 3 !== 0 && s.status === "fulfilled").length;
      expect(settled.filter((s) => s.status === "rejected")).toHaveLength(12 - 4 - committed);
      expect(await db.query("SELECT n FROM t_tx_counter")).toEqual([{ n: committed }]);
    });

    it.runIf(pglite)("refuses db.query() inside db.transaction() instead of deadlocking", async () => {
      await expect(db.transaction(async () => db.query("SELECT 1"))).rejects.toThrow(/would deadlock/);
      // and the database is still usable afterwards
      expect(await db.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    });

    it("rejects with PostgreSQL's code and fields, outside and inside a transaction", async () => {
      await db.exec("CREATE TABLE t_err (k text PRIMARY KEY); INSERT INTO t_err VALUES ('a')");
      await expect(db.query("INSERT INTO t_err VALUES ('a')")).rejects.toMatchObject({
        code: "23505",
        constraint: "t_err_pkey",
        detail: "Key (k)=(a) already exists.",
        severity: "ERROR",
      });
      const inTx = db.transaction(async (tx) => {
        await tx.query("INSERT INTO t_err VALUES ('b')");
        await tx.query("SELECT 'x'::int");
      });
      await expect(inTx).rejects.toMatchObject({ code: "22P02" });
      expect(await db.query("SELECT k FROM t_err ORDER BY k")).toEqual([{ k: "a" }]);
    });

    it.runIf(pglite)("returns the same JS types on PGlite in process and on a worker", async () => {
      const [row] = await db.query(
        `SELECT 9007199254740993::int8 AS big, 7::int4 AS small, 1.50::numeric AS amount, true AS flag,
                '\\x00ff'::bytea AS bytes, '2026-01-02T03:04:05.678Z'::timestamptz AS at, '{"a":[1,"二"]}'::jsonb AS doc,
                ARRAY['x','y']::text[] AS words, ARRAY[1,2]::int8[] AS bigs, NULL::text AS nothing`,
      );
      expect(row).toEqual({
        big: "9007199254740993",
        small: 7,
        amount: "1.50",
        flag: true,
        bytes: new Uint8Array([0, 255]),
        at: new Date("2026-01-02T03:04:05.678Z"),
        doc: { a: [1, "二"] },
        words: ["x", "y"],
        bigs: ["1", "2"],
        nothing: null,
      });
      // parameters of each kind cross over unchanged
      const [back] = await db.query(
        "SELECT $1::bytea AS b, $2::timestamptz AS t, $3::jsonb AS j, $4::text[] AS a, $5::int8 AS n",
        [Buffer.from([1, 2]), new Date("2026-03-04T05:06:07Z"), { k: ["v", 2] }, ["p", "q"], 12n],
      );
      expect(back).toEqual({
        b: new Uint8Array([1, 2]),
        t: new Date("2026-03-04T05:06:07Z"),
        j: { k: ["v", 2] },
        a: ["p", "q"],
        n: "12",
      });
    });

    it("exec runs a multi-statement script", async () => {
      await db.exec(
        "CREATE TABLE t_exec (id INT); INSERT INTO t_exec VALUES (1); INSERT INTO t_exec VALUES (2);",
      );
      expect(await db.query("SELECT count(*)::int AS n FROM t_exec")).toEqual([{ n: 2 }]);
    });
  });

  describe("Prisma client on the same database", () => {
    let prisma: Prisma;

    beforeAll(async () => {
      await migrate(db, fixtureMigrations);
      prisma = createPrismaClient(db, client.PrismaClient);
    });
    afterAll(async () => {
      await prisma?.$disconnect();
    });

    it("does CRUD, and sees and is seen by raw SQL on db", async () => {
      const created = await prisma.receipt.create({ data: { id: "r1", payer: "张三", amount: "12.50" } });
      expect(created.status).toBe("issued");
      expect(typeof created.seq).toBe("bigint");
      expect(created.amount.toString()).toBe("12.5");
      expect(await db.query("SELECT payer, amount FROM receipt WHERE id = 'r1'")).toEqual([
        { payer: "张三", amount: "12.50" },
      ]);

      await db.query("INSERT INTO receipt (id, payer, amount) VALUES ('r2', '李四', 3)");
      expect(await prisma.receipt.findUnique({ where: { id: "r2" } })).toMatchObject({ payer: "李四" });

      await prisma.receipt.update({ where: { id: "r1" }, data: { status: "voided" } });
      expect(await prisma.receipt.count({ where: { status: "voided" } })).toBe(1);
      await prisma.receipt.delete({ where: { id: "r2" } });
      expect(await prisma.receipt.findMany({ select: { id: true } })).toEqual([{ id: "r1" }]);
    });

    it("maps a unique violation to Prisma's P2002, outside and inside a transaction", async () => {
      await prisma.receipt.create({ data: { id: "dup", payer: "甲", amount: "1" } });
      await expect(
        prisma.receipt.create({ data: { id: "dup", payer: "乙", amount: "2" } }),
      ).rejects.toMatchObject({
        code: "P2002",
      });
      await expect(
        prisma.$transaction(async (tx) => {
          await tx.receipt.create({ data: { id: "dup2", payer: "丙", amount: "3" } });
          await tx.receipt.create({ data: { id: "dup", payer: "丁", amount: "4" } });
        }),
      ).rejects.toMatchObject({ code: "P2002" });
      expect(
        await prisma.receipt.findMany({ where: { id: { startsWith: "dup" } }, select: { id: true } }),
      ).toEqual([{ id: "dup" }]);
      await prisma.receipt.deleteMany({ where: { id: { startsWith: "dup" } } });
    });

    it("commits and rolls back interactive $transaction", async () => {
      await prisma.$transaction(async (tx) => {
        await tx.receipt.create({ data: { id: "t-commit", payer: "a", amount: 1 } });
        expect(await tx.receipt.count({ where: { id: "t-commit" } })).toBe(1);
      });
      await expect(
        prisma.$transaction(async (tx) => {
          await tx.receipt.create({ data: { id: "t-rollback", payer: "a", amount: 1 } });
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect(await db.query("SELECT id FROM receipt WHERE id LIKE 't-%'")).toEqual([{ id: "t-commit" }]);
    });

    it("runs raw SQL inside a Prisma transaction through prismaExecutor, committed and rolled back with it", async () => {
      await db.exec("CREATE TABLE outbox (id TEXT PRIMARY KEY, topic TEXT NOT NULL)");
      const outboxInsert = "INSERT INTO outbox (id, topic) VALUES ($1, $2)";

      await prisma.$transaction(async (tx) => {
        await tx.receipt.create({ data: { id: "o-commit", payer: "a", amount: 1 } });
        const raw = prismaExecutor(tx);
        await raw.query(outboxInsert, ["o-commit", "receipt.issued"]);
        expect(await raw.query("SELECT topic FROM outbox WHERE id = $1", ["o-commit"])).toEqual([
          { topic: "receipt.issued" },
        ]);
      });
      await expect(
        prisma.$transaction(async (tx) => {
          await tx.receipt.create({ data: { id: "o-rollback", payer: "a", amount: 1 } });
          await prismaExecutor(tx).query(outboxInsert, ["o-rollback", "receipt.issued"]);
          throw new Error("abort after outbox insert");
        }),
      ).rejects.toThrow("abort after outbox insert");

      expect(await db.query("SELECT id FROM outbox ORDER BY id")).toEqual([{ id: "o-commit" }]);
      expect(await db.query("SELECT id FROM receipt WHERE id LIKE 'o-%'")).toEqual([{ id: "o-commit" }]);
    });

    it("handles concurrent Prisma calls, transactions and raw transactions", async () => {
      const ids = Array.from({ length: 8 }, (_, i) => `c${i}`);
      await Promise.all([
        ...ids.map((id, i) =>
          i % 2 === 0
            ? prisma.receipt.create({ data: { id, payer: "c", amount: i } })
            : prisma.$transaction(async (tx) => {
                await tx.receipt.create({ data: { id, payer: "c", amount: i } });
                await tx.receipt.update({ where: { id }, data: { status: "tx" } });
              }),
        ),
        ...ids.map((id) =>
          db.transaction(async (tx) => {
            await tx.query("INSERT INTO outbox (id, topic) VALUES ($1, 'concurrent')", [id]);
          }),
        ),
      ]);
      expect(await prisma.receipt.count({ where: { payer: "c" } })).toBe(8);
      expect(await prisma.receipt.count({ where: { payer: "c", status: "tx" } })).toBe(4);
      expect(await db.query("SELECT count(*)::int AS n FROM outbox WHERE topic = 'concurrent'")).toEqual([
        { n: 8 },
      ]);
    });

    it("never interleaves a raw transaction with a Prisma transaction's statements", async () => {
      // The raw transaction starts first and holds on; the Prisma transaction runs meanwhile. On PGlite (one
      // connection) it must wait: if its INSERT ran inside the raw transaction it would be rolled back with it.
      let rawStarted!: () => void;
      const started = new Promise<void>((resolve) => {
        rawStarted = resolve;
      });
      const raw = db.transaction(async (tx) => {
        await tx.query("INSERT INTO receipt (id, payer, amount) VALUES ('raw', 'i', 1)");
        rawStarted();
        await sleep(100);
        const seen = await tx.query<{ id: string }>("SELECT id FROM receipt WHERE payer = 'i' ORDER BY id");
        throw Object.assign(new Error("raw rollback"), { seen: seen.map((r) => r.id) });
      });
      await started;
      const viaPrisma = prisma.$transaction(async (tx) => {
        await tx.receipt.create({ data: { id: "prisma", payer: "i", amount: 1 } });
      });
      const [rawResult, prismaResult] = await Promise.allSettled([raw, viaPrisma]);
      expect(prismaResult.status).toBe("fulfilled");
      expect(rawResult.status).toBe("rejected");
      if (pglite) {
        expect((rawResult as PromiseRejectedResult).reason).toMatchObject({ seen: ["raw"] });
      }
      expect(await db.query("SELECT id FROM receipt WHERE payer = 'i'")).toEqual([{ id: "prisma" }]);
    });
  });
});

describe("PGlite dataDir", () => {
  it("keeps schema and data across close and reopen", async () => {
    const dataDir = join(scratch, "pglite-data");
    const first = await openDatabase({ kind: "pglite", dataDir });
    expect((await migrate(first, fixtureMigrations)).applied).toHaveLength(2);
    await first.query("INSERT INTO receipt (id, payer, amount) VALUES ('kept', '王五', 9.99)");
    await first.close();
    await first.close(); // idempotent

    const second = await openDatabase({ kind: "pglite", dataDir });
    try {
      expect((await migrate(second, fixtureMigrations)).applied).toEqual([]);
      expect(await second.query("SELECT id, payer, amount FROM receipt")).toEqual([
        { id: "kept", payer: "王五", amount: "9.99" },
      ]);
    } finally {
      await second.close();
    }
  });
});

describe("PGlite on worker threads", () => {
  it("keeps what was committed across close and reopen, and ends its threads on close", async () => {
    const dataDir = join(scratch, "pglite-worker-data");
    const pool = new PgliteWorkerPool(2);
    const first = await openDatabase({ kind: "pglite", dataDir, worker: pool });
    const other = await openDatabase({ kind: "pglite", worker: pool });
    await migrate(first, fixtureMigrations);
    await first.transaction(async (tx) => {
      await tx.query("INSERT INTO receipt (id, payer, amount) VALUES ('w1', '王五', 9.99)");
    });
    expect(await other.query("SELECT 2 AS two")).toEqual([{ two: 2 }]);
    await Promise.all([first.close(), other.close()]);
    await first.close(); // idempotent
    await expect(first.query("SELECT 1")).rejects.toThrow();

    // in process on the same folder: the worker closed PGlite (postmaster.pid gone, data on disk)
    const second = await openDatabase({ kind: "pglite", dataDir });
    try {
      expect(await second.query("SELECT id, payer, amount FROM receipt")).toEqual([
        { id: "w1", payer: "王五", amount: "9.99" },
      ]);
    } finally {
      await second.close();
    }
  });
});

describe("PostgreSQL across processes", () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase({ prefix: "persistence_lock" });
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it("two concurrent migrate() calls (separate pools) apply each migration once", async () => {
    const { dir, names } = await migrationsDir({
      "0001_create": "CREATE TABLE t_race (id INT PRIMARY KEY); SELECT pg_sleep(0.2);",
      "0002_fill": "INSERT INTO t_race VALUES (1); SELECT pg_sleep(0.2);",
      "0003_fill": "INSERT INTO t_race VALUES (2);",
    });
    const a = await openDatabase({ kind: "postgres", url: testDb.url, poolSize: 2 });
    const b = await openDatabase({ kind: "postgres", url: testDb.url, poolSize: 2 });
    try {
      const results = await Promise.all([migrate(a, dir), migrate(b, dir)]);
      // one of them did everything, the other waited on the advisory lock and found nothing to do
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 3]);
      expect(results.flatMap((r) => r.applied)).toEqual(names);
      expect(await recorded(a, names)).toHaveLength(3);
      expect(await a.query("SELECT id FROM t_race ORDER BY id")).toEqual([{ id: 1 }, { id: 2 }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("createTestDatabase gives a usable database and drop() removes it even with open connections", async () => {
    const extra = await createTestDatabase({ prefix: "Persistence Drop!" });
    expect(extra.name).toMatch(/^persistence_drop_[a-z0-9]+_[0-9a-f]{8}$/);
    const open = await openDatabase({ kind: "postgres", url: extra.url });
    expect(await open.query("SELECT current_database() AS name")).toEqual([{ name: extra.name }]);
    await extra.drop();
    const admin = await openDatabase({ kind: "postgres", url: testDb.url });
    try {
      expect(await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [extra.name])).toEqual([]);
    } finally {
      await admin.close();
      await open.close().catch(() => {});
    }
  });
});
