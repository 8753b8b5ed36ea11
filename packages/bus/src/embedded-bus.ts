import { randomUUID } from "node:crypto";
import { appendFile, mkdir, readdir, readFile, rename, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deadLetterTopic, defaultPartitions, type Envelope } from "@piaoju/contracts";
import type {
  BatchOptions,
  Bus,
  DeadLetter,
  IncomingMessage,
  MessageHandler,
  OutgoingMessage,
  RetryPolicy,
  SubscribeOptions,
  Subscription,
} from "./bus.ts";
import { partitionFor } from "./partitioner.ts";
import { defaultBatchSize, deliver, deliverBatch, retryPolicy } from "./retry.ts";
import { sealEvent } from "./sealed-events.ts";
import { withConsumerSpan } from "./tracing.ts";

/**
 * The bus of the embedded mode: every service in one process, same contract as Kafka.
 * Topics are split into partitions by key; each consumer group keeps an offset per
 * partition and processes one partition's messages one at a time, so per-key order
 * holds; an offset moves only after its message was processed (at-least-once).
 *
 * With a data directory, each partition is an append-only JSON-lines file and the
 * group offsets a small JSON file written by rename, so published messages and
 * committed offsets survive a restart (a killed process loses nothing the OS has).
 * Without one, it lives in memory (tests).
 */
export interface EmbeddedBusOptions {
  partitions?: number;
  dataDir?: string;
  /**
   * Messages every consumer group has processed are dropped once older than this (default
   * one day), as Kafka's retention drops old segments; dead letters are kept for
   * `deadLetterRetentionMs` (default 30 days). A group that falls behind retention resumes
   * at the oldest message kept.
   */
  retentionMs?: number;
  deadLetterRetentionMs?: number;
  /** How often retention runs (default every minute). */
  compactEveryMs?: number;
}

/** One partition of a topic: the messages kept, the first of them at offset `base`. */
interface Partition {
  base: number;
  entries: Envelope[];
}

interface Member {
  topics: ReadonlySet<string>;
  handler: MessageHandler;
  batch: BatchOptions | undefined;
  policy: RetryPolicy;
  inFlight: Set<Promise<unknown>>;
}

interface Group {
  name: string;
  members: Member[];
  offsets: Map<string, number>;
  loops: Map<string, Promise<void>>;
}

const OFFSETS_FILE = "offsets.json";

export class EmbeddedBus implements Bus {
  readonly kind = "embedded" as const;
  private readonly partitions: number;
  private readonly logs = new Map<string, Partition[]>();
  private readonly groups = new Map<string, Group>();
  private readonly wakeups = new Set<() => void>();
  private writeChain: Promise<void> = Promise.resolve();
  private flushChain: Promise<void> = Promise.resolve();
  private offsetsDirty = false;
  private offsetsTimer: NodeJS.Timeout | undefined;
  private compactTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly options: EmbeddedBusOptions) {
    this.partitions = options.partitions ?? defaultPartitions;
  }

  static async open(options: EmbeddedBusOptions = {}): Promise<EmbeddedBus> {
    const bus = new EmbeddedBus(options);
    if (options.dataDir) await bus.load(options.dataDir);
    bus.compactTimer = setInterval(() => void bus.compact(), options.compactEveryMs ?? 60_000);
    bus.compactTimer.unref();
    return bus;
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error("embedded bus is closed");
    const lines = new Map<string, string>();
    // From an outbox already sealed; a direct publisher's personal fields are sealed here (all
    // of them before any is kept, so a refusal publishes none).
    const sealed = messages.map((m) => ({ topic: m.topic, envelope: sealEvent(m.envelope, "keep") }));
    for (const { topic, envelope } of sealed) {
      const p = partitionFor(envelope.key, this.partitions);
      this.partitionLog(topic)[p]!.entries.push(envelope);
      if (this.options.dataDir) {
        const file = `${encodeURIComponent(topic)}~${p}.jsonl`;
        lines.set(file, `${lines.get(file) ?? ""}${JSON.stringify(envelope)}\n`);
      }
    }
    if (this.options.dataDir) {
      const dir = this.options.dataDir;
      const write = this.writeChain.then(async () => {
        for (const [file, text] of lines) await appendFile(join(dir, file), text);
      });
      this.writeChain = write.catch(() => {});
      await write;
    }
    this.wake();
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.closed) throw new Error("embedded bus is closed");
    const group = this.group(options.group);
    const member: Member = {
      topics: new Set(options.topics),
      handler: options.handler,
      batch: options.batch,
      policy: retryPolicy(options.retry),
      inFlight: new Set(),
    };
    group.members.push(member);
    for (const topic of options.topics) {
      this.partitionLog(topic);
      for (let p = 0; p < this.partitions; p++) this.ensureLoop(group, topic, p);
    }
    this.wake();
    return {
      group: options.group,
      stop: async () => {
        const at = group.members.indexOf(member);
        if (at >= 0) group.members.splice(at, 1);
        await Promise.allSettled([...member.inFlight]);
        await this.flushOffsets();
      },
    };
  }

  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const log = this.logs.get(topic) ?? [];
    const ends = new Map<number, bigint>();
    for (let p = 0; p < this.partitions; p++) {
      const partition = log[p];
      ends.set(p, BigInt(partition ? partition.base + partition.entries.length : 0));
    }
    return ends;
  }

  async readDeadLetters(group: string): Promise<DeadLetter[]> {
    return (this.logs.get(deadLetterTopic(group)) ?? [])
      .flatMap((p) => p.entries)
      .map((e) => e.data as DeadLetter)
      .sort((a, b) => a.deadAt.localeCompare(b.deadAt));
  }

  async healthy(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.compactTimer);
    const inFlight = [...this.groups.values()].flatMap((g) => g.members.flatMap((m) => [...m.inFlight]));
    for (const g of this.groups.values()) g.members.length = 0;
    this.wake();
    await Promise.allSettled(inFlight);
    await this.writeChain;
    await this.flushOffsets();
  }

  private partitionLog(topic: string): Partition[] {
    let log = this.logs.get(topic);
    if (!log) {
      log = Array.from({ length: this.partitions }, () => ({ base: 0, entries: [] }));
      this.logs.set(topic, log);
    }
    return log;
  }

  private group(name: string): Group {
    let group = this.groups.get(name);
    if (!group) {
      group = { name, members: [], offsets: new Map(), loops: new Map() };
      this.groups.set(name, group);
    }
    return group;
  }

  /** A partition's owner among the group's members that subscribe to its topic. */
  private owner(group: Group, topic: string, partition: number): Member | undefined {
    const candidates = group.members.filter((m) => m.topics.has(topic));
    return candidates[partition % Math.max(1, candidates.length)];
  }

  /** One loop per (group, partition): messages of a partition never overlap, whoever owns it. */
  private ensureLoop(group: Group, topic: string, partition: number): void {
    const id = `${topic}~${partition}`;
    if (group.loops.has(id)) return;
    const loop = (async () => {
      let lingered = false;
      while (!this.closed) {
        const log = this.logs.get(topic)?.[partition];
        // A group behind retention resumes at the oldest message kept.
        const offset = Math.max(group.offsets.get(id) ?? 0, log?.base ?? 0);
        const envelope = log?.entries[offset - (log?.base ?? 0)];
        const member = this.owner(group, topic, partition);
        if (!envelope || !member) {
          await new Promise<void>((resolve) => this.wakeups.add(resolve));
          continue;
        }
        const at = offset - (log?.base ?? 0);
        const size = member.batch?.maxMessages ?? defaultBatchSize;
        if (member.batch?.lingerMs && !lingered && log!.entries.length - at < size) {
          // Once per batch, then everything is read again (retention may have moved the base).
          lingered = true;
          await new Promise((resolve) => setTimeout(resolve, member.batch?.lingerMs));
          continue;
        }
        lingered = false;
        // With a batch handler: every message waiting here, up to its size, in one call.
        const count = member.batch ? Math.min(size, log!.entries.length - at) : 1;
        const messages = log!.entries.slice(at, at + count).map(
          (e, i): Omit<IncomingMessage, "attempt"> => ({
            topic,
            partition,
            offset: String(offset + i),
            envelope: e,
          }),
        );
        const deadLetter = (letter: DeadLetter) =>
          this.publish([{ topic: deadLetterTopic(group.name), envelope: deadLetterEnvelope(letter) }]);
        const batch = member.batch;
        const work = batch
          ? withConsumerSpan(topic, group.name, envelope, () =>
              deliverBatch(messages, group.name, batch.handler, member.handler, member.policy, deadLetter),
            )
          : withConsumerSpan(topic, group.name, envelope, () =>
              deliver(messages[0]!, group.name, member.handler, member.policy, deadLetter),
            );
        member.inFlight.add(work);
        try {
          await work;
          group.offsets.set(id, offset + messages.length);
          this.markOffsetsDirty();
        } catch {
          // Only dead-lettering itself can fail here (the bus closed under it): retry the message.
        } finally {
          member.inFlight.delete(work);
        }
      }
      group.loops.delete(id);
    })();
    group.loops.set(id, loop);
  }

  private wake(): void {
    const waiting = [...this.wakeups];
    this.wakeups.clear();
    for (const resolve of waiting) resolve();
  }

  private markOffsetsDirty(): void {
    if (!this.options.dataDir) return;
    this.offsetsDirty = true;
    this.offsetsTimer ??= setTimeout(() => {
      this.offsetsTimer = undefined;
      this.flushOffsets().catch(() => {}); // dirty again: the next commit or close retries
    }, 50);
  }

  /**
   * Writes the group offsets (tmp file + rename). Flushes run one after another: the timer
   * and a stopping subscription may both ask, and two renames of one tmp file would race.
   * A failed write leaves the offsets dirty for the next flush (redelivery, never loss).
   */
  private flushOffsets(): Promise<void> {
    const flush = this.flushChain.then(async () => {
      if (!this.options.dataDir || !this.offsetsDirty) return;
      this.offsetsDirty = false;
      const snapshot: Record<string, Record<string, number>> = {};
      for (const [name, g] of this.groups) snapshot[name] = Object.fromEntries(g.offsets);
      const file = join(this.options.dataDir, OFFSETS_FILE);
      try {
        await writeFile(`${file}.tmp`, JSON.stringify(snapshot));
        await rename(`${file}.tmp`, file);
      } catch (error) {
        this.offsetsDirty = true;
        throw error;
      }
    });
    this.flushChain = flush.catch(() => {});
    return flush;
  }

  /**
   * Drops, per partition, the messages that every group which ever read it has processed
   * and that are older than retention (dead letters: older than their own retention), and
   * rewrites the partition's file with a header for its new base, atomically by rename.
   */
  async compact(now: Date = new Date()): Promise<void> {
    for (const [topic, partitions] of this.logs) {
      const dead = topic.startsWith(deadLetterTopic(""));
      const keepAfter =
        now.getTime() -
        (dead
          ? (this.options.deadLetterRetentionMs ?? 30 * 86_400_000)
          : (this.options.retentionMs ?? 86_400_000));
      for (let p = 0; p < partitions.length; p++) {
        const log = partitions[p]!;
        const id = `${topic}~${p}`;
        const readers = [...this.groups.values()].filter((g) => g.offsets.has(id) || g.loops.has(id));
        let cut = Math.min(log.base + log.entries.length, ...readers.map((g) => g.offsets.get(id) ?? 0));
        const firstYoung = log.entries.findIndex((e) => Date.parse(e.occurredAt) > keepAfter);
        if (firstYoung >= 0) cut = Math.min(cut, log.base + firstYoung);
        if (cut <= log.base) continue;
        log.entries = log.entries.slice(cut - log.base);
        log.base = cut;
        if (this.options.dataDir)
          await this.rewrite(join(this.options.dataDir, `${encodeURIComponent(topic)}~${p}.jsonl`), log);
      }
    }
  }

  private async rewrite(file: string, log: Partition): Promise<void> {
    const text = [
      JSON.stringify({ piaojuBase: log.base }),
      ...log.entries.map((e) => JSON.stringify(e)),
    ].join("\n");
    // Behind the appends already queued, and ahead of later ones, so no message is lost.
    const write = this.writeChain.then(async () => {
      await writeFile(`${file}.tmp`, `${text}\n`);
      await rename(`${file}.tmp`, file);
    });
    this.writeChain = write.catch(() => {});
    await write;
  }

  private async load(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    for (const file of await readdir(dir)) {
      const match = /^(.+)~(\d+)\.jsonl$/.exec(file);
      if (!match) continue;
      const log = this.partitionLog(decodeURIComponent(match[1]!));
      // A process killed mid-append may leave a torn last line (no newline yet): that
      // message was never acknowledged. Cut it off so later appends start clean.
      let text = await readFile(join(dir, file), "utf8");
      const complete = text.lastIndexOf("\n") + 1;
      if (complete < text.length) {
        await truncate(join(dir, file), Buffer.byteLength(text.slice(0, complete)));
        text = text.slice(0, complete);
      }
      const lines = text.split("\n").filter((line) => line.length > 0);
      // A compacted file starts with a header saying the offset of its first message.
      const header = lines[0]?.startsWith('{"piaojuBase":')
        ? (JSON.parse(lines.shift()!) as { piaojuBase: number })
        : undefined;
      log[Number(match[2])] = {
        base: header?.piaojuBase ?? 0,
        entries: lines.map((line) => JSON.parse(line) as Envelope),
      };
    }
    const offsets = await readFile(join(dir, OFFSETS_FILE), "utf8").catch(() => "{}");
    for (const [name, partitions] of Object.entries(
      JSON.parse(offsets) as Record<string, Record<string, number>>,
    )) {
      this.group(name).offsets = new Map(Object.entries(partitions));
    }
  }
}

/** Dead letters travel as envelopes too, keyed like the message they hold. */
export function deadLetterEnvelope(letter: DeadLetter): Envelope {
  return {
    id: randomUUID(),
    type: "bus.DeadLetter",
    version: 1,
    occurredAt: letter.deadAt,
    key: letter.envelope.key,
    producer: letter.group,
    data: letter,
  };
}
