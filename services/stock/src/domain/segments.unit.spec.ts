import { describe, expect, it } from "vitest";
import { summarize } from "./ledger.ts";
import { businessDate, checkRange, decideConfirm, refuseOverlap } from "./segments.ts";

describe("segments", () => {
  it("refuses an inverted range, naming endNumber", () => {
    expect(() => checkRange({ startNumber: 10n, endNumber: 9n })).toThrowError(/endNumber must not be below/);
  });

  it("refuses a segment of more than a million numbers", () => {
    expect(() => checkRange({ startNumber: 1n, endNumber: 1_000_001n })).toThrowError(/at most 1000000/);
    expect(() => checkRange({ startNumber: 1n, endNumber: 1_000_000n })).not.toThrow();
  });

  it("refuses numbers already held, naming the segment that holds them", () => {
    expect(() =>
      refuseOverlap({ startNumber: 5n, endNumber: 20n }, { id: "s1", startNumber: 1n, endNumber: 10n }),
    ).toThrowError(/0000000005-0000000020 overlap segment s1 \(0000000001-0000000010\)/);
    expect(() => refuseOverlap({ startNumber: 5n, endNumber: 20n }, null)).not.toThrow();
  });

  it("confirms a segment into stock once only", () => {
    expect(() => decideConfirm({ id: "s1", status: "RECEIVED" })).not.toThrow();
    expect(() => decideConfirm({ id: "s1", status: "STOCKED" })).toThrowError(/already in stock/);
  });

  it("counts the business day in Asia/Shanghai", () => {
    expect(businessDate(new Date("2026-11-22T15:59:59Z"))).toBe("2026-11-22");
    expect(businessDate(new Date("2026-11-22T16:00:00Z"))).toBe("2026-11-23");
  });
});

describe("ledger (领用存)", () => {
  it("carries the balance before the period into its opening and closes with what is left", () => {
    expect(
      summarize(
        [
          { movement: "STOCKED", quantity: 100 },
          { movement: "USED", quantity: 30 },
        ],
        [
          { movement: "STOCKED", quantity: 50 },
          { movement: "USED", quantity: 10 },
          { movement: "VOIDED", quantity: 2 },
          { movement: "RETURNED", quantity: 8 },
        ],
      ),
    ).toEqual({ opening: 70, received: 50, used: 10, voided: 2, returned: 8, closing: 100 });
  });

  it("counts what was distributed to an issuing point as that point's received", () => {
    expect(
      summarize(
        [{ movement: "DISTRIBUTED", quantity: 200 }],
        [
          { movement: "DISTRIBUTED", quantity: 100 },
          { movement: "USED", quantity: 120 },
        ],
      ),
    ).toEqual({ opening: 200, received: 100, used: 120, voided: 0, returned: 0, closing: 180 });
  });
});
