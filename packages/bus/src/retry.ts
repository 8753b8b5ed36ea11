import { setTimeout as sleep } from "node:timers/promises";
import type { DeadLetter, IncomingMessage, MessageHandler, RetryPolicy } from "./bus.ts";

/** Throw this (or an error with `transient: true`) for a failure worth another try. */
export class TransientError extends Error {
  readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransientError";
  }
}

const transientCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "57P01",
  "40001",
  "40P01",
]);

/** Connection trouble, serialization failures and deadlocks are transient; the rest is not. */
export function isTransientByDefault(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { transient?: unknown; code?: unknown; cause?: unknown };
  if (e.transient === true) return true;
  if (typeof e.code === "string" && transientCodes.has(e.code)) return true;
  return e.cause !== undefined && e.cause !== error && isTransientByDefault(e.cause);
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
 * `beat` runs between attempts (a Kafka consumer heartbeats there).
 */
export async function deliver(
  message: Omit<IncomingMessage, "attempt">,
  group: string,
  handler: MessageHandler,
  policy: RetryPolicy,
  deadLetter: (letter: DeadLetter) => Promise<void>,
  beat: () => Promise<void> = async () => {},
): Promise<"processed" | "dead-lettered"> {
  for (let attempt = 1; ; attempt++) {
    try {
      await handler({ ...message, attempt });
      return "processed";
    } catch (error) {
      const transient = policy.isTransient(error);
      if (!transient || attempt >= policy.maxAttempts) {
        const err = error instanceof Error ? error : new Error(String(error));
        await deadLetter({
          group,
          topic: message.topic,
          partition: message.partition,
          offset: message.offset,
          envelope: message.envelope,
          error: { name: err.name, message: err.message },
          attempts: attempt,
          deadAt: new Date().toISOString(),
        });
        return "dead-lettered";
      }
      await sleep(backoffMs(policy, attempt));
      await beat();
    }
  }
}
