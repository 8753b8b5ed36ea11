import { describe, expect, it } from "vitest";
import {
  allCommandTypes,
  allowedCommands,
  allStatuses,
  decide,
  type ReceiptCommand,
  type ReceiptCommandType,
  type ReceiptStatus,
} from "./lifecycle.ts";

const command = (type: ReceiptCommandType): ReceiptCommand =>
  type === "redFlush" || type === "void" ? { type, reason: "退费" } : { type };

const allowed: Array<[ReceiptStatus, ReceiptCommandType, ReceiptStatus]> = [
  ["REQUESTED", "agencySign", "AGENCY_SIGNED"],
  ["REQUESTED", "void", "VOIDED"],
  ["AGENCY_SIGNED", "superviseByFinance", "ISSUED"],
  ["AGENCY_SIGNED", "void", "VOIDED"],
  ["ISSUED", "redFlush", "RED_FLUSHED"],
  ["ISSUED", "exchangeForPaper", "PAPER_EXCHANGED"],
  ["ISSUED", "book", "BOOKED"],
  ["PAPER_EXCHANGED", "returnPaper", "ISSUED"],
];

describe("receipt lifecycle (decide)", () => {
  it.each(allowed)("%s --%s--> %s", (from, type, to) => {
    expect(decide(from, command(type))).toBe(to);
  });

  const refused = allStatuses.flatMap((status) =>
    allCommandTypes
      .filter((type) => !allowed.some(([s, c]) => s === status && c === type))
      .map((type) => [status, type] as const),
  );
  it.each(refused)("refuses %s --%s--> (409 TRANSITION_REFUSED)", (status, type) => {
    expect(() => decide(status, command(type))).toThrow(
      expect.objectContaining({ kind: "conflict", code: "TRANSITION_REFUSED" }),
    );
  });

  it("covers every state × command pair", () => {
    expect(allowed.length + refused.length).toBe(allStatuses.length * allCommandTypes.length);
  });

  it("refuses red-flush of a booked receipt, saying why", () => {
    expect(() => decide("BOOKED", command("redFlush"))).toThrow(/booked/);
  });

  it("refuses red-flush of a receipt exchanged for paper: the paper process applies", () => {
    expect(() => decide("PAPER_EXCHANGED", command("redFlush"))).toThrow(/paper/);
  });

  it("refuses to void an issued receipt: it is red-flushed instead", () => {
    expect(() => decide("ISSUED", command("void"))).toThrow(/red-flushed, not voided/);
  });

  it("lists what a state accepts", () => {
    expect(allowedCommands("ISSUED")).toEqual(["redFlush", "exchangeForPaper", "book"]);
    expect(allowedCommands("VOIDED")).toEqual([]);
  });
});
