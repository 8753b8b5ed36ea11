/**
 * A circuit breaker for one signing device. Closed: calls flow. After `failureThreshold`
 * consecutive faults of the device (transport failure, UNAVAILABLE, DEADLINE_EXCEEDED) it opens:
 * the device gets no calls for `openMs`, so callers stop paying a timeout each. Then it is
 * half-open: exactly one call (the probe) goes through; its success closes the breaker, its
 * failure opens it again for another `openMs`. Answers that are the caller's fault (NOT_FOUND,
 * INVALID_ARGUMENT, …) count as successes: the device is working.
 */
export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  failureThreshold: number;
  openMs: number;
}

export class CircuitBreaker {
  #state: BreakerState = "closed";
  #failures = 0;
  #openedAt = 0;
  #probeInFlight = false;
  #opened = 0;

  constructor(
    private readonly options: BreakerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.#state === "open" && this.now() - this.#openedAt >= this.options.openMs) {
      this.#state = "half-open";
      this.#probeInFlight = false;
    }
    return this.#state;
  }

  /** How many times it opened (for metrics and tests). */
  get timesOpened(): number {
    return this.#opened;
  }

  /** True when a call may go now (without taking the half-open probe slot). */
  wouldAllow(): boolean {
    const state = this.state;
    return state === "closed" || (state === "half-open" && !this.#probeInFlight);
  }

  /** Takes permission for one call; in half-open this is the probe, and only one is given. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    if (state === "half-open" && !this.#probeInFlight) {
      this.#probeInFlight = true;
      return true;
    }
    return false;
  }

  onSuccess(): void {
    this.#failures = 0;
    this.#probeInFlight = false;
    this.#state = "closed";
  }

  onFailure(): void {
    this.#failures += 1;
    const state = this.state;
    if (state === "half-open" || (state === "closed" && this.#failures >= this.options.failureThreshold)) {
      this.#open();
    }
  }

  /** A call that ended with an answer that says nothing about the device (e.g. cancelled by the caller). */
  onNeutral(): void {
    if (this.#state === "half-open") this.#probeInFlight = false;
  }

  #open(): void {
    this.#state = "open";
    this.#openedAt = this.now();
    this.#probeInFlight = false;
    this.#opened += 1;
  }
}
