import { describe, expect, it } from "vitest";
import { type IssuedHere, reconcile, renderReport, type SupervisedThere } from "./reconcile.ts";

const here = (number: string, over: Partial<IssuedHere> = {}): IssuedHere => ({
  receiptId: `r-${number}`,
  billCode: "11010126",
  number,
  issuedAt: "2026-11-30T02:00:00.000Z",
  status: "SUPERVISED",
  documentSm3: `doc-${number}`,
  agencySignatureSm3: `sig-${number}`,
  financeSignatureSm3: `fin-${number}`,
  ...over,
});
const there = (number: string, over: Partial<SupervisedThere> = {}): SupervisedThere => ({
  receiptId: `r-${number}`,
  billCode: "11010126",
  number,
  financeRef: `F-${number}`,
  supervisedAt: "2026-11-30T02:00:01.000Z",
  documentSm3: `doc-${number}`,
  agencySignatureSm3: `sig-${number}`,
  financeSignatureSm3: `fin-${number}`,
  ...over,
});

describe("reconcile", () => {
  it("matches receipts that agree on both sides and reports no difference", () => {
    const r = reconcile([here("0000000001"), here("0000000002")], [there("0000000002"), there("0000000001")]);
    expect(r.summary).toMatchObject({ issuedHere: 2, supervisedThere: 2, matched: 2, differences: 0 });
  });

  it("explains a receipt finance never got, by what the queue says of it", () => {
    const r = reconcile([here("0000000001", { status: "QUEUED", financeSignatureSm3: undefined })], []);
    expect(r.differences).toEqual([
      expect.objectContaining({ kind: "MISSING_AT_FINANCE", number: "0000000001" }),
    ]);
    expect(r.differences[0]!.explanation).toMatch(/never got it.*still queued/);
  });

  it("explains a receipt finance lists that was never submitted here", () => {
    const r = reconcile([], [there("0000000009")]);
    expect(r.differences).toEqual([
      expect.objectContaining({ kind: "UNKNOWN_HERE", financeRef: "F-0000000009" }),
    ]);
  });

  it("does not count a receipt finance rejected (and issuance voided) as missing", () => {
    const r = reconcile([here("0000000001", { status: "REJECTED", rejectionCode: "NUMBER_NOT_ISSUED" })], []);
    expect(r.summary).toMatchObject({ rejectedHere: 1, differences: 0 });
  });

  it("names each mismatch: document, agency signature, finance signature, invalid signature, rejected yet supervised", () => {
    const r = reconcile(
      [
        here("0000000001"),
        here("0000000002"),
        here("0000000003"),
        here("0000000004"),
        here("0000000005", { status: "REJECTED" }),
      ],
      [
        there("0000000001", { documentSm3: "other" }),
        there("0000000002", { agencySignatureSm3: "other" }),
        there("0000000003", { financeSignatureSm3: "other" }),
        there("0000000004", { signatureProblem: "finance signature: the SM2 signature does not verify" }),
        there("0000000005"),
      ],
    );
    expect(r.differences.map((d) => d.kind)).toEqual([
      "DOCUMENT_MISMATCH",
      "AGENCY_SIGNATURE_MISMATCH",
      "FINANCE_SIGNATURE_MISMATCH",
      "SIGNATURE_INVALID",
      "REJECTED_HERE_SUPERVISED_THERE",
    ]);
    expect(renderReport({ agencyCode: "110101", day: "2026-11-30", createdAt: "now", result: r })).toContain(
      "differences 5",
    );
  });
});
