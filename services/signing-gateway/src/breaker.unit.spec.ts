import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./breaker.ts";

function breaker() {
  let now = 0;
  const b = new CircuitBreaker({ failureThreshold: 3, openMs: 1000 }, () => now);
  return { b, advance: (ms: number) => (now += ms) };
}

describe("circuit breaker", () => {
  it("opens only after the threshold of consecutive device faults", () => {
    const { b } = breaker();
    b.onFailure();
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    b.onFailure();
    expect(b.state).toBe("closed");
    b.onFailure();
    expect(b.state).toBe("open");
    expect(b.tryAcquire()).toBe(false);
  });

  it("lets exactly one probe through when half-open, and closes on its success", () => {
    const { b, advance } = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    advance(999);
    expect(b.tryAcquire()).toBe(false);
    advance(1);
    expect(b.state).toBe("half-open");
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.onSuccess();
    expect(b.state).toBe("closed");
    expect(b.tryAcquire()).toBe(true);
  });

  it("opens again at once when the probe fails", () => {
    const { b, advance } = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    advance(1000);
    expect(b.tryAcquire()).toBe(true);
    b.onFailure();
    expect(b.state).toBe("open");
    expect(b.timesOpened).toBe(2);
    advance(1000);
    expect(b.state).toBe("half-open");
  });
});
