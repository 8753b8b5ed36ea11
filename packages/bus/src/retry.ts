import { setTimeout as sleep } from "node:timers/promises";
import type { BatchHandler, DeadLetter, IncomingMessage, MessageHandler, RetryPolicy } from "./bus.ts";
import { openEvent } from "./sealed-events.ts";

/** Throw this (or an error with `transient: true`) for a failure worth another try. */
export class TransientError extends Error {
  readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransientError";
  }
}

/**
 * A dependency (the database, mostly) that cannot be reached or is restarting: sockets refused or
 * cut, PostgreSQL shutting down, crashed or in recovery (57P01-57P03), connection exceptions
 * (class 08), too many connections, and Prisma's "can't reach / timed out / closed" (P1001, P1002,
 * P1017) and pool timeout (P2024).
 */
const unavailableCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  "53300",
  "P1001",
  "P1002",
  "P1017",
  "P2024",
]);
/**
 * Prisma's pg adapter throws its own DriverAdapterError whose cause names a kind, not a code
 * (and whose message is only that kind: "ConnectionClosed"); Prisma usually maps it to P1001/P1017,
 * but not when the connection dies under an interactive transaction's commit or rollback.
 */
const unavailableKinds = new Set([
  "DatabaseNotReachable",
  "ConnectionClosed",
  "SocketTimeout",
  "TooManyConnections",
]);
/** node-postgres says a cut connection in words only (no code). */
const unavailableMessages = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /Can't reach database server/,
];
const transientCodes = new Set([...unavailableCodes, "40001", "40P01"]);

function someInChain(
  error: unknown,
  test: (e: { code?: unknown; errorCode?: unknown; message?: unknown }) => boolean,
) {
  for (let e = error, depth = 0; typeof e === "object" && e !== null && depth < 8; depth++) {
    if (test(e as { code?: unknown })) return true;
    const next = (e as { cause?: unknown }).cause;
    if (next === e) break;
    e = next;
  }
  return false;
}

/**
 * The message is not at fault: what it needs cannot be reached now (the database is down or
 * restarting). Such a failure is retried for as long as it lasts, never dead-lettered: a dead
 * letter waits for an operator, and an outage of every message's dependency would put every
 * message there (each then lost to the flow until replayed).
 */
export function isUnavailable(error: unknown): boolean {
  return someInChain(error, (e) => {
    // Prisma reports the database's own code in meta, or only in its message ("Code: `57P03`").
    const meta = (
      e as {
        meta?: {
          code?: unknown;
          driverAdapterError?: { cause?: { originalCode?: unknown; kind?: unknown } };
        };
      }
    ).meta;
    const inMessage = typeof e.message === "string" ? /Code: `(\w+)`/.exec(e.message)?.[1] : undefined;
    const codes = [
      e.code,
      e.errorCode,
      meta?.code,
      meta?.driverAdapterError?.cause?.originalCode,
      inMessage,
    ].filter((c): c is string => typeof c === "string");
    if (codes.some((c) => unavailableCodes.has(c))) return true;
    const kind = (e as { kind?: unknown }).kind ?? meta?.driverAdapterError?.cause?.kind;
    if (typeof kind === "string" && unavailableKinds.has(kind)) return true;
    return typeof e.message === "string" && unavailableMessages.some((m) => m.test(e.message as string));
  });
}

/** Connection trouble, serialization failures and deadlocks are transient; the rest is not. */
export function isTransientByDefault(error: unknown): boolean {
  if (isUnavailable(error)) return true;
  return someInChain(error, (e) => {
    if ((e as { transient?: unknown }).transient === true) return true;
    return typeof e.code === "string" && transientCodes.has(e.code);
  });
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  initialBackoffMs: 100,
  maxBackoffMs: 2_000,
  isTransient: isTransientByDefault,
};

export function retryPolicy(overrides: Partial<RetryPolicy> | undefined): RetryPolicy {
  return { ...defaultRetryPolicy, ...overrides };
}

export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const exp = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  // Full jitter keeps many consumers of one failing dependency from retrying in lockstep.
  return Math.round(exp / 2 + (Math.random() * exp) / 2);
}

/**
 * Runs a handler with bounded retries. Resolves when the message is processed, or
 * when it has been handed to `deadLetter`; either way the caller may commit it.
 * A failure because a dependency is unavailable (`isUnavailable`) does not count against
 * `maxAttempts`: it is retried, at most `maxBackoffMs` apart, until the dependency is back.
 * `beat` runs between attempts (a Kafka consumer heartbeats there). The handler sees the envelope
 * with its personal fields opened (sealed-events.ts); one that does not open is dead-lettered at once.
 */
export async function deliver(
  message: Omit<IncomingMessage, "attempt">,
  group: string,
  handler: MessageHandler,
  policy: RetryPolicy,
  deadLetter: (letter: DeadLetter) => Promise<void>,
  beat: () => Promise<void> = async () => {},
): Promise<"processed" | "dead-lettered"> {
  const bury = async (error: unknown, attempts: number) => {
    const err = error instanceof Error ? error : new Error(String(error));
    // The envelope as it came (its personal fields still sealed): dead letters are at rest too.
    await deadLetter({
      group,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      envelope: message.envelope,
      error: { name: err.name, message: err.message },
      attempts,
      deadAt: new Date().toISOString(),
    });
    return "dead-lettered" as const;
  };
  // Opened once, before the first attempt: a sealed field that does not open never will.
  let opened: Omit<IncomingMessage, "attempt">;
  try {
    opened = { ...message, envelope: openEvent(message.envelope) };
  } catch (error) {
    return bury(error, 1);
  }
  for (let attempt = 1, counted = 1; ; attempt++) {
    try {
      await handler({ ...opened, attempt });
      return "processed";
    } catch (error) {
      const unavailable = isUnavailable(error);
      const transient = unavailable || policy.isTransient(error);
      if (!transient || (!unavailable && counted >= policy.maxAttempts)) return bury(error, attempt);
      if (!unavailable) counted++;
      await sleep(backoffMs(policy, Math.min(attempt, 16)));
      await beat();
    }
  }
}

export const defaultBatchSize = 500;

/**
 * Runs a batch handler once over consecutive messages of one partition, their personal fields
 * opened (sealed-events.ts); if it throws, or a message does not open, delivers
 * them again one at a time through `handler` (each with `deliver`'s retries and dead-lettering).
 * Resolves when every message is processed or dead-lettered: the caller may commit them all.
 */
export async function deliverBatch(
  messages: ReadonlyArray<Omit<IncomingMessage, "attempt">>,
  group: string,
  batch: BatchHandler,
  handler: MessageHandler,
  policy: RetryPolicy,
  deadLetter: (letter: DeadLetter) => Promise<void>,
  beat: () => Promise<void> = async () => {},
): Promise<"processed" | "one-by-one"> {
  try {
    // Opened like deliver() opens one; a field that does not open sends the batch one by one,
    // where deliver() dead-letters that message alone.
    await batch(messages.map((m) => ({ ...m, envelope: openEvent(m.envelope), attempt: 1 })));
    return "processed";
  } catch {
    for (const m of messages) {
      await deliver(m, group, handler, policy, deadLetter, beat);
      await beat();
    }
    return "one-by-one";
  }
}
