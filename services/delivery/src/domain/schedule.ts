/**
 * When a failed delivery is tried again: exponential backoff from a base delay, capped, and
 * a bounded number of tries. After the last try the delivery is parked (搁置) and waits for a
 * person to re-push it: a business system that is down for a day should not be hammered, and
 * a wrong address should not be retried forever.
 */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 30_000,
  maxDelayMs: 3_600_000,
};

export type AfterFailure = { status: "PENDING"; nextAttemptAt: Date } | { status: "PARKED" };

/** `attempts` counts the try that just failed. */
export function afterFailure(attempts: number, policy: RetryPolicy, now: Date): AfterFailure {
  if (attempts >= policy.maxAttempts) return { status: "PARKED" };
  const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempts - 1));
  return { status: "PENDING", nextAttemptAt: new Date(now.getTime() + delay) };
}
