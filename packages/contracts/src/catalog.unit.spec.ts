import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createEnvelope, decodeEvent, UnknownEventError } from "./catalog.ts";
import { defineEvent, EventSchemaError, olderVersion, readEventData } from "./event.ts";
import { SegmentIssued } from "./events/finance.ts";
import { topics } from "./topics.ts";

const issued = {
  financeRef: "CZ-2026-0001",
  agencyCode: "110101",
  billCode: "11010126",
  startNumber: "0000000001",
  endNumber: "0000001000",
  issuedAt: "2026-11-22T08:00:00.000Z",
};

describe("event catalog", () => {
  it("wraps event data in an envelope keyed by its aggregate", () => {
    const env = createEnvelope(SegmentIssued, issued, { producer: "finance-exchange" });
    expect(env).toMatchObject({ type: "finance.SegmentIssued", version: 1, key: "110101:11010126" });
    expect(decodeEvent(JSON.parse(JSON.stringify(env)))).toEqual(env);
  });

  it("refuses new event data that breaks its schema, naming the field", () => {
    expect(() =>
      createEnvelope(SegmentIssued, { ...issued, endNumber: "12" }, { producer: "test" }),
    ).toThrowError(/endNumber: a bill number is 10 digits/);
    expect(() =>
      createEnvelope(SegmentIssued, { ...issued, startNumber: "0000002000" }, { producer: "test" }),
    ).toThrowError(/endNumber: startNumber must not exceed endNumber/);
  });

  it("says an event type is unknown rather than guessing", () => {
    const env = { ...createEnvelope(SegmentIssued, issued, { producer: "t" }), type: "nobody.Knows" };
    expect(() => decodeEvent(env)).toThrowError(UnknownEventError);
  });

  it("refuses an envelope without the fields every event carries", () => {
    expect(() => decodeEvent({ type: "finance.SegmentIssued", data: issued })).toThrowError(EventSchemaError);
  });
});

describe("upcasting older versions on read", () => {
  // v1 carried the amount in yuan as a string; v2 in integer fen; v3 added the currency.
  const PaymentSeen = defineEvent({
    type: "test.PaymentSeen",
    topic: topics.payment,
    version: 3,
    schema: z.object({ paymentId: z.string(), amountFen: z.number().int(), currency: z.literal("CNY") }),
    partitionKey: (d) => d.paymentId,
    olderVersions: [
      olderVersion(1, z.object({ paymentId: z.string(), amount: z.string() }), (d) => ({
        paymentId: d.paymentId,
        amountFen: Math.round(Number(d.amount) * 100),
      })),
      olderVersion(2, z.object({ paymentId: z.string(), amountFen: z.number().int() }), (d) => ({
        ...d,
        currency: "CNY",
      })),
    ],
  });

  it("lifts v1 data through v2 to v3", () => {
    expect(readEventData(PaymentSeen, 1, { paymentId: "p1", amount: "12.30" })).toEqual({
      paymentId: "p1",
      amountFen: 1230,
      currency: "CNY",
    });
  });

  it("reads the latest version as it is", () => {
    const d = { paymentId: "p1", amountFen: 5, currency: "CNY" };
    expect(readEventData(PaymentSeen, 3, d)).toEqual(d);
  });

  it("validates old data against its own version's schema", () => {
    expect(() => readEventData(PaymentSeen, 1, { paymentId: "p1", amountFen: 5 })).toThrowError(
      /test.PaymentSeen v1: amount/,
    );
  });

  it("refuses a version newer than this build or one it never had", () => {
    expect(() => readEventData(PaymentSeen, 4, {})).toThrowError(/newer than this build knows/);
    expect(() => readEventData(SegmentIssued, 0, issued)).toThrowError(/unknown/);
  });

  it("refuses a history with gaps at definition time", () => {
    expect(() =>
      defineEvent({
        type: "test.Gappy",
        topic: topics.payment,
        version: 3,
        schema: z.object({}),
        partitionKey: () => "k",
        olderVersions: [olderVersion(1, z.object({}), (d) => d)],
      }),
    ).toThrowError(/without gaps/);
  });
});
