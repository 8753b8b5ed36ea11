import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Envelope } from "@piaoju/contracts";
import { type Database, migrate, openDatabase, type SqlExecutor } from "@piaoju/persistence";
import { createTestDatabase } from "@piaoju/persistence/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { subscribeOnce } from "./inbox.ts";
import { KafkaBus } from "./kafka-bus.ts";
import { enqueueEvents, OutboxRelay, platformMigrationsDir } from "./outbox.ts";

const relayProcess = fileURLToPath(new URL("../test/relay-process.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

describe("transactional outbox and inbox on PostgreSQL and Kafka", () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Database;
  let bus: KafkaBus;

  beforeAll(async () => {
    testDb = await createTestDatabase({ prefix: "outbox" });
    db = await openDatabase({ kind: "postgres", url: testDb.url });
    await migrate(db, platformMigrationsDir);
    await db.exec(`CREATE TABLE receipt (id uuid PRIMARY KEY, amount_fen bigint NOT NULL);
                   CREATE TABLE effect (event_id uuid NOT NULL, group_name text NOT NULL);`);
    bus = new KafkaBus({
      brokers: inject("kafkaBrokers").split(","),
      clientId: "outbox-test",
      log: () => () => {},
    });
  });
  afterAll(async () => {
    await bus?.close();
    await db?.close();
    await testDb?.drop();
  });

  /** Commits n receipts, each with its event, in one transaction per receipt; returns the event ids. */
  async function issueReceipts(topic: string, n: number): Promise<string[]> {
    const eventIds: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      const envelope = probe(id, i);
      await db.transaction(async (tx) => {
        await tx.query("INSERT INTO receipt (id, amount_fen) VALUES ($1, $2)", [id, 100 + i]);
        await enqueueEvents(tx, [{ topic, envelope }]);
      });
      eventIds.push(envelope.id);
    }
    return eventIds;
  }

  /** A consumer that records one effect per event it processes, deduping through the inbox. */
  async function dedupingConsumer(topic: string) {
    const group = `effects-${randomUUID().slice(0, 8)}`;
    let deliveries = 0;
    const subscription = await subscribeOnce<SqlExecutor>(
      bus,
      (work) => db.transaction((sql) => work(sql, sql)),
      {
        group,
        topics: [topic],
        handler: async (message, sql) => {
          await sql.query("INSERT INTO effect (event_id, group_name) VALUES ($1, $2)", [
            message.envelope.id,
            group,
          ]);
        },
        onOutcome: () => {
          deliveries++;
        },
      },
    );
    const effects = async () =>
      db.query<{ event_id: string; n: string }>(
        "SELECT event_id, count(*)::text AS n FROM effect WHERE group_name = $1 GROUP BY event_id",
        [group],
      );
    return { subscription, effects, deliveries: () => deliveries };
  }

  async function runRelayProcess(killAt: "before-publish" | "after-publish"): Promise<NodeJS.Signals | null> {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", relayProcess, testDb.url, inject("kafkaBrokers"), killAt],
      {
        cwd: repoRoot,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on("exit", (c, s) => resolve([c, s])),
    );
    if (signal === null) throw new Error(`relay process exited with ${code}: ${stderr}`);
    return signal;
  }

  const pending = async () =>
    Number(
      (
        await db.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM piaoju_outbox WHERE published_at IS NULL",
        )
      )[0]!.n,
    );

  it("delivers each event exactly once when the relay is killed after publishing, before marking", async () => {
    const topic = `outbox.${randomUUID().slice(0, 8)}`;
    const ids = await issueReceipts(topic, 40);
    const consumer = await dedupingConsumer(topic);

    expect(await runRelayProcess("after-publish")).toBe("SIGKILL");
    expect(await pending()).toBe(40); // published, but the relay died before recording it

    const relay = new OutboxRelay(db, bus);
    expect(await relay.drain()).toBe(40); // so the restarted relay publishes them again

    await waitFor(async () => (await consumer.effects()).length === 40 && consumer.deliveries() >= 80);
    const effects = await consumer.effects();
    expect(effects.map((e) => e.event_id).sort()).toEqual([...ids].sort());
    expect(effects.every((e) => e.n === "1")).toBe(true);
    expect(consumer.deliveries()).toBe(80); // every event reached the consumer twice; the inbox kept one
    expect(await pending()).toBe(0);
    await consumer.subscription.stop();
  });

  it("delivers each event exactly once when the relay is killed between commit and publish", async () => {
    const topic = `outbox.${randomUUID().slice(0, 8)}`;
    const ids = await issueReceipts(topic, 25);
    const consumer = await dedupingConsumer(topic);

    expect(await runRelayProcess("before-publish")).toBe("SIGKILL");
    expect(await pending()).toBe(25);

    await new OutboxRelay(db, bus).drain();
    await waitFor(async () => (await consumer.effects()).length === 25);
    const effects = await consumer.effects();
    expect(effects.map((e) => e.event_id).sort()).toEqual([...ids].sort());
    expect(effects.every((e) => e.n === "1")).toBe(true);
    await consumer.subscription.stop();
  });

  it("writes no event when the state change rolls back", async () => {
    const topic = `outbox.${randomUUID().slice(0, 8)}`;
    const id = randomUUID();
    await expect(
      db.transaction(async (tx) => {
        await enqueueEvents(tx, [{ topic, envelope: probe(id, 0) }]);
        await tx.query("INSERT INTO receipt (id, amount_fen) VALUES ($1, $2)", [id, "not a number"]);
      }),
    ).rejects.toThrow();
    const rows = await db.query("SELECT 1 FROM piaoju_outbox WHERE event_id = $1", [id]);
    expect(rows).toHaveLength(0);
  });

  /** The database with a count of the relay's looks, and a step run inside the next look. */
  function watchedDb() {
    let looks = 0;
    let during: (() => Promise<void>) | undefined;
    const watched: Database = {
      ...db,
      transaction: async (fn) =>
        db.transaction(async (tx) => {
          looks++;
          const result = await fn(tx);
          const step = during;
          during = undefined;
          await step?.();
          return result;
        }),
    };
    return { watched, looks: () => looks, duringNextLook: (step: () => Promise<void>) => (during = step) };
  }
  const unpublished = async (topic: string) =>
    Number(
      (
        await db.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM piaoju_outbox WHERE published_at IS NULL AND topic = $1",
          [topic],
        )
      )[0]!.n,
    );

  it("sleeps longer each time it finds nothing, so an idle service hardly polls", async () => {
    const { watched, looks } = watchedDb();
    const relay = new OutboxRelay(watched, bus, { idleMs: 20, maxIdleMs: 400 });
    relay.start();
    await new Promise((r) => setTimeout(r, 3_000));
    await relay.stop();
    // Polling every 20 ms would be ~150 looks; doubling up to 400 ms is about a dozen.
    expect(looks()).toBeLessThan(40);
    expect(looks()).toBeGreaterThanOrEqual(3);
  });

  it("looks again at once for a commit announced while a batch was in hand, however long its sleep", async () => {
    const topic = `outbox.${randomUUID().slice(0, 8)}`;
    const { watched, duringNextLook } = watchedDb();
    // A relay that would otherwise sleep a minute: only wake() can get the row out within the test.
    const relay = new OutboxRelay(watched, bus, { idleMs: 60_000, maxIdleMs: 60_000 });
    let committed = false;
    duringNextLook(async () => {
      // The look has read the outbox already; this commit comes after it, and says so.
      await issueReceipts(topic, 1);
      committed = true;
      relay.wake();
    });
    relay.start();
    await waitFor(async () => committed && (await unpublished(topic)) === 0, 30_000);
    await relay.stop();
  });

  it("keeps a key's events in commit order through the relay", async () => {
    const topic = `outbox.${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    for (let i = 0; i < 30; i++) {
      await db.transaction((tx) =>
        enqueueEvents(tx, [{ topic, envelope: { ...probe(randomUUID(), i), key } }]),
      );
    }
    const seen: number[] = [];
    const sub = await bus.subscribe({
      group: `order-${randomUUID().slice(0, 8)}`,
      topics: [topic],
      handler: async (m) => {
        seen.push((m.envelope.data as { seq: number }).seq);
      },
    });
    const relay = new OutboxRelay(db, bus, { batchSize: 7 });
    await relay.drain();
    await waitFor(async () => seen.length === 30);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
    await sub.stop();
  });
});

function probe(receiptId: string, seq: number): Envelope {
  return {
    id: randomUUID(),
    type: "test.ReceiptIssued",
    version: 1,
    occurredAt: new Date().toISOString(),
    key: receiptId,
    producer: "outbox-test",
    data: { receiptId, seq },
  };
}

async function waitFor(done: () => Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}
