import { describe, expect, it } from "vitest";
import { checkPeriod, decideRemoval, periodDays, remaining } from "./removals.ts";

describe("申退 and 库存作废 (numbers leaving stock)", () => {
  const segment = {
    id: "s1",
    status: "STOCKED" as const,
    startNumber: 1n,
    endNumber: 1000n,
    nextUndistributed: 201n,
  };

  it("takes numbers from the undistributed part of a stocked segment", () => {
    expect(() => decideRemoval({ startNumber: 201n, endNumber: 300n }, segment, [])).not.toThrow();
  });

  it("refuses numbers already distributed, naming the range", () => {
    expect(() => decideRemoval({ startNumber: 150n, endNumber: 300n }, segment, [])).toThrowError(
      /0000000150-0000000300 overlap numbers already distributed \(0000000001-0000000200\)/,
    );
  });

  it("refuses numbers already returned or voided, naming both ranges", () => {
    expect(() =>
      decideRemoval({ startNumber: 250n, endNumber: 260n }, segment, [
        { startNumber: 255n, endNumber: 400n },
      ]),
    ).toThrowError(
      /0000000250-0000000260 overlap numbers already returned or voided \(0000000255-0000000400\)/,
    );
  });

  it("refuses numbers outside any stocked segment", () => {
    expect(() => decideRemoval({ startNumber: 1n, endNumber: 2n }, undefined, [])).toThrowError(
      /not lie inside/,
    );
    expect(() =>
      decideRemoval({ startNumber: 201n, endNumber: 300n }, { ...segment, status: "RECEIVED" }, []),
    ).toThrowError(/not yet in stock/);
  });

  it("leaves distribution only the numbers not removed", () => {
    expect(
      remaining(201n, 1000n, [
        { startNumber: 500n, endNumber: 600n },
        { startNumber: 201n, endNumber: 210n },
        { startNumber: 990n, endNumber: 1000n },
      ]),
    ).toEqual([
      { startNumber: 211n, endNumber: 499n },
      { startNumber: 601n, endNumber: 989n },
    ]);
    expect(remaining(201n, 1000n, [{ startNumber: 1n, endNumber: 100n }])).toEqual([
      { startNumber: 201n, endNumber: 1000n },
    ]);
  });

  it("turns a period into its first and last day", () => {
    expect(periodDays("2026-02")).toEqual({ from: "2026-02-01", to: "2026-02-28" });
    expect(periodDays("2026-12")).toEqual({ from: "2026-12-01", to: "2026-12-31" });
  });

  it("refuses to write off a month not yet begun", () => {
    expect(() => checkPeriod("2026-12", "2026-11-30")).toThrowError(/2026-12 has not begun/);
    expect(() => checkPeriod("2026-11", "2026-11-30")).not.toThrow();
    expect(() => checkPeriod("2025-01", "2026-11-30")).not.toThrow();
  });
});
