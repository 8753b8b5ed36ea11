import { createTestDatabase, type TestDatabase } from "@piaoju/persistence/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NontaxNotice } from "./api.ts";
import { type AgencyClient, createAgencyClient } from "./client.ts";
import { isPaymentCode } from "./domain/payment-code.ts";
import { type FinanceSimulator, startFinanceSimulator } from "./simulator.ts";

const AGENCY = "230102";
const OTHER = "230103";

/** The non-tax system's side of collection: notices with payment codes, and the payment result. */
describe("finance simulator: non-tax notices (非税缴款书)", () => {
  let database: TestDatabase;
  let sim: FinanceSimulator;
  let agency: AgencyClient;
  let other: AgencyClient;

  beforeAll(async () => {
    database = await createTestDatabase({ prefix: "finsim_nontax" });
    sim = await startFinanceSimulator({ databaseUrl: database.url });
    await sim.admin.registerAgency(AGENCY, {
      name: "哈尔滨市交警支队",
      secret: "s".repeat(32),
      regionCode: "230100",
    });
    await sim.admin.registerAgency(OTHER, { name: "另一单位", secret: "o".repeat(32) });
    agency = createAgencyClient({ url: sim.url, agencyCode: AGENCY, secret: "s".repeat(32) });
    other = createAgencyClient({ url: sim.url, agencyCode: OTHER, secret: "o".repeat(32) });
  });
  afterAll(async () => {
    await sim?.close();
    await database?.drop();
  });

  const request = (bizSerialNo: string) => ({
    bizSerialNo,
    payerName: "张三",
    items: [{ itemCode: "FK01", amountFen: 20000 }],
  });

  it("makes a notice with a 20-digit payment code of the agency's region, once per serial", async () => {
    const first = await agency.post<NontaxNotice>("/fin/v1/nontax/notices", request("JJ-1"));
    expect(first.status).toBe(201);
    expect(first.body.paymentCode).toMatch(/^230100\d{14}$/);
    expect(isPaymentCode(first.body.paymentCode)).toBe(true);
    expect(first.body).toMatchObject({ status: "ISSUED", principalFen: 20000 });
    const again = await agency.post<NontaxNotice>("/fin/v1/nontax/notices", request("JJ-1"));
    expect(again.status).toBe(200);
    expect(again.body.paymentCode).toBe(first.body.paymentCode);
    const conflict = await agency.post("/fin/v1/nontax/notices", { ...request("JJ-1"), payerName: "李四" });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe("NOTICE_CONFLICT");
    const next = await agency.post<NontaxNotice>("/fin/v1/nontax/notices", request("JJ-2"));
    expect(next.body.paymentCode).not.toBe(first.body.paymentCode);
  });

  it("takes the payment once, refusing a wrong amount and a second payment with their codes", async () => {
    const { body: notice } = await agency.post<NontaxNotice>("/fin/v1/nontax/notices", request("JJ-3"));
    const path = `/fin/v1/nontax/notices/${notice.paymentCode}/payment`;
    const paid = {
      paidFen: 20600,
      surchargeFen: 600,
      paidAt: new Date().toISOString(),
      channel: "alipay",
      channelTradeNo: "T1",
    };
    const wrong = await agency.post(path, { ...paid, paidFen: 20000 });
    expect(wrong.status).toBe(409);
    expect(wrong.body.code).toBe("AMOUNT_MISMATCH");
    const ok = await agency.post<NontaxNotice>(path, paid);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      status: "PAID",
      paid: { paidFen: 20600, surchargeFen: 600, channelTradeNo: "T1" },
    });
    expect((await agency.post(path, paid)).status).toBe(200);
    const twice = await agency.post(path, { ...paid, channelTradeNo: "T2" });
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe("DUPLICATE_PAYMENT");
  });

  it("refuses a code with a wrong check digit, and keeps each agency to its own notices", async () => {
    const { body: notice } = await agency.post<NontaxNotice>("/fin/v1/nontax/notices", request("JJ-4"));
    const last = Number(notice.paymentCode[19]);
    const bad = `${notice.paymentCode.slice(0, 19)}${(last + 1) % 10}`;
    const refused = await agency.post(`/fin/v1/nontax/notices/${bad}/payment`, {
      paidFen: 20000,
      surchargeFen: 0,
      paidAt: new Date().toISOString(),
      channel: "alipay",
      channelTradeNo: "T9",
    });
    expect(refused.status).toBe(400);
    expect(refused.body.issues).toEqual([expect.objectContaining({ field: "params.paymentCode" })]);
    expect((await other.get(`/fin/v1/nontax/notices/${notice.paymentCode}`)).status).toBe(404);
    expect((await agency.get<NontaxNotice>(`/fin/v1/nontax/notices/${notice.paymentCode}`)).body.status).toBe(
      "ISSUED",
    );
  });

  it("takes refund applications (退付申请) of the paying trade within what was paid, and duplicates of another", async () => {
    const { body: notice } = await agency.post<NontaxNotice>("/fin/v1/nontax/notices", request("JJ-5"));
    const refunds = `/fin/v1/nontax/notices/${notice.paymentCode}/refunds`;
    const application = (refundId: string, amountFen: number, over: Record<string, unknown> = {}) => ({
      refundId,
      kind: "REFUND",
      channel: "alipay",
      channelTradeNo: "T5",
      amountFen,
      reason: "撤销处罚决定",
      ...over,
    });
    // Not paid yet: nothing to refund.
    const early = await agency.post(refunds, application("RF-1", 100));
    expect(early.status).toBe(409);
    expect(early.body.code).toBe("NOT_PAID_BY_TRADE");
    await agency.post(`/fin/v1/nontax/notices/${notice.paymentCode}/payment`, {
      paidFen: 20000,
      surchargeFen: 0,
      paidAt: new Date().toISOString(),
      channel: "alipay",
      channelTradeNo: "T5",
    });
    await sim.admin.setAutoApprove(false);
    try {
      const first = await agency.post(refunds, application("RF-1", 15000));
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ status: "PENDING", amountFen: 15000 });
      expect((await agency.post(refunds, application("RF-1", 15000))).status).toBe(200);
      const changed = await agency.post(refunds, application("RF-1", 14000));
      expect(changed.body.code).toBe("REFUND_CONFLICT");
      const over = await agency.post(refunds, application("RF-2", 5001));
      expect(over.status).toBe(409);
      expect(over.body.code).toBe("REFUND_EXCEEDS_PAID");
      // Reported refunded before it was approved: refused.
      const result = { channelRefundNo: "T5", refundedAt: new Date().toISOString() };
      const tooSoon = await agency.post("/fin/v1/nontax/refunds/RF-1/result", result);
      expect(tooSoon.body.code).toBe("REFUND_NOT_APPROVED");
      await sim.admin.rejectRefund("RF-1", "不予退付");
      // Rejected: its amount is free again.
      expect((await agency.post(refunds, application("RF-3", 20000))).status).toBe(201);
      await sim.admin.approveRefund("RF-3");
      expect((await agency.post("/fin/v1/nontax/refunds/RF-3/result", result)).body).toMatchObject({
        status: "REFUNDED",
      });
      expect((await agency.get("/fin/v1/nontax/refunds/RF-3")).body.status).toBe("REFUNDED");
      expect((await other.get("/fin/v1/nontax/refunds/RF-3")).status).toBe(404);
      // A duplicate is of another trade than the one that paid the notice.
      const notDup = await agency.post(refunds, application("RF-4", 20000, { kind: "DUPLICATE" }));
      expect(notDup.body.code).toBe("NOT_A_DUPLICATE");
      const dup = await agency.post(
        refunds,
        application("RF-5", 20000, { kind: "DUPLICATE", channelTradeNo: "T6" }),
      );
      expect(dup.status).toBe(201);
    } finally {
      await sim.admin.setAutoApprove(true);
    }
  });
});
