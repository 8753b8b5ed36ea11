import { randomBytes } from "node:crypto";
import type { Envelope } from "@piaoju/contracts";
import { decodeEvent } from "@piaoju/contracts";
import type { TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AlipayRig,
  startAlipayRig,
  startCallbackReceiver,
  startPaymentTestPlatform,
  until,
} from "../../../test/support/payment.ts";
import { isValidPaymentCode } from "./domain/payment-code.ts";

const AGENCY = "230101";
const APP = "police-platform";
const CALLBACK_SECRET = "c".repeat(40);

/**
 * The payment service through the whole frame, against the Alipay simulator on loopback speaking
 * Alipay's protocol through the official SDK: in cluster mode on PostgreSQL and Kafka, and embedded
 * on PGlite and the embedded bus. Notifies are duplicated, lost and late; a payment completes once.
 */
describe.each(["cluster", "embedded"] as const)("payment service (%s)", (mode) => {
  let t: TestPlatform;
  let alipay: AlipayRig;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;
  const events: Envelope[] = [];
  let stopWatch = async () => {};
  let serial = 0;

  beforeAll(async () => {
    alipay = await startAlipayRig();
    receiver = await startCallbackReceiver(CALLBACK_SECRET, 1);
    const started = await startPaymentTestPlatform({
      mode,
      agencyCode: AGENCY,
      events,
      callbacks: { appId: APP, url: receiver.url, secret: CALLBACK_SECRET },
      env: {
        PIAOJU_PAYMENT_FIRST_QUERY_MS: "400",
        PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS: "1500",
        PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: "100",
      },
    });
    t = started.t;
    stopWatch = started.stop;
    const account = await t.call("PUT", "/v1/payment/channel-accounts/alipay", {
      agencyCode: AGENCY,
      ...alipay.account,
    });
    expect(account.status, JSON.stringify(account.body)).toBe(200);
    expect(JSON.stringify(account.body)).not.toContain("PRIVATE KEY");
  });
  afterAll(async () => {
    await stopWatch();
    await alipay?.sim.close();
    await receiver?.stop();
  });

  const asApp = { "x-piaoju-actor": `app:${APP}`, "x-piaoju-agencies": AGENCY };
  const request = (over: Record<string, unknown> = {}) => ({
    agencyCode: AGENCY,
    bizSerialNo: `JJ-${mode}-${++serial}`,
    decisionNo: `2301011000${String(serial).padStart(6, "0")}`,
    payer: { type: 1, code: "230102199003077778", name: "王五", phone: "13800138000" },
    items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
    issuingPointCode: "JJ-01",
    billCode: "23010126",
    ...over,
  });
  const create = async (over: Record<string, unknown> = {}) => {
    const res = await t.call("POST", "/v1/payments", request(over), asApp);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as Record<string, unknown> & { id: string; amountDue: { totalFen: number } };
  };
  const open = async (id: string, totalFen: number, scene: "qr" | "wap" = "qr") => {
    const res = await t.call("POST", `/v1/payments/${id}/orders`, {
      channel: "alipay",
      scene,
      expectedAmountFen: totalFen,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { orderId: string; payTarget: string; amountFen: number };
  };
  const statusOf = async (id: string) => (await t.call("GET", `/v1/payments/${id}`)).body;
  const completions = (paymentId: string) =>
    events.filter(
      (e) =>
        e.type === "payment.PaymentCompleted" && (e.data as { paymentId: string }).paymentId === paymentId,
    );

  it("makes a notice with a valid 20-digit payment code, once per business serial", async () => {
    const body = request();
    const first = await t.call("POST", "/v1/payments", body, asApp);
    expect(first.status).toBe(201);
    expect(isValidPaymentCode(String(first.body.paymentCode))).toBe(true);
    expect(first.body).toMatchObject({
      status: "CREATED",
      payerName: "王五",
      amountDue: { totalFen: 20000 },
    });
    // The cashier's URL names the payment by an unguessable token: neither its id nor its code.
    const qrUrl = String(first.body.qrUrl);
    expect(qrUrl).toMatch(/\/h5\/pay\/[A-Za-z0-9_-]{43}$/);
    expect(qrUrl).not.toContain(String(first.body.paymentCode));
    expect(qrUrl).not.toContain(String(first.body.id));
    const again = await t.call("POST", "/v1/payments", body, asApp);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const reused = await t.call(
      "POST",
      "/v1/payments",
      { ...body, items: [{ itemCode: "FK01", quantity: "1", amountFen: 1 }] },
      asApp,
    );
    expect(reused.status).toBe(409);
    expect(reused.body.code).toBe("BIZ_SERIAL_REUSED");
    await until(() =>
      events.some(
        (e) =>
          e.type === "payment.NoticeCreated" && (e.data as { paymentId: string }).paymentId === first.body.id,
      ),
    );
  });

  it("refuses bad input naming the field, and a caller outside the agency, changing nothing", async () => {
    const bad = await t.call(
      "POST",
      "/v1/payments",
      request({ items: [{ itemCode: "FK01", quantity: "1", amountFen: -5 }] }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.issues?.map((i) => i.field)).toContain("body.items.0.amountFen");
    const badCode = await t.call("GET", "/v1/payments/by-code/23010026000000000010");
    expect([400, 404]).toContain(badCode.status);
    const outside = await t.call("POST", "/v1/payments", request({ agencyCode: "110101" }));
    expect(outside.status).toBe(403);
    const found = await t.call("GET", `/v1/payments?agencyCode=${AGENCY}&bizSerialNo=JJ-${mode}-${serial}`);
    expect(found.body.items).toEqual([]);
  });

  it("refuses an order for yesterday's amount once the surcharge grew (AMOUNT_DUE_CHANGED)", async () => {
    const p = await create({
      items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
      surcharge: { fineItemCode: "FK01", deadline: "2026-01-01", itemCode: "FK02" },
    });
    expect(p.amountDue).toMatchObject({ surchargeFen: 20000, totalFen: 40000 });
    const stale = await t.call("POST", `/v1/payments/${p.id}/orders`, {
      channel: "alipay",
      scene: "qr",
      expectedAmountFen: 20000,
    });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe("AMOUNT_DUE_CHANGED");
    // Paid at today's amount: the receipt's lines carry the surcharge as its own item.
    const order = await open(p.id, 40000);
    await alipay.sim.pay(order.orderId);
    await until(async () => (await statusOf(p.id)).status === "PAID");
    const completed = await until(() => completions(p.id)[0]);
    const data = decodeEvent(completed).data as {
      items: unknown[];
      settlement: Record<string, unknown>;
      totalFen: number;
    };
    expect(data.totalFen).toBe(40000);
    expect(data.items).toContainEqual({ itemCode: "FK02", quantity: "1", amountFen: 20000 });
    expect(data.settlement).toMatchObject({
      fineFen: 20000,
      surchargeFen: 20000,
      paidFen: 40000,
      orderId: order.orderId,
    });
  });

  it("completes once under duplicated notifies, and pushes the result signed, retried, once", async () => {
    alipay.sim.faults.notify = "duplicate";
    try {
      const p = await create();
      const order = await open(p.id, 20000);
      expect(order.payTarget).toContain("/qr/");
      await alipay.sim.pay(order.orderId);
      await until(async () => (await statusOf(p.id)).status === "PAID");
      await alipay.sim.idle();
      await alipay.sim.renotify(order.orderId);
      await alipay.sim.idle();
      expect(alipay.sim.trade(order.orderId)?.notifiesTaken).toBeGreaterThanOrEqual(3);
      const pushed = await until(() => receiver.find("payment.paid", p.id));
      expect(pushed.body).toMatchObject({ paidFen: 20000, channel: "alipay", bizSerialNo: p.bizSerialNo });
      await new Promise((r) => setTimeout(r, 300));
      expect(completions(p.id)).toHaveLength(1);
      expect(
        [...receiver.received.values()].filter(
          (x) => x.body.event === "payment.paid" && x.body.paymentId === p.id,
        ),
      ).toHaveLength(1);
    } finally {
      alipay.sim.faults.notify = "deliver";
    }
  });

  it("settles by query when the notify is lost, and takes a late notify as a no-op", async () => {
    alipay.sim.faults.notify = "drop";
    try {
      const p = await create();
      const order = await open(p.id, 20000);
      await alipay.sim.pay(order.orderId);
      expect(alipay.sim.trade(order.orderId)?.notifiesSent).toBe(0);
      await until(async () => (await statusOf(p.id)).status === "PAID");
      // The notify that was lost arrives after all.
      await alipay.sim.renotify(order.orderId);
      await alipay.sim.idle();
      expect(alipay.sim.trade(order.orderId)?.notifiesTaken).toBe(1);
      await new Promise((r) => setTimeout(r, 200));
      expect(completions(p.id)).toHaveLength(1);
    } finally {
      alipay.sim.faults.notify = "deliver";
    }
  });

  it("refuses a forged notify before reading any payment, and changes nothing", async () => {
    const p = await create();
    const order = await open(p.id, 20000);
    const forged = new URLSearchParams({
      app_id: alipay.account.accountId,
      out_trade_no: order.orderId,
      trade_no: "2026000000000001",
      trade_status: "TRADE_SUCCESS",
      total_amount: "200.00",
      sign_type: "RSA2",
      sign: randomBytes(256).toString("base64"),
    });
    const notifies = async () =>
      (
        (await t.platform.databases
          .get("payment")!
          .query("SELECT count(*)::int AS n FROM channel_notify")) as Array<{ n: number }>
      )[0]!.n;
    const before = await notifies();
    const res = await fetch(`${t.platform.url}/v1/payment/notify/alipay`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: forged.toString(),
    });
    expect(await res.text()).toBe("failure");
    expect((await statusOf(p.id)).status).toBe("PAYING");
    // Not even a row of the notify log: its sender is unknown.
    expect(await notifies()).toBe(before);
  });

  it("pays on the H5 (WAP) page the SDK signed for", async () => {
    const p = await create();
    const order = await open(p.id, 20000, "wap");
    const page = await fetch(order.payTarget);
    const html = await page.text();
    expect(html).toContain("确认付款");
    expect(html).toContain("200.00");
    const paid = await fetch(`${alipay.sim.url}/sim/pay/${order.orderId}`, { method: "POST" });
    expect(paid.status).toBe(200);
    await until(async () => (await statusOf(p.id)).status === "PAID");
    expect(alipay.sim.badSignatures).toBe(0);
  });

  it("closes a payment at the channel; money taken after the close is held, never a completion", async () => {
    const p = await create();
    const order = await open(p.id, 20000);
    const closed = await t.call("POST", `/v1/payments/${p.id}/close`, { reason: "当事人已现场缴纳" }, asApp);
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body.status).toBe("CLOSED");
    await expect(alipay.sim.pay(order.orderId)).rejects.toThrow(/closed/);
    await alipay.sim.payDespiteClose(order.orderId);
    await alipay.sim.idle();
    await until(() =>
      events.find(
        (e) =>
          e.type === "payment.PaymentAnomalyRecorded" &&
          (e.data as { orderId: string }).orderId === order.orderId,
      ),
    );
    expect((await statusOf(p.id)).status).toBe("CLOSED");
    expect(completions(p.id)).toHaveLength(0);
    await until(() => receiver.find("payment.closed", p.id));
  });

  it("answers a channel time-out with 503 CHANNEL_UNAVAILABLE, and settles the order by query later", async () => {
    const p = await create();
    alipay.sim.faults.stallMs = 2500;
    alipay.sim.faults.stallMethods = new Set(["alipay.trade.precreate"]);
    try {
      const res = await t.call("POST", `/v1/payments/${p.id}/orders`, {
        channel: "alipay",
        scene: "qr",
        expectedAmountFen: 20000,
      });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe("CHANNEL_UNAVAILABLE");
    } finally {
      alipay.sim.faults.stallMs = 0;
      alipay.sim.faults.stallMethods = new Set();
    }
    // The precreate reached Alipay after all (only its answer was lost): the payer pays it, no
    // notify comes, and the settler's query finds the payment.
    const orders = (await t.call("GET", `/v1/payments/${p.id}/orders`)).body.items as Array<{
      orderId: string;
      status: string;
    }>;
    expect(orders.map((o) => o.status)).toEqual(["OPEN"]);
    const orderId = orders[0]!.orderId;
    await until(() => alipay.sim.trade(orderId));
    alipay.sim.faults.notify = "drop";
    try {
      await alipay.sim.pay(orderId);
      await until(async () => (await statusOf(p.id)).status === "PAID");
      // The event reaches the watcher through the outbox and the bus a moment after the commit.
      await until(() => completions(p.id).length > 0);
      expect(completions(p.id)).toHaveLength(1);
    } finally {
      alipay.sim.faults.notify = "deliver";
    }
  });
});
