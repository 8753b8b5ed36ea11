import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkRule, FULL_SHARE, planClearing, splitByShares } from "./clearing.ts";

/** Shares of n accounts adding up to exactly 10 000 basis points. */
const shares = fc
  .array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 7 })
  .map((weights) => {
    const total = weights.reduce((a, b) => a + b, 0);
    const bp = weights.map((w) => Math.max(1, Math.floor((w * FULL_SHARE) / total)));
    let over = bp.reduce((a, b) => a + b, 0) - FULL_SHARE;
    // Bring the sum to exactly 10 000 by taking from (or giving to) the largest share.
    const largest = bp.indexOf(Math.max(...bp));
    bp[largest] = (bp[largest] as number) - over;
    over = 0;
    return bp.map((basisPoints, i) => ({ accountNo: `A${i}`, basisPoints }));
  })
  .filter((s) => s.every((x) => x.basisPoints >= 1));

describe("clearing split (清分, largest remainder)", () => {
  it("never loses or makes a fen, for any amount and any shares", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e11, max: 1e11 }), shares, (amount, s) => {
        const parts = splitByShares(amount, s);
        expect(parts).toHaveLength(s.length);
        expect(parts.reduce((a, b) => a + b, 0)).toBe(amount);
        parts.forEach((p, i) => {
          // Each part is within one fen of its exact share.
          const exact = (amount * (s[i] as { basisPoints: number }).basisPoints) / FULL_SHARE;
          expect(Math.abs(p - exact)).toBeLessThan(1);
          expect(Number.isInteger(p)).toBe(true);
        });
      }),
      { numRuns: 2000 },
    );
  });

  it("gives the leftover fen to the largest remainders, ties to the earlier account", () => {
    const thirds = [
      { accountNo: "A", basisPoints: 3334 },
      { accountNo: "B", basisPoints: 3333 },
      { accountNo: "C", basisPoints: 3333 },
    ];
    expect(splitByShares(100, thirds)).toEqual([34, 33, 33]);
    expect(splitByShares(1, thirds)).toEqual([1, 0, 0]);
    expect(
      splitByShares(2, [
        { accountNo: "A", basisPoints: 5000 },
        { accountNo: "B", basisPoints: 5000 },
      ]),
    ).toEqual([1, 1]);
    expect(
      splitByShares(1, [
        { accountNo: "A", basisPoints: 5000 },
        { accountNo: "B", basisPoints: 5000 },
      ]),
    ).toEqual([1, 0]);
    expect(
      splitByShares(999, [
        { accountNo: "A", basisPoints: 6000 },
        { accountNo: "B", basisPoints: 4000 },
      ]),
    ).toEqual([599, 400]);
    expect(
      splitByShares(-999, [
        { accountNo: "A", basisPoints: 6000 },
        { accountNo: "B", basisPoints: 4000 },
      ]),
    ).toEqual([-599, -400]);
  });

  it("a day's plan adds up to collected − refunded exactly, over generated items and rules", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            collectedFen: fc.integer({ min: 0, max: 1e9 }),
            refundedFen: fc.integer({ min: 0, max: 1e9 }),
            rule: shares,
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (items) => {
          const takings = items.map((x, i) => ({
            itemCode: `I${i}`,
            collectedFen: x.collectedFen,
            refundedFen: x.refundedFen,
          }));
          const rules = new Map(items.map((x, i) => [`I${i}`, x.rule]));
          const plan = planClearing(takings, rules);
          if (!plan.ok) throw new Error("every item has a rule");
          const net = takings.reduce((s, t) => s + t.collectedFen - t.refundedFen, 0);
          expect(plan.parts.reduce((s, p) => s + p.amountFen, 0)).toBe(net);
          for (const p of plan.parts) {
            expect(p.amountFen).toBe(p.collectedFen - p.refundedFen);
            expect(p.amountFen).not.toBe(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("refuses a plan while an item with money has no rule, naming it", () => {
    const plan = planClearing(
      [
        { itemCode: "FK01", collectedFen: 100, refundedFen: 0 },
        { itemCode: "FK09", collectedFen: 5, refundedFen: 0 },
        { itemCode: "FK08", collectedFen: 0, refundedFen: 0 },
      ],
      new Map([["FK01", [{ accountNo: "A", basisPoints: FULL_SHARE }]]]),
    );
    expect(plan).toEqual({ ok: false, itemsWithoutRule: ["FK09"] });
  });

  it("checks a rule: shares add to 100 %, accounts known and once, naming the field", () => {
    const known = new Set(["A", "B"]);
    expect(
      checkRule(
        [
          { accountNo: "A", basisPoints: 6000 },
          { accountNo: "B", basisPoints: 4000 },
        ],
        known,
      ),
    ).toEqual([]);
    expect(
      checkRule(
        [
          { accountNo: "A", basisPoints: 6000 },
          { accountNo: "B", basisPoints: 3999 },
        ],
        known,
      ).map((i) => [i.field, i.rule]),
    ).toEqual([["body.shares", "sum_100_percent"]]);
    expect(
      checkRule(
        [
          { accountNo: "A", basisPoints: 5000 },
          { accountNo: "Z", basisPoints: 5000 },
        ],
        known,
      ).map((i) => [i.field, i.rule]),
    ).toEqual([["body.shares.1.accountNo", "known_account"]]);
    expect(
      checkRule(
        [
          { accountNo: "A", basisPoints: 5000 },
          { accountNo: "A", basisPoints: 5000 },
        ],
        known,
      ).map((i) => [i.field, i.rule]),
    ).toEqual([["body.shares.1.accountNo", "unique"]]);
    expect(checkRule([], known).map((i) => i.field)).toEqual(["body.shares"]);
  });
});
