import { describe, expect, it } from "vitest";
import {
  addDays,
  businessDay,
  businessDayBounds,
  lastDayOfMonth,
  shanghaiTimestamp,
} from "./business-day.ts";
import { fenToChineseUpper, fenToFigures, fenToYuan } from "./money.ts";

describe("the upper-case Chinese amount (大写)", () => {
  it.each([
    [0n, "零元整"],
    [5n, "伍分"],
    [50n, "伍角整"],
    [1000n, "壹拾元整"],
    [1005n, "壹拾元零伍分"],
    [16050n, "壹佰陆拾元伍角整"],
    [100500n, "壹仟零伍元整"],
    [10000000n, "壹拾万元整"],
    [10010000n, "壹拾万零壹佰元整"],
    [10000100000n, "壹亿零壹仟元整"],
    [10001000000n, "壹亿零壹万元整"],
    [123456789n, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"],
    [-16050n, "负壹佰陆拾元伍角整"],
  ])("writes %s fen as %s", (fen, words) => {
    expect(fenToChineseUpper(fen)).toBe(words);
  });

  it("prints figures with 2 decimals and thousands separators, negative for red receipts", () => {
    expect(fenToYuan(5n)).toBe("0.05");
    expect(fenToFigures(123456789n)).toBe("¥1,234,567.89");
    expect(fenToFigures(-16050n)).toBe("-¥160.50");
  });
});

describe("the business day in Asia/Shanghai", () => {
  it("counts an instant after 16:00 UTC in the next day", () => {
    expect(businessDay(new Date("2026-11-30T15:59:59.999Z"))).toBe("2026-11-30");
    expect(businessDay(new Date("2026-11-30T16:00:00Z"))).toBe("2026-12-01");
  });

  it("spans a day from 16:00 UTC the day before, and steps over month and year ends", () => {
    expect(businessDayBounds("2026-12-01")).toEqual({
      start: new Date("2026-11-30T16:00:00Z"),
      end: new Date("2026-12-01T16:00:00Z"),
    });
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
    expect(lastDayOfMonth("2028-02")).toBe("2028-02-29");
    expect(shanghaiTimestamp(new Date("2026-11-30T17:30:05Z"))).toBe("2026-12-01 01:30:05");
  });
});
