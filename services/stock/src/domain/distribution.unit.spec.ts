import { describe, expect, it } from "vitest";
import { carve, topUpSize } from "./distribution.ts";

describe("分发 (distribution)", () => {
  const stock = [
    { segmentId: "a", next: 91n, end: 100n },
    { segmentId: "b", next: 1001n, end: 2000n },
  ];

  it("carves from the oldest segment first and spans segments when it must", () => {
    expect(carve(stock, 25)).toEqual([
      { segmentId: "a", startNumber: 91n, endNumber: 100n },
      { segmentId: "b", startNumber: 1001n, endNumber: 1015n },
    ]);
  });

  it("skips exhausted segments", () => {
    expect(carve([{ segmentId: "x", next: 11n, end: 10n }, ...stock], 5)).toEqual([
      { segmentId: "a", startNumber: 91n, endNumber: 95n },
    ]);
  });

  it("refuses to hand out more than stock holds, saying how much it holds", () => {
    expect(() => carve(stock, 1011)).toThrowError(/holds 1010 undistributed numbers, fewer than the 1011/);
  });

  it("tops a point up by whole batches to at least its threshold", () => {
    expect(topUpSize({ threshold: 100, batchSize: 50 }, 120, 10_000n)).toBe(0);
    expect(topUpSize({ threshold: 100, batchSize: 50 }, 99, 10_000n)).toBe(50);
    expect(topUpSize({ threshold: 100, batchSize: 50 }, 0, 10_000n)).toBe(100);
    expect(topUpSize({ threshold: 100, batchSize: 30 }, 0, 10_000n)).toBe(120);
  });

  it("tops up with what stock has when it has less than a batch", () => {
    expect(topUpSize({ threshold: 100, batchSize: 50 }, 10, 20n)).toBe(20);
    expect(topUpSize({ threshold: 100, batchSize: 50 }, 10, 0n)).toBe(0);
  });
});
