/** How long a request waits before it is asked again after `attempts` failures: doubling, capped, jittered. */
export function backoffMs(
  attempts: number,
  policy: { baseMs: number; maxMs: number },
  random = Math.random,
): number {
  const exponential = policy.baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 20));
  const capped = Math.min(policy.maxMs, exponential);
  // Jitter spreads replicas and batches apart so they do not all hit finance the moment it is back.
  return Math.round(capped * (0.5 + random() * 0.5));
}
