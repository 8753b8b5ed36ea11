import { describe, expect, it } from "vitest";
import { createEnvelope, decodeEvent } from "./catalog.ts";
import { PaymentCompleted } from "./events/payment.ts";

const v1 = {
  paymentId: "PAY-1",
  agencyCode: "110101",
  bizSerialNo: "BIZ-1",
  paidAt: "2026-11-22T08:00:00.000+08:00",
  channel: "alipay",
  payer: { type: 1 as const, code: "110101199003071234", name: "张三" },
  items: [{ itemCode: "001", quantity: "1", amountFen: 20000 }],
  totalFen: 20000,
  issuingPointCode: "WIN-01",
  billCode: "11010126",
};

describe("payment.PaymentCompleted versions", () => {
  it("reads a v1 event (a business system took the money) as v2 from a business system, without settlement", () => {
    const env = {
      ...createEnvelope(PaymentCompleted, { ...v1, source: "business-system" }, { producer: "t" }),
    };
    const old = { ...env, version: 1, data: v1 };
    const read = decodeEvent(JSON.parse(JSON.stringify(old)));
    expect(read.type).toBe("payment.PaymentCompleted");
    expect(read.data).toEqual({ ...v1, source: "business-system" });
  });

  it("refuses a platform payment without its settlement, naming the field", () => {
    expect(() =>
      createEnvelope(PaymentCompleted, { ...v1, source: "platform" }, { producer: "t" }),
    ).toThrowError(/settlement: a payment the platform took carries its settlement/);
  });
});
