import { describe, expect, it } from "vitest";
import {
  decideClose,
  decideOpenOrder,
  decideSettlement,
  type OrderState,
  type PaymentState,
} from "./payment.ts";
import { checkDigit, isValidPaymentCode, makePaymentCode } from "./payment-code.ts";
import { remainderAfterRefund } from "./refund.ts";
import { amountDue, amountFixedUntil } from "./surcharge.ts";

describe("payment code (缴款识别码)", () => {
  it("is 20 digits: region, year, sequence and an ISO 7064 MOD 11,10 check digit", () => {
    const code = makePaymentCode({ region: "230100", check: "iso7064-mod11-10" }, 2026, 42n);
    expect(code).toMatch(/^2301002600000000042\d$/);
    expect(isValidPaymentCode(code)).toBe(true);
    expect(Number(code[19])).toBe(checkDigit(code.slice(0, 19)));
  });

  it("catches every single-digit error and every swap of neighbours", () => {
    const code = makePaymentCode({ region: "230100", check: "iso7064-mod11-10" }, 2026, 9876543n);
    for (let i = 0; i < 20; i++) {
      for (let d = 0; d <= 9; d++) {
        if (String(d) === code[i]) continue;
        expect(isValidPaymentCode(code.slice(0, i) + d + code.slice(i + 1))).toBe(false);
      }
    }
    for (let i = 0; i < 19; i++) {
      if (code[i] === code[i + 1]) continue;
      const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
      expect(isValidPaymentCode(swapped)).toBe(false);
    }
    expect(isValidPaymentCode("1234")).toBe(false);
  });
});

describe("加处罚款 (late payment surcharge)", () => {
  const fine = { principalFen: 20000, fineFen: 20000, deadline: "2026-11-20" };
  it("adds nothing on the deadline day (Asia/Shanghai), even late in the evening UTC", () => {
    // 2026-11-20 23:30 in Shanghai is 15:30 UTC.
    expect(amountDue(fine, new Date("2026-11-20T15:30:00Z"))).toMatchObject({
      surchargeFen: 0,
      totalFen: 20000,
    });
  });
  it("adds 3% of the fine per day after the deadline", () => {
    // 2026-11-21 00:30 Shanghai: one day late.
    expect(amountDue(fine, new Date("2026-11-20T16:30:00Z"))).toMatchObject({
      daysLate: 1,
      surchargeFen: 600,
    });
    expect(amountDue(fine, new Date("2026-11-30T04:00:00Z"))).toMatchObject({
      daysLate: 10,
      surchargeFen: 6000,
    });
  });
  it("never exceeds the fine", () => {
    expect(amountDue(fine, new Date("2027-03-01T04:00:00Z"))).toMatchObject({
      surchargeFen: 20000,
      totalFen: 40000,
    });
  });
  it("rounds a fraction of a fen down", () => {
    expect(
      amountDue(
        { principalFen: 333, fineFen: 333, deadline: "2026-11-20" },
        new Date("2026-11-21T04:00:00Z"),
      ),
    ).toMatchObject({ surchargeFen: 9 });
  });
  it("does not apply without a deadline, and runs on the fine only, not on fees beside it", () => {
    expect(amountDue({ principalFen: 5000, fineFen: 0 }, new Date("2030-01-01T00:00:00Z")).surchargeFen).toBe(
      0,
    );
    expect(
      amountDue(
        { principalFen: 25000, fineFen: 20000, deadline: "2026-11-20" },
        new Date("2026-11-21T04:00:00Z"),
      ),
    ).toMatchObject({ surchargeFen: 600, totalFen: 25600 });
  });
  it("is fixed until the next Shanghai midnight", () => {
    expect(amountFixedUntil(new Date("2026-11-21T04:00:00Z")).toISOString()).toBe("2026-11-21T16:00:00.000Z");
  });
});

describe("the payment state machine", () => {
  const payment = (over: Partial<PaymentState> = {}): PaymentState => ({
    id: "p1",
    status: "PAYING",
    paidOrderId: null,
    ...over,
  });
  const order = (over: Partial<OrderState> = {}): OrderState => ({
    id: "o1",
    paymentId: "p1",
    status: "OPEN",
    amountFen: 20600,
    channelTradeNo: null,
    expiresAt: new Date(),
    ...over,
  });
  const paid = (amountFen = 20600) => ({
    kind: "paid" as const,
    channelTradeNo: "2026112222001",
    amountFen,
    paidAt: new Date(),
  });

  it("refuses an order for an amount that is no longer the amount due, with AMOUNT_DUE_CHANGED", () => {
    expect(() => decideOpenOrder(payment(), { totalFen: 20600 }, 20000)).toThrowError(
      expect.objectContaining({ code: "AMOUNT_DUE_CHANGED" }),
    );
    expect(() => decideOpenOrder(payment(), { totalFen: 20600 }, 20600)).not.toThrow();
  });
  it("refuses an order for a paid or closed payment", () => {
    expect(() => decideOpenOrder(payment({ status: "PAID" }), { totalFen: 1 }, 1)).toThrowError(
      expect.objectContaining({ code: "ALREADY_PAID" }),
    );
    expect(() => decideOpenOrder(payment({ status: "CLOSED" }), { totalFen: 1 }, 1)).toThrowError(
      expect.objectContaining({ code: "PAYMENT_CLOSED" }),
    );
  });
  it("completes once: a repeated report of the same order changes nothing", () => {
    expect(decideSettlement(payment(), order(), paid())).toEqual({ kind: "complete" });
    expect(
      decideSettlement(payment({ status: "PAID", paidOrderId: "o1" }), order({ status: "PAID" }), paid()),
    ).toEqual({ kind: "already-settled" });
  });
  it("holds money a second order took for a paid payment as a duplicate payment, never a second completion", () => {
    expect(decideSettlement(payment({ status: "PAID", paidOrderId: "o0" }), order(), paid())).toEqual({
      kind: "anomaly",
      anomaly: "DUPLICATE_PAYMENT",
    });
  });
  it("holds an amount that is not the order's", () => {
    expect(decideSettlement(payment(), order(), paid(20000))).toEqual({
      kind: "anomaly",
      anomaly: "AMOUNT_MISMATCH",
    });
  });
  it("closes an open order the channel closed, and ignores waiting", () => {
    expect(decideSettlement(payment(), order(), { kind: "closed" })).toEqual({ kind: "close-order" });
    expect(decideSettlement(payment(), order(), { kind: "waiting" })).toEqual({ kind: "nothing" });
  });
  it("closes a payment once, and refuses to close a paid one", () => {
    expect(decideClose(payment())).toBe("close");
    expect(decideClose(payment({ status: "CLOSED" }))).toBe("already-closed");
    expect(() => decideClose(payment({ status: "PAID" }))).toThrowError(
      expect.objectContaining({ code: "ALREADY_PAID" }),
    );
  });
});

describe("what a partial refund leaves on the receipt (轧差退付)", () => {
  const lines = [
    { itemCode: "FEE", quantity: "2", amountFen: 1000 },
    { itemCode: "FK01", quantity: "1", amountFen: 20000 },
    { itemCode: "FK02", quantity: "1", amountFen: 6000 },
  ];
  it("takes the refund off the last line first, dropping a line brought to nothing", () => {
    expect(remainderAfterRefund(lines, 6000)).toEqual(lines.slice(0, 2));
    expect(remainderAfterRefund(lines, 6500)).toEqual([
      lines[0],
      { itemCode: "FK01", quantity: "1", amountFen: 19500 },
    ]);
    expect(remainderAfterRefund(lines, 26500)).toEqual([{ itemCode: "FEE", quantity: "1", amountFen: 500 }]);
  });
  it("leaves every line untouched for nothing refunded, and none for all of it", () => {
    expect(remainderAfterRefund(lines, 0)).toEqual(lines);
    expect(remainderAfterRefund(lines, 27000)).toEqual([]);
  });
  it("keeps the total: what remains plus what was refunded is what was paid", () => {
    for (const refunded of [1, 999, 1000, 1001, 20999, 26999]) {
      const left = remainderAfterRefund(lines, refunded).reduce((s, l) => s + l.amountFen, 0);
      expect(left + refunded).toBe(27000);
    }
  });
});
