import { describe, expect, it } from "vitest";
import type { ReceiptStatus } from "./lifecycle.ts";
import { isSameRedFlush, redFlushRefusal, redLines } from "./red-flush.ts";

const blue = (status: ReceiptStatus) => ({ status, kind: "BLUE" as const });

describe("red-flush rules (redFlushRefusal)", () => {
  it("lets an issued receipt with no red receipt on its way be red-flushed", () => {
    expect(redFlushRefusal(blue("ISSUED"), undefined)).toBeUndefined();
  });

  it.each([
    ["PAPER_EXCHANGED", "PAPER_EXCHANGED", /paper/],
    ["BOOKED", "BOOKED", /booked/],
    ["RED_FLUSHED", "ALREADY_RED_FLUSHED", /already red-flushed/],
    ["REQUESTED", "NOT_ISSUED", /not issued yet \(REQUESTED\)/],
    ["AGENCY_SIGNED", "NOT_ISSUED", /not issued yet \(AGENCY_SIGNED\)/],
    ["VOIDED", "VOIDED", /void/],
  ] as const)("refuses a receipt in %s with %s, saying why", (status, code, why) => {
    const refusal = redFlushRefusal(blue(status), undefined);
    expect(refusal).toMatchObject({ kind: "conflict", code });
    expect(refusal?.message).toMatch(why);
  });

  it("refuses while a red receipt is on its way, and once it is issued", () => {
    expect(redFlushRefusal(blue("ISSUED"), { status: "AGENCY_SIGNED", reason: "退费" })?.code).toBe(
      "RED_FLUSH_IN_PROGRESS",
    );
    expect(redFlushRefusal(blue("ISSUED"), { status: "ISSUED", reason: "退费" })?.code).toBe(
      "ALREADY_RED_FLUSHED",
    );
  });

  it("never red-flushes a red receipt", () => {
    expect(redFlushRefusal({ status: "ISSUED", kind: "RED" }, undefined)?.code).toBe("RED_RECEIPT");
  });

  it("knows a retry by its reason", () => {
    expect(isSameRedFlush({ status: "REQUESTED", reason: "退费" }, "退费")).toBe(true);
    expect(isSameRedFlush({ status: "REQUESTED", reason: "退费" }, "另一笔退费")).toBe(false);
  });

  it("negates every line's amount and keeps the rest of the line", () => {
    const line = { itemCode: "001", itemName: "护照工本费", unit: "本", quantity: "2", standardFen: 12000 };
    expect(redLines([{ ...line, amountFen: 24000 }])).toEqual([{ ...line, amountFen: -24000 }]);
  });
});
