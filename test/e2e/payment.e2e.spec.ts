import { randomBytes, randomUUID } from "node:crypto";
import { businessClient } from "@piaoju/business-client";
import { type Envelope, topics } from "@piaoju/contracts";
import { gatewayService } from "@piaoju/gateway";
import { issuanceService } from "@piaoju/issuance";
import { paymentService } from "@piaoju/payment";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { stockService } from "@piaoju/stock";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { prepareAgency, succeeding } from "../support/agency.ts";
import {
  type AlipayRig,
  playSigningAndFinance,
  registerFineItems,
  startAlipayRig,
  startCallbackReceiver,
  until,
} from "../support/payment.ts";

const AGENCY = "230104";
const BILL = "23010426";
const CALLBACK_SECRET = "k".repeat(40);

/**
 * 处罚决定书扫码缴款, end to end on PostgreSQL and Kafka: the traffic police business system asks
 * for a payment on the signed business API; the payment service makes the notice and its payment
 * code and answers the QR URL for the decision; the payer scans and pays at the Alipay simulator
 * (the official SDK's protocol, RSA2 both ways); the notify (duplicated, lost, or late) completes
 * the payment once; issuance issues the receipt (即缴即开) — the signing gateway's and finance's
 * answers are played on the bus as those services send them — and the receipt comes back to the
 * police system as a signed callback.
 */
describe("payment to receipt, pushed back (cluster)", () => {
  let t: TestPlatform;
  let app: { appId: string; appSecret: string };
  let alipay: AlipayRig;
  let police: Awaited<ReturnType<typeof startCallbackReceiver>>;
  const payments: Envelope[] = [];
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    alipay = await startAlipayRig();
    police = await startCallbackReceiver(CALLBACK_SECRET, 2);
    t = await startTestPlatform({
      mode: "cluster",
      services: [stockService, issuanceService, gatewayService, paymentService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "ops.zhao", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_CHECK_CODE_KEY: randomBytes(16).toString("hex"),
        PIAOJU_PAYMENT_FIRST_QUERY_MS: "500",
        PIAOJU_PAYMENT_POLL_MS: "100",
        PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: "100",
      },
    });
    app = await prepareAgency(t, {
      agency: AGENCY,
      bill: BILL,
      startNumber: "0000500001",
      endNumber: "0000500200",
      points: [{ code: "JJ-01", name: "交警支队窗口", rule: { threshold: 5, batchSize: 50 } }],
      appPoints: ["JJ-01"],
    });
    const ok = succeeding(t);
    await registerFineItems(ok, AGENCY);
    await ok("PUT", "/v1/payment/channel-accounts/alipay", { agencyCode: AGENCY, ...alipay.account });
    // Plays the signing gateway and finance-exchange for every receipt issuance asks to sign.
    const play = await playSigningAndFinance(t.probe, AGENCY);
    const watch = await t.probe.subscribe({
      group: `watch-${randomUUID().slice(0, 8)}`,
      topics: [topics.payment],
      handler: async (m) => {
        payments.push(m.envelope);
      },
    });
    stops.push(
      () => play.stop(),
      () => watch.stop(),
    );
  });
  afterAll(async () => {
    for (const stop of stops) await stop();
    await t?.stop();
    await alipay?.sim.close();
    await police?.stop();
  });

  const signed: ReturnType<typeof businessClient> = (...args) =>
    businessClient({ baseUrl: t.platform.url, ...app })(...args);

  const cases = [
    { name: "duplicated notifies", mode: "duplicate" as const },
    { name: "a lost notify (settled by query)", mode: "drop" as const },
    { name: "a late notify (after the query settled it)", mode: "delay" as const },
  ];
  const tried = { duplicate: 0, drop: 0, delay: 0 };

  it.each(cases)(
    "police request → notice → Alipay → receipt ISSUED → pushed back, with $name",
    async ({ mode }) => {
      const target = await signed("PUT", "/api/v1/payments/callback-target", {
        url: police.url,
        secret: CALLBACK_SECRET,
      });
      expect(target.status, JSON.stringify(target.body)).toBe(200);

      const serial = `JJ-E2E-${mode}`;
      const created = await signed("POST", "/api/v1/payments", {
        bizSerialNo: serial,
        decisionNo: `230104${mode.length}000000123`,
        payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
        items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
        surcharge: { fineItemCode: "FK01", deadline: "2026-11-01", itemCode: "FK02" },
        issuingPointCode: "JJ-01",
        billCode: BILL,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id = String(created.body.id);
      const due = created.body.amountDue as { totalFen: number; surchargeFen: number };
      expect(due.surchargeFen).toBeGreaterThan(0);
      const qr = await signed("GET", `/api/v1/payments/${id}/qr-url`);
      expect(String(qr.body.qrUrl)).toMatch(/\/h5\/pay\/[A-Za-z0-9_-]{43}$/);
      expect(String(qr.body.qrUrl)).not.toContain(String(created.body.paymentCode));

      // The payer scans the decision's QR code; the cashier opens an Alipay order for today's amount.
      alipay.sim.faults.notify = mode;
      alipay.sim.faults.notifyDelayMs = 2_000;
      tried[mode]++;
      try {
        const order = await t.call("POST", `/v1/payments/${id}/orders`, {
          channel: "alipay",
          scene: "qr",
          expectedAmountFen: due.totalFen,
        });
        expect(order.status, JSON.stringify(order.body)).toBe(201);
        const orderId = String(order.body.orderId);
        await alipay.sim.pay(orderId);
        await until(async () => (await signed("GET", `/api/v1/payments/${id}`)).body.status === "PAID");
        if (mode === "drop") await alipay.sim.renotify(orderId); // it comes after all, late
        await alipay.sim.idle();
        // Every notify, however it came, was answered "success" (taken) and changed nothing more.
        expect(alipay.sim.trade(orderId)?.notifiesTaken).toBeGreaterThanOrEqual(mode === "duplicate" ? 3 : 1);
      } finally {
        alipay.sim.faults.notify = "deliver";
      }

      const pushed = await until(() => police.find("payment.receiptIssued", id), 60_000);
      const receipt = pushed.body.receipt as Record<string, unknown>;
      expect(receipt).toMatchObject({ totalFen: due.totalFen });
      expect(String(receipt.checkCode)).toMatch(/^\d{6}$/);
      const status = await signed("GET", `/api/v1/receipts/${String(receipt.receiptId)}/status`);
      expect(status.body.status).toBe("ISSUED");
      // The paid result and the receipt are pushed independently (each retried on its own).
      const paid = await until(() => police.find("payment.paid", id), 60_000);
      expect(paid.body).toMatchObject({
        // Serials are kept in capitals, as issuance keeps them (packages/contracts' rule).
        bizSerialNo: serial.toUpperCase(),
        paidFen: due.totalFen,
      });
      const found = await signed("GET", `/api/v1/receipts?bizSerialNo=${serial}`);
      expect((found.body.items as unknown[]).length).toBe(1);
      const view = await signed("GET", `/api/v1/payments/${id}`);
      expect(view.body.receipt).toMatchObject({ number: receipt.number });
    },
  );

  it("refuses a payment call signed with another secret, or at an issuing point the app may not use", async () => {
    const forged = await signed(
      "POST",
      "/api/v1/payments",
      { bizSerialNo: "JJ-FORGED", issuingPointCode: "JJ-01" },
      { secret: "not-the-app-secret-at-all" },
    );
    expect(forged.status).toBe(401);
    const elsewhere = await signed("POST", "/api/v1/payments", {
      bizSerialNo: "JJ-ELSEWHERE",
      payer: { type: 1, code: "11010519491231002X", name: "张三" },
      items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
      issuingPointCode: "JJ-99",
      billCode: BILL,
    });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.code).toBe("ISSUING_POINT_NOT_ALLOWED");
    const bad = await signed("POST", "/api/v1/payments", {
      bizSerialNo: "JJ-BAD",
      payer: { type: 1, code: "11010519491231002X", name: "张三" },
      items: [{ itemCode: "FK01", quantity: "1", amountFen: "200" }],
      issuingPointCode: "JJ-01",
      billCode: BILL,
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.issues)).toContain("body.items.0.amountFen");
    for (const serial of ["JJ-FORGED", "JJ-ELSEWHERE", "JJ-BAD"]) {
      expect((await signed("GET", `/api/v1/payments?bizSerialNo=${serial}`)).body.items).toEqual([]);
    }
  });

  it("completed no payment twice across every case", async () => {
    await new Promise((r) => setTimeout(r, 500));
    const completed = payments.filter((e) => e.type === "payment.PaymentCompleted");
    const byPayment = new Map<string, number>();
    for (const e of completed) {
      const pid = (e.data as { paymentId: string }).paymentId;
      byPayment.set(pid, (byPayment.get(pid) ?? 0) + 1);
    }
    expect(byPayment.size).toBe(cases.length);
    expect([...byPayment.values()].filter((n) => n > 1)).toEqual([]);
    expect(tried).toEqual({ duplicate: 1, drop: 1, delay: 1 });
    expect(police.badSignatures).toBe(0);
    console.log(
      `payment e2e: notify cases tried ${JSON.stringify(tried)}, payments completed ${byPayment.size}, double completions 0, callback tries ${police.tries}`,
    );
  });

  it("refunds by the original route in two parts: red-flushed and issued again for the rest, then red-flushed", async () => {
    const serial = "JJ-E2E-REFUND";
    const created = await signed("POST", "/api/v1/payments", {
      bizSerialNo: serial,
      decisionNo: "230104900000123",
      payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
      items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
      issuingPointCode: "JJ-01",
      billCode: BILL,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = String(created.body.id);
    const order = await t.call("POST", `/v1/payments/${id}/orders`, {
      channel: "alipay",
      scene: "qr",
      expectedAmountFen: 20000,
    });
    const orderId = String(order.body.orderId);
    await alipay.sim.pay(orderId);
    await until(() => police.find("payment.receiptIssued", id), 60_000);
    const receiptOf = async (s: string) => {
      const items = (await signed("GET", `/api/v1/receipts?bizSerialNo=${s}`)).body.items as Array<
        Record<string, unknown>
      >;
      return items[0];
    };
    const statusOf = async (s: string) => {
      const r = await receiptOf(s);
      return r ? (await signed("GET", `/api/v1/receipts/${String(r.id)}/status`)).body.status : undefined;
    };
    const refunded = (refundId: string) =>
      until(
        () =>
          [...police.received.values()].find(
            (p) => p.body.event === "payment.refunded" && p.body.refundId === refundId,
          ),
        60_000,
      );

    const over = await signed("POST", `/api/v1/payments/${id}/refunds`, {
      refundSerialNo: "TK-0",
      amountFen: 20001,
      reason: "撤销处罚决定",
    });
    expect(over.status).toBe(409);
    expect(over.body.code).toBe("REFUND_EXCEEDS_PAID");
    const first = await signed("POST", `/api/v1/payments/${id}/refunds`, {
      refundSerialNo: "TK-1",
      amountFen: 5000,
      reason: "变更处罚决定",
    });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect((await refunded(String(first.body.refundId))).body).toMatchObject({
      amountFen: 5000,
      remainingFen: 15000,
    });
    await until(async () => (await statusOf(serial)) === "RED_FLUSHED", 60_000);
    await until(async () => (await statusOf(`${serial}-R1`)) === "ISSUED", 60_000);
    expect(await receiptOf(`${serial}-R1`)).toMatchObject({ totalFen: 15000 });

    const rest = await signed("POST", `/api/v1/payments/${id}/refunds`, {
      refundSerialNo: "TK-2",
      amountFen: 15000,
      reason: "撤销处罚决定",
    });
    expect(rest.status, JSON.stringify(rest.body)).toBe(201);
    await refunded(String(rest.body.refundId));
    await until(async () => (await statusOf(`${serial}-R1`)) === "RED_FLUSHED", 60_000);
    expect(await receiptOf(`${serial}-R2`)).toBeUndefined();
    expect((await signed("GET", `/api/v1/payments/${id}`)).body.status).toBe("REFUNDED");
    const listed = (await signed("GET", `/api/v1/payments/${id}/refunds`)).body.items as Array<{
      status: string;
    }>;
    expect(listed.map((r) => r.status)).toEqual(["REFUNDED", "REFUNDED"]);
    const trade = alipay.sim.trade(orderId)!;
    expect([...trade.refunds.values()].map((r) => r.amount).sort()).toEqual(["150.00", "50.00"]);
    expect(trade.refundCalls).toBe(2);
  });
});
