import { describe, expect, it } from "vitest";
import { cstDay, cstDayBounds, previousDay } from "./days.ts";
import { compactRanges } from "./ranges.ts";
import { backoffMs } from "./retry.ts";

describe("compactRanges", () => {
  it("folds consecutive numbers into closed ranges, ignoring order and repeats", () => {
    expect(
      compactRanges(["0000000005", "0000000001", "0000000002", "0000000003", "0000000002", "0000000009"]),
    ).toEqual([
      { startNumber: "0000000001", endNumber: "0000000003" },
      { startNumber: "0000000005", endNumber: "0000000005" },
      { startNumber: "0000000009", endNumber: "0000000009" },
    ]);
    expect(compactRanges([])).toEqual([]);
  });
});

describe("days in China Standard Time", () => {
  it("puts 23:30 UTC on the next CST day and bounds a day at 16:00 UTC", () => {
    expect(cstDay(new Date("2026-11-30T23:30:00Z"))).toBe("2026-12-01");
    expect(cstDayBounds("2026-12-01").start.toISOString()).toBe("2026-11-30T16:00:00.000Z");
    expect(previousDay("2026-03-01")).toBe("2026-02-28");
  });
});

describe("backoffMs", () => {
  it("doubles from the base, never passes the cap, and keeps at least half of it as jitter floor", () => {
    const policy = { baseMs: 200, maxMs: 2000 };
    expect(backoffMs(1, policy, () => 1)).toBe(200);
    expect(backoffMs(3, policy, () => 1)).toBe(800);
    expect(backoffMs(30, policy, () => 1)).toBe(2000);
    expect(backoffMs(30, policy, () => 0)).toBe(1000);
  });
});
