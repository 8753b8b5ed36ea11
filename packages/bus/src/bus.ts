import type { Envelope } from "@piaoju/contracts";

export interface OutgoingMessage {
  topic: string;
  /** The envelope's `key` is the partition key: messages with one key keep their order. */
  envelope: Envelope;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  envelope: Envelope;
  /** 1 on first delivery to this handler, then counts retries. */
  attempt: number;
}

export type MessageHandler = (message: IncomingMessage) => Promise<void>;

/**
 * Consecutive messages of one partition, in offset order, handed over together (group commit).
 * Resolving means all of them were processed; their offsets are committed after it.
 */
export type BatchHandler = (messages: readonly IncomingMessage[]) => Promise<void>;

export interface BatchOptions {
  handler: BatchHandler;
  /** At most this many messages per call (default 500); fewer when fewer are waiting. */
  maxMessages?: number;
  /**
   * When fewer than maxMessages are waiting, wait this long for more before the call (default 0;
   * the embedded bus; Kafka's fetch gathers what arrived while it waited anyway): bigger groups
   * under a steady flow, for at most this much latency.
   */
  lingerMs?: number;
}

export interface RetryPolicy {
  /** Attempts in all, the first included, before a transient failure is dead-lettered. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Errors worth retrying; anything else goes to the dead-letter topic at once. */
  isTransient: (error: unknown) => boolean;
}

export interface SubscribeOptions {
  /** Consumer group: each message reaches one member of each group. */
  group: string;
  topics: readonly string[];
  handler: MessageHandler;
  retry?: Partial<RetryPolicy>;
  /**
   * Optional: take the messages waiting on a partition in groups. A batch that throws is
   * delivered again one message at a time through `handler` (with its retries and dead-lettering),
   * so the batch handler must leave nothing behind when it throws (one transaction, rolled back),
   * and a poison message is dead-lettered alone, never its neighbours.
   */
  batch?: BatchOptions;
}

export interface Subscription {
  readonly group: string;
  /** Stops taking messages, lets the one in hand finish, commits what was processed. */
  stop(): Promise<void>;
}

export interface DeadLetter {
  group: string;
  topic: string;
  partition: number;
  offset: string;
  envelope: Envelope;
  error: { name: string; message: string };
  attempts: number;
  deadAt: string;
}

export interface Bus {
  readonly kind: "kafka" | "embedded";
  /** Resolves once every message is durably accepted, in order per key. */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /**
   * The offset after the last message of each partition of a topic (0 for an empty one), so a
   * consumer that records the offsets it processed can tell how far behind it is.
   */
  endOffsets(topic: string): Promise<Map<number, bigint>>;
  /** Everything in a group's dead-letter topic, oldest first. */
  readDeadLetters(group: string): Promise<DeadLetter[]>;
  /** Connected and able to publish (for readiness). */
  healthy(): Promise<boolean>;
  /** Stops every subscription (committing what was processed) and disconnects. */
  close(): Promise<void>;
}
