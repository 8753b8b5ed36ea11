import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { Envelope } from "@piaoju/contracts";
import { decodeEvent } from "@piaoju/contracts";
import { openDatabase } from "@piaoju/persistence";
import type { TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startCallbackReceiver,
  startPaymentTestPlatform,
  startWechatRig,
  until,
  type WechatRig,
} from "../../../test/support/payment.ts";

const AGENCY = "230101";
const APP = "police-platform";
const CALLBACK_SECRET = "w".repeat(40);

/**
 * The payment service's WeChat Pay API v3 channel through the whole frame, against the WeChat Pay
 * simulator on loopback: requests signed by the SDK (wechatpay-axios-plugin) and checked by the
 * simulator's own node:crypto code, answers and notifies signed with the platform key made at
 * start, notify resources AEAD_AES_256_GCM-encrypted with the APIv3 key made here. Both modes.
 */
describe.each(["cluster", "embedded"] as const)("payment service, WeChat Pay (%s)", (mode) => {
  let t: TestPlatform;
  let wechat: WechatRig;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;
  const events: Envelope[] = [];
  let stopWatch = async () => {};
  let serial = 0;

  beforeAll(async () => {
    wechat = await startWechatRig();
    receiver = await startCallbackReceiver(CALLBACK_SECRET);
    const started = await startPaymentTestPlatform({
      mode,
      agencyCode: AGENCY,
      events,
      callbacks: { appId: APP, url: receiver.url, secret: CALLBACK_SECRET },
      env: {
        PIAOJU_PAYMENT_FIRST_QUERY_MS: "400",
        PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS: "1500",
        PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: "100",
        PIAOJU_PAYMENT_REFUND_RETRY_MS: "100",
      },
    });
    t = started.t;
    stopWatch = started.stop;
    const account = await t.call("PUT", "/v1/payment/channel-accounts/wechat", {
      agencyCode: AGENCY,
      ...wechat.account,
    });
    expect(account.status, JSON.stringify(account.body)).toBe(200);
    const shown = JSON.stringify(account.body);
    expect(shown).not.toContain("PRIVATE KEY");
    expect(shown).not.toContain(wechat.apiV3Key);
    expect(account.body.fields).toEqual([
      "apiV3Key",
      "appId",
      "baseUrl",
      "platformPublicKey",
      "platformSerial",
      "privateKey",
      "serialNo",
    ]);
  });
  afterAll(async () => {
    await stopWatch();
    await wechat?.sim.close();
    await receiver?.stop();
  });

  const asApp = { "x-piaoju-actor": `app:${APP}`, "x-piaoju-agencies": AGENCY };
  const create = async () => {
    serial++;
    const res = await t.call(
      "POST",
      "/v1/payments",
      {
        agencyCode: AGENCY,
        bizSerialNo: `WX-${mode}-${serial}-${randomBytes(3).toString("hex")}`,
        decisionNo: `2301012000${String(serial).padStart(6, "0")}`,
        payer: { type: 1, code: "230102199003077778", name: "王五", phone: "13800138000" },
        items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
        issuingPointCode: "JJ-01",
        billCode: "23010126",
      },
      asApp,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as Record<string, unknown> & { id: string; bizSerialNo: string };
  };
  const open = async (id: string, scene: "qr" | "wap" = "qr") => {
    const res = await t.call("POST", `/v1/payments/${id}/orders`, {
      channel: "wechat",
      scene,
      expectedAmountFen: 20000,
      ...(scene === "wap" ? { payerIp: "203.0.113.7" } : {}),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { orderId: string; payTarget: string; amountFen: number };
  };
  const statusOf = async (id: string) => (await t.call("GET", `/v1/payments/${id}`)).body.status;
  const completions = (paymentId: string) =>
    events.filter(
      (e) =>
        e.type === "payment.PaymentCompleted" && (e.data as { paymentId: string }).paymentId === paymentId,
    );
  const refundsOf = async (id: string) =>
    (await t.call("GET", `/v1/payments/${id}/refunds`)).body.items as Array<{
      refundId: string;
      status: string;
      kind: string;
      amountFen: number;
      channelTradeNo: string;
    }>;
  const cleanOrders: string[] = [];

  it("pays a Native order: code_url, the payer pays, the encrypted notify completes it once", async () => {
    const p = await create();
    const order = await open(p.id);
    expect(order.payTarget).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    const trade = wechat.sim.trade(order.orderId);
    expect(trade).toMatchObject({ total: 20000, tradeType: "NATIVE", state: "NOTPAY" });
    // The notify URL names the merchant: the notify carries it only inside the ciphertext.
    expect(trade?.notifyUrl).toMatch(new RegExp(`/v1/payment/notify/wechat/${wechat.account.accountId}$`));
    await wechat.sim.pay(order.orderId);
    await until(async () => (await statusOf(p.id)) === "PAID");
    await wechat.sim.idle();
    expect(wechat.sim.trade(order.orderId)?.notifiesTaken).toBe(1);
    const completed = await until(() => completions(p.id)[0]);
    const data = decodeEvent(completed).data as { channel: string; settlement: Record<string, unknown> };
    expect(data.channel).toBe("wechat");
    expect(data.settlement).toMatchObject({
      orderId: order.orderId,
      channelTradeNo: trade?.transactionId,
      paidFen: 20000,
      channelAccount: wechat.account.accountId,
    });
    const pushed = await until(() => receiver.find("payment.paid", p.id));
    expect(pushed.body).toMatchObject({
      paidFen: 20000,
      channel: "wechat",
      channelTradeNo: trade?.transactionId,
    });
    expect(wechat.sim.badSignatures).toBe(0);
    cleanOrders.push(order.orderId);
  });

  it.runIf(mode === "cluster")(
    "keeps the merchant's keys and the APIv3 key sealed at rest, and audits field names only",
    async () => {
      const url = new URL(t.env.PIAOJU_DATABASE_URL ?? "");
      url.pathname = `/${t.env.PIAOJU_DATABASE_PREFIX}payment`;
      const db = await openDatabase({ kind: "postgres", url: url.toString() });
      try {
        const rows = await db.query<{ account_id: string; sealed: Uint8Array }>(
          "SELECT account_id, sealed FROM channel_account WHERE channel = 'wechat'",
        );
        expect(rows.map((r) => r.account_id)).toEqual([wechat.account.accountId]);
        expect(Buffer.isBuffer(rows[0]?.sealed)).toBe(true);
        const stored = Buffer.from(rows[0]?.sealed ?? []);
        // The whole config is in there (about 2.5 kB of PEM and keys), only not readable.
        expect(stored.length).toBeGreaterThan(2000);
        const keyBody = wechat.privateKey.split("\n")[1] ?? "";
        expect(keyBody.length).toBeGreaterThan(40);
        for (const secret of [wechat.apiV3Key, keyBody, "PRIVATE KEY", wechat.account.config.serialNo]) {
          expect(stored.includes(Buffer.from(secret)), secret.slice(0, 12)).toBe(false);
        }
        const audits = await db.query<{ detail: unknown }>(
          "SELECT detail FROM audit_log WHERE action = 'channel-account.set' AND subject LIKE '%:wechat'",
        );
        expect(audits.length).toBeGreaterThan(0);
        const text = JSON.stringify(audits);
        expect(text).not.toContain(wechat.apiV3Key);
        expect(text).not.toContain(keyBody);
      } finally {
        await db.close();
      }
    },
  );

  it("refuses a forged or tampered notify with 4xx {code,message}, and changes nothing", async () => {
    const p = await create();
    const order = await open(p.id);
    for (const tamper of ["signature", "body", "key", "serial", "stale"] as const) {
      const res = await wechat.sim.notifyOnce(order.orderId, { tamper });
      expect(res.status, tamper).toBeGreaterThanOrEqual(400);
      expect(res.status, tamper).toBeLessThan(600);
      expect(JSON.parse(res.body), tamper).toMatchObject({ code: "FAIL", message: expect.any(String) });
    }
    // Signed and encrypted rightly, for an order this merchant never opened.
    const unknown = await wechat.sim.notifyOnce(order.orderId, { outTradeNo: `P20990101${"0".repeat(20)}` });
    expect(unknown.status).toBe(401);
    // A notify to another merchant's URL is verified with that merchant's keys: none here.
    const body = JSON.stringify({ id: "x", event_type: "TRANSACTION.SUCCESS", resource: {} });
    const stray = await fetch(`${t.platform.url}/v1/payment/notify/wechat/1900000999`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(stray.status).toBe(401);
    expect(await statusOf(p.id)).toBe("PAYING");
    expect(completions(p.id)).toHaveLength(0);
    expect(wechat.sim.trade(order.orderId)?.notifiesTaken).toBe(0);
  });

  it("holds a rightly signed notify for another amount (AMOUNT_MISMATCH), never a completion", async () => {
    const p = await create();
    const order = await open(p.id);
    const res = await wechat.sim.notifyOnce(order.orderId, { amountTotal: 1 });
    // Taken (WeChat Pay must stop sending it), and held for a person: the order is not paid here.
    expect(res.status).toBe(204);
    const anomaly = await until(() =>
      events.find(
        (e) =>
          e.type === "payment.PaymentAnomalyRecorded" &&
          (e.data as { orderId: string }).orderId === order.orderId,
      ),
    );
    expect(anomaly.data).toMatchObject({ kind: "AMOUNT_MISMATCH", amountFen: 1, channel: "wechat" });
    expect(await statusOf(p.id)).not.toBe("PAID");
    expect(completions(p.id)).toHaveLength(0);
  });

  it("completes once under duplicated and repeated notifies", async () => {
    wechat.sim.faults.notify = "duplicate";
    try {
      const p = await create();
      const order = await open(p.id);
      await wechat.sim.pay(order.orderId);
      await until(async () => (await statusOf(p.id)) === "PAID");
      await wechat.sim.idle();
      await wechat.sim.renotify(order.orderId);
      await wechat.sim.idle();
      expect(wechat.sim.trade(order.orderId)?.notifiesTaken).toBeGreaterThanOrEqual(4);
      await until(() => completions(p.id).length > 0);
      await new Promise((r) => setTimeout(r, 300));
      expect(completions(p.id)).toHaveLength(1);
      await until(() => receiver.find("payment.paid", p.id));
      expect(
        [...receiver.received.values()].filter(
          (x) => x.body.event === "payment.paid" && x.body.paymentId === p.id,
        ),
      ).toHaveLength(1);
      cleanOrders.push(order.orderId);
    } finally {
      wechat.sim.faults.notify = "deliver";
    }
  });

  it("settles by query when the notify is lost, and takes the late notify as a no-op", async () => {
    wechat.sim.faults.notify = "drop";
    try {
      const p = await create();
      const order = await open(p.id);
      await wechat.sim.pay(order.orderId);
      expect(wechat.sim.trade(order.orderId)?.notifiesSent).toBe(0);
      await until(async () => (await statusOf(p.id)) === "PAID");
      await wechat.sim.renotify(order.orderId);
      await wechat.sim.idle();
      expect(wechat.sim.trade(order.orderId)?.notifiesTaken).toBe(1);
      await until(() => completions(p.id).length > 0);
      await new Promise((r) => setTimeout(r, 200));
      expect(completions(p.id)).toHaveLength(1);
      cleanOrders.push(order.orderId);
    } finally {
      wechat.sim.faults.notify = "deliver";
    }
  });

  it("pays an H5 order on the page h5_url opens", async () => {
    const p = await create();
    const order = await open(p.id, "wap");
    expect(order.payTarget).toContain("/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx");
    expect(wechat.sim.trade(order.orderId)).toMatchObject({
      tradeType: "MWEB",
      payerClientIp: "203.0.113.7",
    });
    // Without the payer's address WeChat Pay cannot take an H5 order: refused here, nothing opened.
    const p2 = await create();
    const bare = await t.call("POST", `/v1/payments/${p2.id}/orders`, {
      channel: "wechat",
      scene: "wap",
      expectedAmountFen: 20000,
    });
    expect(bare.status).toBe(400);
    expect(bare.body.issues?.map((i) => i.field)).toContain("body.payerIp");
    expect((await t.call("GET", `/v1/payments/${p2.id}/orders`)).body.items).toEqual([]);
    const html = await (await fetch(order.payTarget)).text();
    expect(html).toContain("确认支付");
    expect(html).toContain("200.00");
    const action = /action="([^"]+)"/.exec(html)?.[1]?.replaceAll("&#38;", "&");
    const paid = await fetch(`${wechat.sim.url}${action}`, { method: "POST" });
    expect(paid.status).toBe(200);
    await until(async () => (await statusOf(p.id)) === "PAID");
    cleanOrders.push(order.orderId);
  });

  it("closes at WeChat Pay; money taken after the close is held and sent back by the original route", async () => {
    const p = await create();
    const order = await open(p.id);
    const closed = await t.call("POST", `/v1/payments/${p.id}/close`, { reason: "当事人已现场缴纳" }, asApp);
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body.status).toBe("CLOSED");
    await until(() => wechat.sim.trade(order.orderId)?.state === "CLOSED");
    await expect(wechat.sim.pay(order.orderId)).rejects.toThrow(/closed/);
    await wechat.sim.payDespiteClose(order.orderId);
    await wechat.sim.idle();
    await until(() =>
      events.find(
        (e) =>
          e.type === "payment.PaymentAnomalyRecorded" &&
          (e.data as { orderId: string; kind: string }).orderId === order.orderId &&
          (e.data as { kind: string }).kind === "PAID_AFTER_CLOSE",
      ),
    );
    expect(await statusOf(p.id)).toBe("CLOSED");
    expect(completions(p.id)).toHaveLength(0);
    // 重复缴款自动退付: the whole of it, to WeChat Pay, under the refund's id.
    const refund = await until(async () => (await refundsOf(p.id)).find((r) => r.status === "REFUNDED"));
    expect(refund).toMatchObject({ kind: "DUPLICATE", amountFen: 20000 });
    expect(wechat.sim.trade(order.orderId)?.refunds.get(refund.refundId)?.amount).toBe(20000);
  });

  it("refunds a part by the original route: PROCESSING, then asked, never sent twice", async () => {
    wechat.sim.faults.refundProcessingMs = 600;
    try {
      const p = await create();
      const order = await open(p.id);
      await wechat.sim.pay(order.orderId);
      await until(async () => (await statusOf(p.id)) === "PAID");
      const asked = await t.call(
        "POST",
        `/v1/payments/${p.id}/refunds`,
        { refundSerialNo: `R-${p.bizSerialNo}`, amountFen: 5000, reason: "部分撤销" },
        asApp,
      );
      expect(asked.status, JSON.stringify(asked.body)).toBe(201);
      const done = await until(async () => (await refundsOf(p.id)).find((r) => r.status === "REFUNDED"));
      const trade = wechat.sim.trade(order.orderId);
      const atWechat = trade?.refunds.get(done.refundId);
      expect(atWechat?.amount).toBe(5000);
      expect(done.amountFen).toBe(5000);
      // The first answer was PROCESSING: the refunder asked until SUCCESS, and sent it once.
      expect(trade?.refundCalls).toBe(1);
      expect(trade?.state).toBe("REFUND");
      await until(() =>
        events.find(
          (e) => e.type === "payment.RefundCompleted" && (e.data as { paymentId: string }).paymentId === p.id,
        ),
      );
      cleanOrders.push(order.orderId);
    } finally {
      wechat.sim.faults.refundProcessingMs = 150;
    }
  });

  // 退款结果通知: WeChat Pay posts the refund's end to the notify_url the refund request named.
  const notifyOutcomes = async (orderId: string) =>
    (
      await t.platform.databases
        .get("payment")!
        .query<{ outcome: string }>(
          "SELECT outcome FROM channel_notify WHERE order_id = $1 AND outcome LIKE 'REFUND%' ORDER BY id",
          [orderId],
        )
    ).map((r) => r.outcome);
  const ofPayment = (type: string, paymentId: string) =>
    events.filter((e) => e.type === type && (e.data as { paymentId: string }).paymentId === paymentId);
  const paidOrder = async () => {
    const p = await create();
    const order = await open(p.id);
    await wechat.sim.pay(order.orderId);
    await until(async () => (await statusOf(p.id)) === "PAID");
    return { p, order };
  };
  const askRefund = async (p: { id: string; bizSerialNo: string }, amountFen: number, tag: string) => {
    const asked = await t.call(
      "POST",
      `/v1/payments/${p.id}/refunds`,
      { refundSerialNo: `${tag}-${p.bizSerialNo}`, amountFen, reason: "撤销处罚决定" },
      asApp,
    );
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    return String(asked.body.refundId);
  };
  /** The refund query (GET …/refunds/{out_refund_no}) held past the channel time-out: no answer. */
  const stallRefundQueries = () => {
    wechat.sim.faults.stallMs = 3_000;
    wechat.sim.faults.stallPaths.add("/v3/refund/domestic/refunds/");
  };
  const resetRefundFaults = () => {
    wechat.sim.faults.stallMs = 0;
    wechat.sim.faults.stallPaths.clear();
    wechat.sim.faults.refundProcessingMs = 150;
    wechat.sim.faults.refundResult = "SUCCESS";
    wechat.sim.faults.refundNotify = "deliver";
  };

  it("settles a refund by its REFUND.SUCCESS notify while the query cannot answer; duplicates change nothing", async () => {
    stallRefundQueries();
    wechat.sim.faults.refundProcessingMs = 300;
    wechat.sim.faults.refundNotify = "duplicate";
    try {
      const { p, order } = await paidOrder();
      const refundId = await askRefund(p, 20000, "RN");
      const done = await until(async () => (await refundsOf(p.id)).find((r) => r.status === "REFUNDED"));
      expect(done).toMatchObject({ refundId, amountFen: 20000 });
      await wechat.sim.idle();
      await wechat.sim.renotifyRefund(refundId);
      await wechat.sim.idle();
      const atWechat = wechat.sim.refund(refundId)!;
      // The notify_url names the merchant (its notify carries it only inside the ciphertext).
      expect(atWechat.refund.notifyUrl).toBe(
        `${t.platform.url}/v1/payment/notify/wechat/${wechat.account.accountId}`,
      );
      expect(atWechat.refund.notifiesTaken).toBe(4);
      expect(atWechat.trade.refundCalls).toBe(1);
      // One notify settled it; the three others found it settled.
      expect((await notifyOutcomes(order.orderId)).sort()).toEqual([
        "REFUNDED",
        "REFUND_NOTIFY_SETTLED",
        "REFUND_NOTIFY_SETTLED",
        "REFUND_NOTIFY_SETTLED",
      ]);
      // The query answers again: the refunder has nothing SENT left to ask about.
      resetRefundFaults();
      await new Promise((r) => setTimeout(r, 500));
      expect(ofPayment("payment.RefundCompleted", p.id)).toHaveLength(1);
      expect(await statusOf(p.id)).toBe("REFUNDED");
      await until(() =>
        [...receiver.received.values()].find(
          (x) => x.body.event === "payment.refunded" && x.body.refundId === refundId,
        ),
      );
      expect(
        [...receiver.received.values()].filter(
          (x) => x.body.event === "payment.refunded" && x.body.refundId === refundId,
        ),
      ).toHaveLength(1);
      cleanOrders.push(order.orderId);
    } finally {
      resetRefundFaults();
    }
  });

  it("refuses forged refund notifies, holds one for another amount, and settles by query when the notify is lost", async () => {
    stallRefundQueries();
    wechat.sim.faults.refundNotify = "drop";
    try {
      const { p, order } = await paidOrder();
      const refundId = await askRefund(p, 5000, "RF");
      await until(() => wechat.sim.refund(refundId));
      await until(async () => (await refundsOf(p.id)).find((r) => r.status === "SENT"));
      for (const tamper of ["signature", "body", "key", "serial", "stale"] as const) {
        const res = await wechat.sim.refundNotifyOnce(refundId, { tamper });
        expect(res.status, tamper).toBe(401);
        expect(JSON.parse(res.body), tamper).toMatchObject({ code: "FAIL", message: expect.any(String) });
      }
      // Rightly signed and encrypted, for another amount: taken, held, nothing settled.
      const other = await wechat.sim.refundNotifyOnce(refundId, { amountRefund: 4999 });
      expect(other.status).toBe(204);
      const [held] = await refundsOf(p.id);
      expect(held).toMatchObject({ status: "SENT", lastError: expect.stringContaining("4999") });
      // Forgeries leave no row; the held one is recorded.
      expect(await notifyOutcomes(order.orderId)).toEqual(["REFUND_AMOUNT_MISMATCH"]);
      expect(ofPayment("payment.RefundCompleted", p.id)).toHaveLength(0);
      expect(await statusOf(p.id)).toBe("REFUNDING");
      // The notify never comes; once the query answers, it settles the refund.
      resetRefundFaults();
      await until(async () => (await refundsOf(p.id)).find((r) => r.status === "REFUNDED"), 30_000);
      // The notify, late after all: taken, a no-op.
      const late = await wechat.sim.refundNotifyOnce(refundId);
      expect(late.status).toBe(204);
      expect(await notifyOutcomes(order.orderId)).toEqual([
        "REFUND_AMOUNT_MISMATCH",
        "REFUND_NOTIFY_SETTLED",
      ]);
      expect(ofPayment("payment.RefundCompleted", p.id)).toHaveLength(1);
      expect(wechat.sim.trade(order.orderId)?.refundCalls).toBe(1);
      expect(await statusOf(p.id)).toBe("PAID");
      cleanOrders.push(order.orderId);
    } finally {
      resetRefundFaults();
    }
  });

  it("frees the amount on REFUND.CLOSED (FAILED, the caller told) and leaves REFUND.ABNORMAL sent, noted", async () => {
    stallRefundQueries();
    try {
      wechat.sim.faults.refundResult = "ABNORMAL";
      const stuck = await paidOrder();
      const stuckId = await askRefund(stuck.p, 20000, "RA");
      await until(async () => (await notifyOutcomes(stuck.order.orderId)).includes("REFUND_ABNORMAL"));
      expect((await refundsOf(stuck.p.id))[0]).toMatchObject({
        status: "SENT",
        lastError: expect.stringContaining("REFUND.ABNORMAL"),
      });
      expect(await statusOf(stuck.p.id)).toBe("REFUNDING");

      wechat.sim.faults.refundResult = "CLOSED";
      const closed = await paidOrder();
      const closedId = await askRefund(closed.p, 20000, "RC");
      await until(async () => (await refundsOf(closed.p.id)).find((r) => r.status === "FAILED"));
      expect(await notifyOutcomes(closed.order.orderId)).toEqual(["REFUND_CLOSED"]);
      expect(await statusOf(closed.p.id)).toBe("PAID");
      expect(ofPayment("payment.RefundRejected", closed.p.id)).toHaveLength(1);
      expect(ofPayment("payment.RefundCompleted", closed.p.id)).toHaveLength(0);
      await until(() =>
        [...receiver.received.values()].find(
          (x) => x.body.event === "payment.refundRejected" && x.body.refundId === closedId,
        ),
      );
      // The same CLOSED again (a retry): the refund is settled, nothing moves twice.
      expect((await wechat.sim.refundNotifyOnce(closedId)).status).toBe(204);
      expect(ofPayment("payment.RefundRejected", closed.p.id)).toHaveLength(1);
      expect(stuckId).not.toBe(closedId);
    } finally {
      resetRefundFaults();
    }
  });

  it("answers a time-out with 503 CHANNEL_UNAVAILABLE and settles the order by query later", async () => {
    const p = await create();
    wechat.sim.faults.answerDelayMs = 2500;
    wechat.sim.faults.answerDelayPaths = new Set(["/v3/pay/transactions/native"]);
    try {
      const res = await t.call("POST", `/v1/payments/${p.id}/orders`, {
        channel: "wechat",
        scene: "qr",
        expectedAmountFen: 20000,
      });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe("CHANNEL_UNAVAILABLE");
    } finally {
      wechat.sim.faults.answerDelayMs = 0;
      wechat.sim.faults.answerDelayPaths = new Set();
    }
    const orders = (await t.call("GET", `/v1/payments/${p.id}/orders`)).body.items as Array<{
      orderId: string;
    }>;
    const orderId = orders[0]?.orderId ?? "";
    await until(() => wechat.sim.trade(orderId));
    wechat.sim.faults.notify = "drop";
    try {
      await wechat.sim.pay(orderId);
      await until(async () => (await statusOf(p.id)) === "PAID");
      await until(() => completions(p.id).length > 0);
      expect(completions(p.id)).toHaveLength(1);
      cleanOrders.push(orderId);
    } finally {
      wechat.sim.faults.notify = "deliver";
    }
  });

  it("is refused 401 SIGN_ERROR for a request it signed with another key, and trusts no answer it cannot verify", async () => {
    const OTHER = "230102";
    const asOps = { "x-piaoju-actor": "ops.li", "x-piaoju-agencies": OTHER };
    const setAccount = async (config: Record<string, string>) => {
      const res = await t.call(
        "PUT",
        "/v1/payment/channel-accounts/wechat",
        { agencyCode: OTHER, accountId: wechat.account.accountId, config },
        asOps,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    const attempt = async () => {
      serial++;
      const p = await t.call(
        "POST",
        "/v1/payments",
        {
          agencyCode: OTHER,
          bizSerialNo: `WX-${mode}-K${serial}-${randomBytes(3).toString("hex")}`,
          decisionNo: `2301023000${String(serial).padStart(6, "0")}`,
          payer: { type: 1, code: "230102199003077778", name: "王五" },
          items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
          issuingPointCode: "JJ-01",
          billCode: "23010126",
        },
        asOps,
      );
      expect(p.status, JSON.stringify(p.body)).toBe(201);
      const res = await t.call(
        "POST",
        `/v1/payments/${p.body.id}/orders`,
        { channel: "wechat", scene: "qr", expectedAmountFen: 20000 },
        asOps,
      );
      return { id: String(p.body.id), res };
    };
    const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const before = wechat.sim.badSignatures;
    await setAccount({
      ...wechat.account.config,
      privateKey: stranger.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    });
    const refused = await attempt();
    expect(refused.res.status).toBe(503);
    expect(refused.res.body.code).toBe("CHANNEL_REFUSED");
    expect(String(refused.res.body.detail ?? refused.res.body.message ?? "")).toContain("SIGN_ERROR");
    expect(wechat.sim.badSignatures).toBe(before + 1);
    // WeChat Pay took the order, but its answer does not verify with the key configured here.
    await setAccount({
      ...wechat.account.config,
      platformPublicKey: stranger.publicKey.export({ type: "spki", format: "pem" }).toString(),
    });
    const unverified = await attempt();
    expect(unverified.res.status).toBe(503);
    expect(unverified.res.body.code).toBe("CHANNEL_UNAVAILABLE");
    expect((await t.call("GET", `/v1/payments/${unverified.id}`, undefined, asOps)).body.status).toBe(
      "PAYING",
    );
  });

  it("matches the day's trade bill (signed download, digest checked): paid and refunded orders agree", async () => {
    const day = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const res = await t.call("POST", "/v1/payment/reconciliations", {
      agencyCode: AGENCY,
      channel: "wechat",
      businessDay: day,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const body = res.body as {
      matched: number;
      differences: Array<{ kind: string; orderId?: string }>;
    };
    expect(cleanOrders.length).toBeGreaterThanOrEqual(5);
    expect(body.matched).toBeGreaterThanOrEqual(cleanOrders.length);
    expect(body.differences.filter((d) => d.orderId && cleanOrders.includes(d.orderId))).toEqual([]);
    // The notify for 1 fen was held here; WeChat Pay never took it: the bill shows it is only ours.
    expect(body.differences.map((d) => d.kind)).toContain("ONLY_HERE");
  });
});
