import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { appendFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { describeBusContract } from "./bus.contract.ts";
import type { IncomingMessage } from "./bus.ts";
import { EmbeddedBus } from "./embedded-bus.ts";

describeBusContract("embedded, in memory", () => EmbeddedBus.open());

const dirs: string[] = [];
describeBusContract("embedded, on disk", async () => {
  const dir = await mkdtemp(join(tmpdir(), "piaoju-bus-"));
  dirs.push(dir);
  return EmbeddedBus.open({ dataDir: dir });
});

describe("embedded bus on disk", () => {
  const probe = (key: string, seq: number) => ({
    topic: "t.restart",
    envelope: {
      id: randomUUID(),
      type: "contract.Probe",
      version: 1,
      occurredAt: new Date().toISOString(),
      key,
      producer: "test",
      data: { seq },
    },
  });

  it("keeps published messages and committed offsets across a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "piaoju-bus-"));
    try {
      const before = await EmbeddedBus.open({ dataDir: dir });
      const seen: number[] = [];
      await before.subscribe({
        group: "g",
        topics: ["t.restart"],
        handler: async (m: IncomingMessage) => {
          seen.push((m.envelope.data as { seq: number }).seq);
        },
      });
      await before.publish([probe("a", 1), probe("b", 2)]);
      while (seen.length < 2) await sleep(5);
      await before.close();

      const after = await EmbeddedBus.open({ dataDir: dir });
      const again: number[] = [];
      await after.subscribe({
        group: "g",
        topics: ["t.restart"],
        handler: async (m) => {
          again.push((m.envelope.data as { seq: number }).seq);
        },
      });
      await after.publish([probe("a", 3)]);
      while (again.length < 1) await sleep(5);
      await sleep(50);
      expect(again).toEqual([3]);
      await after.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("drops a torn last line left by a killed process and appends cleanly after it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "piaoju-bus-"));
    try {
      const first = await EmbeddedBus.open({ dataDir: dir, partitions: 1 });
      await first.publish([probe("a", 1)]);
      await first.close();
      const [file] = (await readdir(dir)).filter((f) => f.endsWith(".jsonl"));
      await appendFile(join(dir, file!), '{"id":"torn');

      const second = await EmbeddedBus.open({ dataDir: dir, partitions: 1 });
      await second.publish([probe("a", 2)]);
      const seen: number[] = [];
      await second.subscribe({
        group: "fresh",
        topics: ["t.restart"],
        handler: async (m) => {
          seen.push((m.envelope.data as { seq: number }).seq);
        },
      });
      while (seen.length < 2) await sleep(5);
      expect(seen).toEqual([1, 2]);
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("embedded bus offsets on disk under load", () => {
  it("survives many groups committing and stopping at once (offset flushes never race)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "piaoju-bus-"));
    try {
      const bus = await EmbeddedBus.open({ dataDir: dir });
      const done = new Map<string, number>();
      const subs = await Promise.all(
        Array.from({ length: 6 }, (_, g) =>
          bus.subscribe({
            group: `g${g}`,
            topics: ["t.flush"],
            handler: async () => {
              done.set(`g${g}`, (done.get(`g${g}`) ?? 0) + 1);
              await sleep(Math.random() * 3);
            },
          }),
        ),
      );
      const publishing = (async () => {
        for (let i = 0; i < 40; i++) {
          await bus.publish([
            {
              topic: "t.flush",
              envelope: {
                id: randomUUID(),
                type: "contract.Probe",
                version: 1,
                occurredAt: new Date().toISOString(),
                key: `k${i}`,
                producer: "t",
                data: {},
              },
            },
          ]);
          await sleep(2);
        }
      })();
      await sleep(60);
      await Promise.all(subs.map((s) => s.stop()));
      await publishing;
      await bus.close();
      expect(done.size).toBe(6);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("embedded bus retention", () => {
  const probe = (key: string, seq: number, occurredAt: Date) => ({
    topic: "t.retention",
    envelope: {
      id: randomUUID(),
      type: "contract.Probe",
      version: 1,
      occurredAt: occurredAt.toISOString(),
      key,
      producer: "test",
      data: { seq },
    },
  });
  const old = new Date(Date.now() - 2 * 86_400_000);

  it("drops what every group has processed once it is older than retention, and keeps the rest", async () => {
    const dir = await mkdtemp(join(tmpdir(), "piaoju-bus-"));
    try {
      const bus = await EmbeddedBus.open({ dataDir: dir, partitions: 1 });
      const fast: number[] = [];
      await bus.subscribe({
        group: "fast",
        topics: ["t.retention"],
        handler: async (m) => {
          fast.push((m.envelope.data as { seq: number }).seq);
        },
      });
      await bus.publish([1, 2, 3, 4].map((i) => probe("k", i, old)));
      await bus.publish([probe("k", 5, new Date())]);
      while (fast.length < 5) await sleep(5);
      await sleep(80); // offsets are flushed within 50 ms
      await bus.compact();
      // A group that never read the topic does not hold it back; a late one starts at what is kept.
      const late: number[] = [];
      await bus.subscribe({
        group: "late",
        topics: ["t.retention"],
        handler: async (m) => {
          late.push((m.envelope.data as { seq: number }).seq);
        },
      });
      while (late.length < 1) await sleep(5);
      await sleep(50);
      expect(late).toEqual([5]);
      await bus.close();

      // The compacted file keeps its base across a restart, and appends go on after it.
      const again = await EmbeddedBus.open({ dataDir: dir, partitions: 1 });
      await again.publish([probe("k", 6, new Date())]);
      const fresh: number[] = [];
      await again.subscribe({
        group: "fresh",
        topics: ["t.retention"],
        handler: async (m) => {
          fresh.push((m.envelope.data as { seq: number }).seq);
        },
      });
      while (fresh.length < 2) await sleep(5);
      expect(fresh).toEqual([5, 6]);
      const resumed: number[] = [];
      await again.subscribe({
        group: "fast",
        topics: ["t.retention"],
        handler: async (m) => {
          resumed.push((m.envelope.data as { seq: number }).seq);
        },
      });
      while (resumed.length < 1) await sleep(5);
      expect(resumed).toEqual([6]);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps old messages a group has not processed yet", async () => {
    const bus = await EmbeddedBus.open({ partitions: 1 });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const seen: number[] = [];
    await bus.subscribe({
      group: "slow",
      topics: ["t.retention"],
      handler: async (m) => {
        await gate;
        seen.push((m.envelope.data as { seq: number }).seq);
      },
    });
    await bus.publish([1, 2, 3].map((i) => probe("k", i, old)));
    await bus.compact();
    release();
    while (seen.length < 3) await sleep(5);
    expect(seen).toEqual([1, 2, 3]);
    await bus.close();
  });
});

process.on("exit", () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("embedded bus batches", () => {
  it("lingers for more messages before a batch that is not full, once per batch", async () => {
    const bus = await EmbeddedBus.open({ partitions: 1 });
    const batches: number[] = [];
    const envelope = (seq: number) => ({
      topic: "t.linger",
      envelope: {
        id: randomUUID(),
        type: "contract.Probe",
        version: 1,
        occurredAt: new Date().toISOString(),
        key: "k",
        producer: "test",
        data: { seq },
      },
    });
    await bus.subscribe({
      group: "g.linger",
      topics: ["t.linger"],
      handler: async () => {},
      batch: {
        maxMessages: 100,
        lingerMs: 300,
        handler: async (ms) => {
          batches.push(ms.length);
        },
      },
    });
    await bus.publish([0, 1, 2].map(envelope));
    await sleep(50);
    await bus.publish([3, 4].map(envelope));
    for (let i = 0; i < 100 && batches.length === 0; i++) await sleep(20);
    expect(batches).toEqual([5]);
    await bus.close();
  });
});
