import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Envelope } from "@piaoju/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bus, IncomingMessage, MessageHandler } from "./bus.ts";
import { replayDeadLetters } from "./replay.ts";
import { TransientError } from "./retry.ts";

/**
 * What every bus must do, run against the real Kafka broker and the embedded bus alike.
 * Each test uses its own topics and groups, so tests do not see each other's messages.
 */
export function describeBusContract(name: string, open: () => Promise<Bus>): void {
  describe(`bus contract: ${name}`, () => {
    let bus: Bus;
    beforeAll(async () => {
      bus = await open();
    });
    afterAll(async () => {
      await bus?.close();
    });

    it("delivers the envelope as it was published, trace context included", async () => {
      const topic = freshTopic();
      const got = receiver();
      await bus.subscribe({ group: freshGroup(), topics: [topic], handler: got.handler });
      const env = envelope("receipt-1", 1, {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      });
      await bus.publish([{ topic, envelope: env }]);
      await got.until(1);
      expect(got.messages[0]!.envelope).toEqual(env);
      expect(got.messages[0]!.topic).toBe(topic);
    });

    it("keeps the order of each key's messages", async () => {
      const topic = freshTopic();
      const got = receiver();
      await bus.subscribe({ group: freshGroup(), topics: [topic], handler: got.handler });
      const keys = ["r-a", "r-b", "r-c", "r-d", "r-e", "r-f", "r-g"];
      for (let batch = 0; batch < 4; batch++) {
        await bus.publish(
          Array.from({ length: 40 }, (_, i) => {
            const key = keys[i % keys.length]!;
            return { topic, envelope: envelope(key, batch * 40 + i) };
          }),
        );
      }
      await got.until(160);
      for (const key of keys) {
        const seqs = got.messages.filter((m) => m.envelope.key === key).map((m) => seqOf(m));
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }
    });

    it("tells each partition's end offset, so a consumer can measure its lag", async () => {
      const topic = freshTopic();
      const before = await bus.endOffsets(topic);
      expect([...before.values()].every((o) => o === 0n)).toBe(true);
      await bus.publish(Array.from({ length: 9 }, (_, i) => ({ topic, envelope: envelope(`lag-${i}`, i) })));
      const got = receiver();
      await bus.subscribe({ group: freshGroup(), topics: [topic], handler: got.handler });
      await got.until(9);
      const ends = await bus.endOffsets(topic);
      expect([...ends.values()].reduce((a, b) => a + b, 0n)).toBe(9n);
      for (const m of got.messages) expect(BigInt(m.offset)).toBeLessThan(ends.get(m.partition)!);
    });

    it("gives every consumer group every message", async () => {
      const topic = freshTopic();
      const a = receiver();
      const b = receiver();
      await bus.subscribe({ group: freshGroup(), topics: [topic], handler: a.handler });
      await bus.subscribe({ group: freshGroup(), topics: [topic], handler: b.handler });
      await bus.publish(Array.from({ length: 30 }, (_, i) => ({ topic, envelope: envelope(`k${i}`, i) })));
      await a.until(30);
      await b.until(30);
      expect(new Set(a.messages.map(seqOf)).size).toBe(30);
      expect(new Set(b.messages.map(seqOf)).size).toBe(30);
    });

    it("shares a topic's partitions among the members of one group", async () => {
      const topic = freshTopic();
      const group = freshGroup();
      const first = receiver();
      const second = receiver();
      await bus.subscribe({ group, topics: [topic], handler: first.handler });
      await bus.subscribe({ group, topics: [topic], handler: second.handler });
      // Keep publishing until both members have work: Kafka rebalances in the background.
      let seq = 0;
      const deadline = Date.now() + 30_000;
      while ((first.messages.length === 0 || second.messages.length === 0) && Date.now() < deadline) {
        await bus.publish(
          Array.from({ length: 12 }, () => ({ topic, envelope: envelope(`k${seq}`, seq++) })),
        );
        await sleep(200);
      }
      const distinct = () => new Set([...first.messages, ...second.messages].map(seqOf)).size;
      await waitFor(() => distinct() === seq);
      expect(first.messages.length).toBeGreaterThan(0);
      expect(second.messages.length).toBeGreaterThan(0);
    });

    it("retries a transient failure with backoff, holding back the key's later messages", async () => {
      const topic = freshTopic();
      const seen: Array<{ seq: number; attempt: number }> = [];
      await bus.subscribe({
        group: freshGroup(),
        topics: [topic],
        retry: { initialBackoffMs: 10, maxBackoffMs: 20 },
        handler: async (m) => {
          seen.push({ seq: seqOf(m), attempt: m.attempt });
          if (seqOf(m) === 0 && m.attempt < 3) throw new TransientError("database busy");
        },
      });
      await bus.publish([0, 1, 2].map((i) => ({ topic, envelope: envelope("same-key", i) })));
      await waitFor(() => seen.length === 5);
      expect(seen).toEqual([
        { seq: 0, attempt: 1 },
        { seq: 0, attempt: 2 },
        { seq: 0, attempt: 3 },
        { seq: 1, attempt: 1 },
        { seq: 2, attempt: 1 },
      ]);
    });

    it("dead-letters what cannot be processed, goes on, and replays on request", async () => {
      const topic = freshTopic();
      const group = freshGroup();
      const processed: number[] = [];
      let broken = true;
      await bus.subscribe({
        group,
        topics: [topic],
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 10 },
        handler: async (m) => {
          const seq = seqOf(m);
          if (broken && seq === 1) throw new Error("payer name missing");
          if (broken && seq === 2) throw new TransientError("finance unreachable");
          processed.push(seq);
        },
      });
      await bus.publish([0, 1, 2, 3].map((i) => ({ topic, envelope: envelope(`k${i}`, i) })));
      await waitFor(() => processed.includes(0) && processed.includes(3));
      let letters = await bus.readDeadLetters(group);
      for (let i = 0; letters.length < 2 && i < 100; i++) {
        await sleep(100);
        letters = await bus.readDeadLetters(group);
      }
      expect(
        letters.map((l) => [seqOf({ envelope: l.envelope }), l.attempts, l.error.message]).sort(),
      ).toEqual([
        [1, 1, "payer name missing"],
        [2, 3, "finance unreachable"],
      ]);
      expect(letters.every((l) => l.topic === topic && l.group === group)).toBe(true);

      broken = false;
      const replayed = await replayDeadLetters(bus, group);
      expect(replayed).toHaveLength(2);
      await waitFor(() => processed.includes(1) && processed.includes(2));
      expect([...processed].sort()).toEqual([0, 1, 2, 3]);
    });

    it("hands a partition's waiting messages over in batches, in order, each message once", async () => {
      const topic = freshTopic();
      const batches: IncomingMessage[][] = [];
      const one = receiver();
      await bus.publish(Array.from({ length: 60 }, (_, i) => ({ topic, envelope: envelope("one-key", i) })));
      await bus.subscribe({
        group: freshGroup(),
        topics: [topic],
        handler: one.handler,
        batch: {
          maxMessages: 25,
          handler: async (ms) => {
            batches.push([...ms]);
          },
        },
      });
      await waitFor(() => batches.flat().length >= 60);
      const seqs = batches.flat().map(seqOf);
      expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i));
      expect(batches.every((b) => b.length <= 25 && b.every((m) => m.partition === b[0]!.partition))).toBe(
        true,
      );
      expect(batches.length).toBeLessThan(60);
      expect(one.messages).toHaveLength(0);
    });

    it("delivers a failed batch again one message at a time, dead-lettering only the poison one", async () => {
      const topic = freshTopic();
      const group = freshGroup();
      const single: number[] = [];
      let batchCalls = 0;
      await bus.publish(Array.from({ length: 10 }, (_, i) => ({ topic, envelope: envelope("same", i) })));
      await bus.subscribe({
        group,
        topics: [topic],
        retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 10 },
        handler: async (m) => {
          if (seqOf(m) === 4) throw new Error("malformed");
          single.push(seqOf(m));
        },
        batch: {
          handler: async (ms) => {
            batchCalls++;
            if (ms.some((m) => seqOf(m) === 4)) throw new Error("malformed");
          },
        },
      });
      await waitFor(() => single.length >= 9);
      let letters = await bus.readDeadLetters(group);
      for (let i = 0; letters.length < 1 && i < 100; i++) {
        await sleep(100);
        letters = await bus.readDeadLetters(group);
      }
      expect(letters.map((l) => seqOf({ envelope: l.envelope }))).toEqual([4]);
      expect(batchCalls).toBeGreaterThan(0);
      // Those the batch that failed held were delivered one by one, in order, apart from the poison one.
      expect(single).toEqual(single.filter((s) => s !== 4).sort((a, b) => a - b));
    });

    it("commits what was processed when a subscription stops gracefully", async () => {
      const topic = freshTopic();
      const group = freshGroup();
      const first = receiver();
      const sub = await bus.subscribe({ group, topics: [topic], handler: first.handler });
      await bus.publish(Array.from({ length: 20 }, (_, i) => ({ topic, envelope: envelope(`k${i}`, i) })));
      await first.until(20);
      await sub.stop();

      const second = receiver();
      await bus.subscribe({ group, topics: [topic], handler: second.handler });
      await bus.publish(
        Array.from({ length: 5 }, (_, i) => ({ topic, envelope: envelope(`k${i}`, 100 + i) })),
      );
      await second.until(5);
      await sleep(500);
      expect(second.messages.map(seqOf).sort((a, b) => a - b)).toEqual([100, 101, 102, 103, 104]);
    });
  });
}

function freshTopic(): string {
  return `contract.${randomUUID().slice(0, 8)}`;
}

function freshGroup(): string {
  return `contract-${randomUUID().slice(0, 8)}`;
}

function envelope(key: string, seq: number, trace?: Envelope["trace"]): Envelope {
  return {
    id: randomUUID(),
    type: "contract.Probe",
    version: 1,
    occurredAt: new Date().toISOString(),
    key,
    producer: "contract-test",
    ...(trace ? { trace } : {}),
    data: { seq },
  };
}

function seqOf(m: Pick<IncomingMessage, "envelope">): number {
  return (m.envelope.data as { seq: number }).seq;
}

function receiver(): {
  messages: IncomingMessage[];
  handler: MessageHandler;
  until(n: number): Promise<void>;
} {
  const messages: IncomingMessage[] = [];
  return {
    messages,
    handler: async (m) => {
      messages.push(m);
    },
    until: (n) => waitFor(() => messages.length >= n),
  };
}

async function waitFor(done: () => boolean, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for messages");
    await sleep(20);
  }
}
