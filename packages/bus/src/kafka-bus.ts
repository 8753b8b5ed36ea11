import { randomUUID } from "node:crypto";
import { deadLetterTopic, defaultPartitions, type Envelope } from "@piaoju/contracts";
import {
  type Admin,
  type Consumer,
  type IHeaders,
  Kafka,
  type KafkaConfig,
  logLevel,
  type Producer,
} from "kafkajs";
import type { Bus, DeadLetter, OutgoingMessage, SubscribeOptions, Subscription } from "./bus.ts";
import { deadLetterEnvelope } from "./embedded-bus.ts";
import { defaultBatchSize, deliver, deliverBatch, retryPolicy } from "./retry.ts";
import { sealEvent } from "./sealed-events.ts";
import { withConsumerSpan } from "./tracing.ts";

export interface KafkaBusOptions {
  brokers: readonly string[];
  clientId: string;
  partitions?: number;
  /** Partitions a subscription works on at once; order still holds within each. */
  partitionsConcurrently?: number;
  /**
   * Prefixes every topic and consumer group on the broker, so installations (or test
   * platforms) sharing one Kafka cluster never see each other's events or split each
   * other's groups. Services keep using the catalog's names.
   */
  namespace?: string;
  log?: KafkaConfig["logCreator"];
}

/**
 * The bus on Apache Kafka. The producer is idempotent (one request in flight, acks
 * from all replicas), so a retried send never duplicates or reorders a message.
 * Consumers commit an offset only after its message was processed or dead-lettered.
 */
export class KafkaBus implements Bus {
  readonly kind = "kafka" as const;
  private readonly kafka: Kafka;
  private readonly admin: Admin;
  private readonly producer: Producer;
  private readonly known = new Set<string>();
  private readonly subscriptions = new Set<Subscription>();
  private connected: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: KafkaBusOptions) {
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      logLevel: logLevel.WARN,
      ...(options.log ? { logCreator: options.log } : {}),
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 3_000 },
    });
    this.admin = this.kafka.admin();
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
  }

  private connect(): Promise<void> {
    this.connected ??= Promise.all([this.admin.connect(), this.producer.connect()]).then(() => {});
    return this.connected;
  }

  private physical(name: string): string {
    return this.options.namespace ? `${this.options.namespace}.${name}` : name;
  }

  private logical(name: string): string {
    return this.options.namespace ? name.slice(this.options.namespace.length + 1) : name;
  }

  /**
   * Creates topics this bus has not seen yet, with the platform's partition count, and
   * returns only when every partition of them has a leader. Services of one platform start
   * in parallel and create the same topics: the one that loses the race gets "already
   * exists" without waiting for leaders, and its first fetch would then meet the broker's
   * transient "does not host this topic-partition". So readiness is checked in the
   * metadata, whoever created the topic.
   */
  async ensureTopics(logicalTopics: readonly string[]): Promise<void> {
    const missing = logicalTopics.map((t) => this.physical(t)).filter((t) => !this.known.has(t));
    if (missing.length === 0) return;
    await this.connect();
    const existing = new Set(await this.admin.listTopics());
    const create = missing.filter((t) => !existing.has(t));
    if (create.length > 0) {
      // kafkajs's own wait gives up on the transient "does not host this topic-partition";
      // waitForLeaders below retries it.
      await this.admin.createTopics({
        waitForLeaders: false,
        topics: create.map((topic) => ({
          topic,
          numPartitions: this.options.partitions ?? defaultPartitions,
          replicationFactor: -1,
        })),
      });
    }
    await this.waitForLeaders(missing);
    for (const t of missing) this.known.add(t);
  }

  private async waitForLeaders(topics: readonly string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const { topics: metadata } = await this.admin.fetchTopicMetadata({ topics: [...topics] });
        const ready = metadata.every(
          (t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
        );
        if (ready && metadata.length === topics.length) return;
      } catch (error) {
        // Metadata of a topic created a moment ago may not have reached the broker's cache yet.
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline)
        throw new Error(`kafka topics without leaders after ${timeoutMs} ms: ${topics.join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 500)));
    }
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    if (this.closed) throw new Error("kafka bus is closed");
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const m of messages) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m]);
    await this.ensureTopics([...byTopic.keys()]);
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, list]) => ({
        topic: this.physical(topic),
        messages: list.map(({ envelope }) => ({
          key: envelope.key,
          // From an outbox already sealed; a direct publisher's personal fields are sealed here.
          value: JSON.stringify(sealEvent(envelope, "keep")),
          headers: headersOf(envelope),
        })),
      })),
    });
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.closed) throw new Error("kafka bus is closed");
    await this.ensureTopics([...options.topics, deadLetterTopic(options.group)]);
    const policy = retryPolicy(options.retry);
    const consumer = this.kafka.consumer({
      groupId: this.physical(options.group),
      // A consumer that died (SIGKILL, a cut network) holds its partitions until its session ends:
      // 10 s, with a heartbeat a second, instead of KafkaJS' 30 s. deliver() heartbeats between the
      // attempts of a message it retries, so a long outage behind a handler does not end the session.
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      allowAutoTopicCreation: false,
    });
    await consumer.connect();
    await consumer.subscribe({ topics: options.topics.map((t) => this.physical(t)), fromBeginning: true });
    const deadLetter = (letter: DeadLetter) =>
      this.publish([{ topic: deadLetterTopic(options.group), envelope: deadLetterEnvelope(letter) }]);
    const batch = options.batch;
    const decode = (value: Buffer | null) => JSON.parse(value?.toString("utf8") ?? "null") as Envelope;
    if (batch) {
      const size = batch.maxMessages ?? defaultBatchSize;
      await consumer.run({
        autoCommit: true,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConcurrently ?? 3,
        // A fetched batch in groups of `size`; each group's last offset is resolved (and
        // committed as autoCommit says) only once the whole group was processed.
        eachBatch: async ({
          batch: fetched,
          resolveOffset,
          heartbeat,
          commitOffsetsIfNecessary,
          isRunning,
          isStale,
        }) => {
          const topic = this.logical(fetched.topic);
          const all = fetched.messages.map((m) => ({
            topic,
            partition: fetched.partition,
            offset: m.offset,
            envelope: decode(m.value),
          }));
          for (let i = 0; i < all.length; i += size) {
            if (!isRunning() || isStale()) return;
            const group = all.slice(i, i + size);
            await withConsumerSpan(topic, options.group, group[0]!.envelope, () =>
              deliverBatch(
                group,
                options.group,
                batch.handler,
                options.handler,
                policy,
                deadLetter,
                heartbeat,
              ),
            );
            resolveOffset(group[group.length - 1]!.offset);
            await commitOffsetsIfNecessary();
            await heartbeat();
          }
        },
      });
    } else {
      await consumer.run({
        autoCommit: true,
        partitionsConsumedConcurrently: this.options.partitionsConcurrently ?? 3,
        eachMessage: async ({ topic: physicalTopic, partition, message, heartbeat }) => {
          const topic = this.logical(physicalTopic);
          const envelope = decode(message.value);
          await withConsumerSpan(topic, options.group, envelope, () =>
            deliver(
              { topic, partition, offset: message.offset, envelope },
              options.group,
              options.handler,
              policy,
              deadLetter,
              heartbeat,
            ),
          );
        },
      });
    }
    const subscription: Subscription = {
      group: options.group,
      // disconnect() lets the message in hand finish and commits the resolved offsets.
      stop: async () => {
        this.subscriptions.delete(subscription);
        await consumer.disconnect();
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    await this.ensureTopics([topic]);
    const offsets = await this.topicOffsets(this.physical(topic));
    return new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
  }

  /**
   * A topic's offsets. Right after a topic is made its partitions may have no leader yet
   * ("not the leader for that topic-partition"): KafkaJS marks that retriable, so ask again.
   */
  private async topicOffsets(
    topic: string,
  ): Promise<Array<{ partition: number; high: string; low: string }>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.admin.fetchTopicOffsets(topic);
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true;
        if (!retriable || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 500)));
      }
    }
  }

  async readDeadLetters(group: string): Promise<DeadLetter[]> {
    await this.ensureTopics([deadLetterTopic(group)]);
    const topic = this.physical(deadLetterTopic(group));
    const ends = await this.topicOffsets(topic);
    const remaining = new Map(
      ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]),
    );
    if (remaining.size === 0) return [];
    // A throwaway reader with its own group, so reading commits nothing for anyone.
    const readerGroup = `piaoju-dlq-reader-${randomUUID()}`;
    const reader: Consumer = this.kafka.consumer({ groupId: readerGroup });
    const letters: DeadLetter[] = [];
    try {
      await reader.connect();
      await reader.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        reader
          .run({
            eachMessage: async ({ partition, message }) => {
              const envelope = JSON.parse(message.value?.toString("utf8") ?? "null") as Envelope;
              letters.push(envelope.data as DeadLetter);
              if (BigInt(message.offset) + 1n >= (remaining.get(partition) ?? 0n))
                remaining.delete(partition);
              if (remaining.size === 0) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      await reader.disconnect();
      await this.admin.deleteGroups([readerGroup]).catch(() => {});
    }
    return letters.sort((a, b) => a.deadAt.localeCompare(b.deadAt));
  }

  async healthy(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.connect();
      await this.admin.describeCluster();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.subscriptions].map((s) => s.stop()));
    if (this.connected) await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }
}

function headersOf(envelope: Envelope): IHeaders {
  const headers: IHeaders = {
    "piaoju-event-id": envelope.id,
    "piaoju-event-type": envelope.type,
    "piaoju-event-version": String(envelope.version),
  };
  if (envelope.trace) {
    headers.traceparent = envelope.trace.traceparent;
    if (envelope.trace.tracestate) headers.tracestate = envelope.trace.tracestate;
  }
  return headers;
}
