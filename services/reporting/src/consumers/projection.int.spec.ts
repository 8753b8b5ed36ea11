import { setTimeout as sleep } from "node:timers/promises";
import {
  EmbeddedBus,
  type IncomingMessage,
  installEventSealing,
  partitionFor,
  platformMigrationsDir,
} from "@piaoju/bus";
import { type CatalogEvent, defaultPartitions } from "@piaoju/contracts";
import { type Database, migrate, openDatabase, type SqlExecutor } from "@piaoju/persistence";
import { createTestDatabase, type TestDatabase } from "@piaoju/persistence/testing";
import { Keyring } from "@piaoju/sealing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PayerProtection } from "../adapters/payer-protection.ts";
import { ensureProjectionState } from "../app/generation.ts";
import { reportingService } from "../main.ts";
import { eventsOf, isVoided, stockEvents, totalFenOf, type Workload, workload } from "../testing/workload.ts";
import { applyBatch, projectionGroup, startProjection } from "./projection.ts";

const protection = new PayerProtection(new Keyring(Buffer.alloc(16, 9)));
const RECEIPTS = 400;
const w: Workload = workload(RECEIPTS);

/**
 * Group commit (a partition's waiting events in one transaction, tallies folded per key) keeps
 * exactly-once: a batch that throws, loses its connection or is replayed whole after a crash is
 * counted once, and the figures equal those worked out from the workload itself and those of one
 * event per transaction. On the machine's PostgreSQL and on PGlite.
 */
describe.each(["postgres", "pglite"] as const)("reporting projection: group commit (%s)", (mode) => {
  const closing: Array<() => Promise<void>> = [];
  // The events' personal fields are sealed on the bus, as a platform's process does it.
  let uninstallSealing: () => void = () => {};
  beforeAll(() => {
    uninstallSealing = installEventSealing(new Keyring(Buffer.alloc(16, 7)));
  });
  afterAll(() => uninstallSealing());
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  async function freshDb(): Promise<Database> {
    const server: TestDatabase | undefined =
      mode === "postgres" ? await createTestDatabase({ prefix: "reporting_gc" }) : undefined;
    const db = server
      ? await openDatabase({ kind: "postgres", url: server.url, poolSize: 4 })
      : await openDatabase({ kind: "pglite" });
    closing.push(async () => {
      await db.close();
      await server?.drop();
    });
    await migrate(db, [platformMigrationsDir, reportingService.migrationsDir]);
    await ensureProjectionState(db);
    return db;
  }

  const allEvents = (): CatalogEvent[] => [
    ...stockEvents(w),
    ...Array.from({ length: RECEIPTS }, (_, i) => eventsOf(w, i)).flat(),
  ];

  it("a batch that throws before its commit leaves nothing; its events are then applied once each", async () => {
    const db = await freshDb();
    const bus = await EmbeddedBus.open();
    closing.push(() => bus.close());
    const events = allEvents();
    await bus.publish(events.map((e) => ({ topic: topicOf(e), envelope: e })));
    const sizes: number[] = [];
    let failed: readonly IncomingMessage[] | undefined;
    const projection = await startProjection({
      bus,
      db,
      protection,
      pollMs: 60_000,
      checkpointMs: 20,
      batchSize: 100,
      onError: (e) => {
        throw e;
      },
      beforeCommit: async (_tx, ms) => {
        sizes.push(ms.length);
        // The first big batch of receipts: applied in full inside its transaction, then a throw.
        if (!failed && ms.length >= 50 && ms.some((m) => m.envelope.type === "issuance.ReceiptIssued")) {
          failed = ms;
          throw new Error("planted: the process dies before COMMIT");
        }
      },
    });
    closing.push(() => projection.stop());
    await settled(db, events);
    expect(failed!.length).toBeGreaterThanOrEqual(50);
    expect(Math.max(...sizes)).toBe(100);
    await expectFigures(db);
    // Each projected event claimed once.
    expect(await one(db, "SELECT count(*)::int AS n FROM piaoju_inbox")).toBe(events.length);
  });

  it("a batch replayed whole after a crash, or delivered again after its commit, counts once", async () => {
    const db = await freshDb();
    const events = allEvents();
    const group = projectionGroup(1);
    const messages = asMessages(events);
    const apply = (ms: readonly IncomingMessage[], before?: (tx: SqlExecutor) => Promise<void>) =>
      applyBatch(db, protection, 1, group, ms, before);
    // The crash: everything of the batch applied, then the transaction is lost.
    await expect(
      apply(messages, async () => {
        throw new Error("planted crash");
      }),
    ).rejects.toThrow("planted crash");
    expect(await one(db, "SELECT count(*)::int AS n FROM piaoju_inbox")).toBe(0);
    expect(await one(db, "SELECT count(*)::int AS n FROM receipt")).toBe(0);
    expect(await one(db, "SELECT coalesce(sum(receipts), 0)::int AS n FROM issued_daily")).toBe(0);
    expect(await one(db, "SELECT coalesce(sum(quantity), 0)::int AS n FROM stock_daily")).toBe(0);
    // The bus delivers it again from the last committed offset: in batches of another size.
    for (let i = 0; i < messages.length; i += 333) await apply(messages.slice(i, i + 333));
    await expectFigures(db);
    // Delivered again after the commit (a consumer that died before its offset commit), overlapping.
    await apply(messages.slice(100, 900));
    await apply(messages);
    await expectFigures(db);
  });

  it("folding tallies per batch writes the same rows as one event per transaction", async () => {
    const [folded, single] = [await freshDb(), await freshDb()];
    const messages = asMessages(allEvents().slice(0, 3 + 20 + 3 * 120));
    await applyBatch(folded, protection, 1, projectionGroup(1), messages);
    for (const m of messages) await applyBatch(single, protection, 1, projectionGroup(1), [m]);
    for (const table of [
      "SELECT * FROM issued_daily ORDER BY 1, 2, 3, 4, 5, 6, 7",
      "SELECT * FROM issued_item_daily ORDER BY 1, 2, 3, 4, 5, 6, 7, 8",
      "SELECT * FROM stock_daily ORDER BY 1, 2, 3, 4, 5",
      "SELECT * FROM income_item ORDER BY 1, 2",
      "SELECT id, status, tally, agency_signed_at, supervised_at, voided_at, void_day, payer_name_digest FROM receipt ORDER BY id",
      "SELECT receipt_id, line_no, item_code, amount_fen FROM receipt_line ORDER BY 1, 2",
    ]) {
      const a = await folded.query(table);
      expect(a.length).toBeGreaterThan(0);
      expect(a).toEqual(await single.query(table));
    }
  });

  it.skipIf(mode !== "postgres")(
    "a connection cut mid-batch (the database goes away) is retried, and counts once",
    async () => {
      const db = await freshDb();
      const bus = await EmbeddedBus.open();
      closing.push(() => bus.close());
      const events = allEvents();
      await bus.publish(events.map((e) => ({ topic: topicOf(e), envelope: e })));
      let cut = 0;
      const projection = await startProjection({
        bus,
        db,
        protection,
        pollMs: 60_000,
        checkpointMs: 20,
        batchSize: 200,
        onError: () => {},
        beforeCommit: async (tx, ms) => {
          if (cut < 2 && ms.length >= 100) {
            cut++;
            // The batch's own connection, ended under its open transaction as a database restart would.
            await tx.query("SELECT pg_terminate_backend(pg_backend_pid())");
          }
        },
      });
      closing.push(() => projection.stop());
      await settled(db, events);
      expect(cut).toBe(2);
      await expectFigures(db);
    },
  );
});

function topicOf(e: CatalogEvent): string {
  return `piaoju.${e.type.split(".")[0]}.events`;
}

/** The events as the bus hands them over, partitioned as it would, offsets per partition. */
function asMessages(events: readonly CatalogEvent[]): IncomingMessage[] {
  const next = new Map<string, number>();
  return events.map((envelope) => {
    const topic = topicOf(envelope);
    const partition = partitionFor(envelope.key, defaultPartitions);
    const id = `${topic}~${partition}`;
    const offset = next.get(id) ?? 0;
    next.set(id, offset + 1);
    return { topic, partition, offset: String(offset), envelope, attempt: 1 };
  });
}

async function one(db: Database, sql: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(sql);
  return Number(row!.n);
}

/** Until every receipt is there with its final status and the checkpoints reached the ends. */
async function settled(db: Database, events: readonly CatalogEvent[]): Promise<void> {
  const deadline = Date.now() + 90_000;
  const expected = events.length;
  for (;;) {
    const done =
      (await one(db, "SELECT count(*)::int AS n FROM piaoju_inbox")) === expected &&
      (await one(db, "SELECT count(*)::int AS n FROM receipt WHERE status IN ('ISSUED', 'VOIDED')")) ===
        RECEIPTS;
    if (done) return;
    if (Date.now() > deadline) throw new Error("the projection did not catch up in 90 s");
    await sleep(100);
  }
}

/**
 * The figures worked out from the workload itself (not from the projection): per point, formal
 * receipts and their amount, voided ones, and 领用存's used and voided numbers.
 */
async function expectFigures(db: Database): Promise<void> {
  const want = new Map<string, { formal: number; formalFen: number; voided: number; used: number }>();
  for (let i = 0; i < RECEIPTS; i++) {
    const point = w.points[i % w.points.length]!;
    const f = want.get(point) ?? { formal: 0, formalFen: 0, voided: 0, used: 0 };
    if (isVoided(i)) f.voided++;
    else {
      f.formal++;
      f.formalFen += totalFenOf(i);
      f.used++;
    }
    want.set(point, f);
  }
  const tallies = await db.query<{ point: string; tally: string; n: string; fen: string }>(
    `SELECT issuing_point_code AS point, tally, sum(receipts)::text AS n, sum(amount_fen)::text AS fen
       FROM issued_daily GROUP BY 1, 2`,
  );
  const moves = await db.query<{ point: string; movement: string; q: string }>(
    `SELECT holder AS point, movement, sum(quantity)::text AS q FROM stock_daily WHERE holder <> '' GROUP BY 1, 2`,
  );
  const items = await db.query<{ point: string; n: string; fen: string }>(
    `SELECT issuing_point_code AS point, sum(amount_fen)::text AS fen, sum(receipts)::text AS n
       FROM issued_item_daily WHERE tally = 'FORMAL' GROUP BY 1`,
  );
  for (const [point, f] of want) {
    const t = (tally: string) => tallies.find((r) => r.point === point && r.tally === tally);
    expect({ point, n: Number(t("FORMAL")?.n), fen: Number(t("FORMAL")?.fen) }).toEqual({
      point,
      n: f.formal,
      fen: f.formalFen,
    });
    expect({ point, voided: Number(t("VOIDED")?.n ?? 0) }).toEqual({ point, voided: f.voided });
    expect(Number(t("PENDING")?.n ?? 0)).toBe(0);
    const m = (movement: string) =>
      Number(moves.find((r) => r.point === point && r.movement === movement)?.q ?? 0);
    expect({ point, used: m("USED"), voided: m("VOIDED") }).toEqual({
      point,
      used: f.used,
      voided: f.voided,
    });
    // Per item: the passport lines of the formal receipts; the express fee counts on its own.
    const it = items.find((r) => r.point === point);
    expect(Number(it?.fen)).toBe(f.formalFen);
  }
}
