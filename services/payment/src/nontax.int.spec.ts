import { randomBytes, randomUUID } from "node:crypto";
import { type Envelope, topics } from "@piaoju/contracts";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type AlipayRig, startAlipayRig, startNontaxPeer, until } from "../../../test/support/payment.ts";
import { isValidPaymentCode } from "./domain/payment-code.ts";
import { paymentService } from "./main.ts";

const AGENCY = "230105";

/**
 * With PIAOJU_NONTAX_URL set, the notice and its payment code come from finance's non-tax system
 * (the finance simulator here), signed per agency; the code validates under Piaoju's own rule.
 */
describe("payment notices from the non-tax system (embedded)", () => {
  let t: TestPlatform;
  let peer: Awaited<ReturnType<typeof startNontaxPeer>>;
  let alipay: AlipayRig;
  const events: Envelope[] = [];
  let stopWatch = async () => {};

  beforeAll(async () => {
    peer = await startNontaxPeer(AGENCY, "230100");
    alipay = await startAlipayRig();
    t = await startTestPlatform({
      mode: "embedded",
      services: [paymentService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "app:police", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_PAYMENT_POLL_MS: "100",
        PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: "100",
        PIAOJU_PAYMENT_REFUND_RETRY_MS: "100",
        ...peer.env,
      },
    });
    const watch = await t.probe.subscribe({
      group: `watch-${randomUUID().slice(0, 8)}`,
      topics: [topics.payment],
      handler: async (m) => {
        events.push(m.envelope);
      },
    });
    stopWatch = () => watch.stop();
    const account = await t.call(
      "PUT",
      "/v1/payment/channel-accounts/alipay",
      { agencyCode: AGENCY, ...alipay.account },
      {
        "x-piaoju-actor": "ops.li",
        "x-piaoju-agencies": AGENCY,
      },
    );
    expect(account.status).toBe(200);
  });
  afterAll(async () => {
    await stopWatch();
    await t?.stop();
    await peer?.stop();
    await alipay?.sim.close();
  });

  const request = (bizSerialNo: string, agencyCode = AGENCY) => ({
    agencyCode,
    bizSerialNo,
    payer: { type: 1, code: "230102199003077778", name: "王五" },
    items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
    issuingPointCode: "JJ-01",
    billCode: "23010526",
  });

  it("takes the notice and code the non-tax system made, once per serial", async () => {
    const first = await t.call("POST", "/v1/payments", request("NT-1"));
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const code = String(first.body.paymentCode);
    expect(code).toMatch(/^230100/);
    expect(isValidPaymentCode(code)).toBe(true);
    expect(String(first.body.noticeNo)).toBe(`FS${code}`);
    const again = await t.call("POST", "/v1/payments", request("NT-1"));
    expect(again.status).toBe(200);
    expect(again.body.paymentCode).toBe(code);
  });

  it("refuses, changing nothing, when the non-tax system does not know the agency", async () => {
    const res = await t.call("POST", "/v1/payments", request("NT-2", "230199"), {
      "x-piaoju-actor": "app:police",
      "x-piaoju-agencies": "230199",
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("NONTAX_NOT_CONFIGURED");
    const found = await t.call("GET", "/v1/payments?agencyCode=230199&bizSerialNo=NT-2", undefined, {
      "x-piaoju-actor": "app:police",
      "x-piaoju-agencies": "230199",
    });
    expect(found.body.items).toEqual([]);
  });

  it("reports the payment to the non-tax system once it is paid (缴款结果反馈)", async () => {
    const created = await t.call("POST", "/v1/payments", request("NT-3"));
    expect(created.status).toBe(201);
    const code = String(created.body.paymentCode);
    expect((await peer.notice(code)).status).toBe("ISSUED");
    const order = await t.call("POST", `/v1/payments/${String(created.body.id)}/orders`, {
      channel: "alipay",
      scene: "qr",
      expectedAmountFen: 20000,
    });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    const paid = await alipay.sim.pay(String(order.body.orderId));
    const notice = await until(async () => {
      const n = await peer.notice(code);
      return n.status === "PAID" ? n : undefined;
    });
    expect(notice.paid).toMatchObject({
      paidFen: 20000,
      surchargeFen: 0,
      channel: "alipay",
      channelTradeNo: paid.tradeNo,
    });
  });

  // ---- refunds by the original route (原渠道退回), approved by the non-tax system ----

  let refundSerial = 0;
  const paidPayment = async (
    serial: string,
    items = [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
  ) => {
    const created = await t.call("POST", "/v1/payments", { ...request(serial), items });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = String(created.body.id);
    const total = items.reduce((s, i) => s + i.amountFen, 0);
    const order = await t.call("POST", `/v1/payments/${id}/orders`, {
      channel: "alipay",
      scene: "qr",
      expectedAmountFen: total,
    });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    const orderId = String(order.body.orderId);
    await alipay.sim.pay(orderId);
    await until(async () => (await t.call("GET", `/v1/payments/${id}`)).body.status === "PAID");
    return { id, orderId, code: String(created.body.paymentCode) };
  };
  const refund = (id: string, amountFen: number, serial = `RF-${++refundSerial}`) =>
    t.call("POST", `/v1/payments/${id}/refunds`, {
      refundSerialNo: serial,
      amountFen,
      reason: "撤销处罚决定",
    });
  const refundState = async (id: string, refundId: string) => {
    const items = (await t.call("GET", `/v1/payments/${id}/refunds`)).body.items as Array<
      Record<string, unknown>
    >;
    return items.find((r) => r.refundId === refundId);
  };
  const refundedAt = (id: string, refundId: string) =>
    until(async () => {
      const r = await refundState(id, refundId);
      return r?.status === "REFUNDED" && r.reportedToNontax === true ? r : undefined;
    });
  const eventsOf = (type: string, paymentId: string) =>
    events.filter((e) => e.type === type && (e.data as { paymentId: string }).paymentId === paymentId);

  it("refunds in full only once the non-tax system approves, once at Alipay, and reports it back", async () => {
    await peer.sim.admin.setAutoApprove(false);
    try {
      const p = await paidPayment("NT-R1");
      const asked = await refund(p.id, 20000, "RF-FULL-1");
      expect(asked.status, JSON.stringify(asked.body)).toBe(201);
      const refundId = String(asked.body.refundId);
      expect(asked.body).toMatchObject({ status: "APPLYING", kind: "REFUND", amountFen: 20000 });
      expect((await t.call("GET", `/v1/payments/${p.id}`)).body.status).toBe("REFUNDING");
      // Applied for, and waiting: nothing has gone to the channel.
      await until(async () => (await refundState(p.id, refundId))?.status === "AWAITING_APPROVAL");
      const pending = await peer.sim.admin.listRefunds("PENDING");
      expect(pending.items.map((r) => r.refundId)).toContain(refundId);
      expect(alipay.sim.trade(p.orderId)?.refundCalls).toBe(0);
      await peer.sim.admin.approveRefund(refundId);
      await refundedAt(p.id, refundId);
      const trade = alipay.sim.trade(p.orderId)!;
      expect([...trade.refunds.entries()].map(([no, r]) => [no, r.amount])).toEqual([[refundId, "200.00"]]);
      expect(trade.refundCalls).toBe(1);
      const after = (await t.call("GET", `/v1/payments/${p.id}`)).body;
      expect(after.status).toBe("REFUNDED");
      expect(after.paid).toMatchObject({ paidFen: 20000, refundedFen: 20000 });
      expect((await peer.sim.admin.listRefunds("REFUNDED")).items.map((r) => r.refundId)).toContain(refundId);
      // The same request again is the same refund; another is refused, changing nothing.
      const again = await refund(p.id, 20000, "RF-FULL-1");
      expect(again.status).toBe(200);
      expect(again.body.refundId).toBe(refundId);
      const more = await refund(p.id, 1);
      expect(more.status).toBe(409);
      expect(more.body.code).toBe("ALREADY_REFUNDED");
      const completed = await until(() => eventsOf("payment.RefundCompleted", p.id)[0]);
      expect(completed.data).toMatchObject({ refundId, amountFen: 20000, remainingFen: 0, remainder: [] });
      expect(trade.refundCalls).toBe(1);
    } finally {
      await peer.sim.admin.setAutoApprove(true);
    }
  });

  it("refunds in parts (轧差退付), never more than was paid, and a rejected refund moves nothing", async () => {
    const p = await paidPayment("NT-R2", [
      { itemCode: "FK01", quantity: "1", amountFen: 15000 },
      { itemCode: "FK03", quantity: "1", amountFen: 5000 },
    ]);
    const bad = await t.call("POST", `/v1/payments/${p.id}/refunds`, {
      refundSerialNo: "x y",
      amountFen: 0,
      reason: "",
    });
    expect(bad.status).toBe(400);
    expect(bad.body.issues?.map((i) => i.field).sort()).toEqual([
      "body.amountFen",
      "body.reason",
      "body.refundSerialNo",
    ]);
    const first = await refund(p.id, 6000);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const firstId = String(first.body.refundId);
    await refundedAt(p.id, firstId);
    expect((await t.call("GET", `/v1/payments/${p.id}`)).body).toMatchObject({
      status: "PAID",
      paid: { paidFen: 20000, refundedFen: 6000 },
    });
    const partial = await until(() => eventsOf("payment.RefundCompleted", p.id)[0]);
    expect(partial.data).toMatchObject({
      amountFen: 6000,
      remainingFen: 14000,
      remainder: [{ itemCode: "FK01", quantity: "1", amountFen: 14000 }],
    });
    // Past what is left: refused here, and never sent.
    const over = await refund(p.id, 14001);
    expect(over.status).toBe(409);
    expect(over.body.code).toBe("REFUND_EXCEEDS_PAID");
    // Concurrent requests for the rest: only one fits.
    const racing = await Promise.all([refund(p.id, 14000), refund(p.id, 14000), refund(p.id, 14000)]);
    expect(racing.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const restId = String(racing.find((r) => r.status === 201)!.body.refundId);
    // The finance office rejects it: the amount is free again, nothing went to Alipay.
    await peer.sim.admin.setAutoApprove(false);
    try {
      await until(async () => (await refundState(p.id, restId))?.status === "AWAITING_APPROVAL");
      await peer.sim.admin.rejectRefund(restId, "不予退付");
      await until(async () => (await refundState(p.id, restId))?.status === "REJECTED");
    } finally {
      await peer.sim.admin.setAutoApprove(true);
    }
    expect((await t.call("GET", `/v1/payments/${p.id}`)).body.status).toBe("PAID");
    expect(eventsOf("payment.RefundRejected", p.id)).toHaveLength(1);
    const last = await refund(p.id, 14000);
    expect(last.status).toBe(201);
    await refundedAt(p.id, String(last.body.refundId));
    expect((await t.call("GET", `/v1/payments/${p.id}`)).body.status).toBe("REFUNDED");
    const trade = alipay.sim.trade(p.orderId)!;
    expect([...trade.refunds.values()].map((r) => r.amount).sort()).toEqual(["140.00", "60.00"]);
    expect(trade.status).toBe("TRADE_CLOSED");
  });

  it("refunds a duplicate payment by its own route when two orders of one notice are paid at once", async () => {
    const created = await t.call("POST", "/v1/payments", request("NT-D1"));
    expect(created.status).toBe(201);
    const id = String(created.body.id);
    const open = async (scene: "qr" | "wap") => {
      const o = await t.call("POST", `/v1/payments/${id}/orders`, {
        channel: "alipay",
        scene,
        expectedAmountFen: 20000,
      });
      expect(o.status, JSON.stringify(o.body)).toBe(201);
      if (scene === "wap") expect((await fetch(String(o.body.payTarget))).status).toBe(200);
      return String(o.body.orderId);
    };
    // The payer scans the QR printed on the decision and pays on the H5 cashier too: both go through.
    const orders = [await open("qr"), await open("wap")];
    await Promise.all(orders.map((o) => alipay.sim.pay(o)));
    const dup = await until(async () => {
      const items = (await t.call("GET", `/v1/payments/${id}/refunds`)).body.items as Array<
        Record<string, unknown>
      >;
      const d = items.find((r) => r.kind === "DUPLICATE");
      return d?.status === "REFUNDED" && d.reportedToNontax === true ? d : undefined;
    });
    const payment = (await t.call("GET", `/v1/payments/${id}`)).body;
    expect(payment.status).toBe("PAID");
    const paidOrder = String((payment.paid as { orderId: string }).orderId);
    const duplicate = orders.find((o) => o !== paidOrder)!;
    expect(dup).toMatchObject({ amountFen: 20000, refundSerialNo: `DUP-${duplicate}` });
    expect(alipay.sim.trade(paidOrder)?.refunds.size).toBe(0);
    expect([...alipay.sim.trade(duplicate)!.refunds.values()].map((r) => r.amount)).toEqual(["200.00"]);
    expect(eventsOf("payment.PaymentCompleted", id)).toHaveLength(1);
    const atNontax = (await peer.sim.admin.listRefunds("REFUNDED")).items.filter(
      (r) => r.refundId === dup.refundId,
    );
    expect(atNontax).toMatchObject([{ kind: "DUPLICATE", amountFen: 20000 }]);
  });

  // ---- day-end reconciliation with Alipay's statement (日终对账), planted faults ----

  it("finds and classifies every planted fault in a day's Alipay bill, and reports nothing else", async () => {
    // A day of its own (two days ago, Asia/Shanghai), so the other tests' payments are not in it.
    const day = new Date(Date.now() + 8 * 3_600_000 - 2 * 86_400_000).toISOString().slice(0, 10);
    const at = (hms: string) => new Date(`${day}T${hms}+08:00`);
    const nextDay = new Date(at("12:00:00").getTime() + 86_400_000 + 8 * 3_600_000)
      .toISOString()
      .slice(0, 10);
    const sim = alipay.sim;
    const openOrder = async (serial: string, scene: "qr" | "wap" = "qr", id?: string) => {
      let paymentId = id;
      if (!paymentId) {
        const created = await t.call("POST", "/v1/payments", request(serial));
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        paymentId = String(created.body.id);
      }
      const o = await t.call("POST", `/v1/payments/${paymentId}/orders`, {
        channel: "alipay",
        scene,
        expectedAmountFen: 20000,
      });
      expect(o.status, JSON.stringify(o.body)).toBe(201);
      if (scene === "wap") await fetch(String(o.body.payTarget));
      return { paymentId, orderId: String(o.body.orderId) };
    };
    const paid = async (p: { paymentId: string }) =>
      until(async () => (await t.call("GET", `/v1/payments/${p.paymentId}`)).body.status === "PAID");

    // Three ordinary payments, one of them notified three times over.
    for (const [i, mode] of (["deliver", "deliver", "duplicate"] as const).entries()) {
      sim.faults.notify = mode;
      const p = await openOrder(`REC-OK-${i}`);
      await sim.pay(p.orderId, at(`09:0${i}:00`));
      await paid(p);
    }
    sim.faults.notify = "deliver";
    // Refunds of the day are booked on it.
    sim.billFaults.refundAt = at("15:00:00");
    try {
      // A partial refund.
      const partial = await openOrder("REC-PARTIAL");
      await sim.pay(partial.orderId, at("10:00:00"));
      await paid(partial);
      const r = await refund(partial.paymentId, 5000);
      await refundedAt(partial.paymentId, String(r.body.refundId));
      // A duplicate payment (two orders of one notice paid), refunded by its own route.
      const first = await openOrder("REC-DUP");
      const second = await openOrder("REC-DUP", "wap", first.paymentId);
      await Promise.all([sim.pay(first.orderId, at("11:00:00")), sim.pay(second.orderId, at("11:00:01"))]);
      await until(async () => {
        const items = (await t.call("GET", `/v1/payments/${first.paymentId}/refunds`)).body.items as Array<{
          kind: string;
          status: string;
        }>;
        return items.some((x) => x.kind === "DUPLICATE" && x.status === "REFUNDED");
      });
    } finally {
      sim.billFaults.refundAt = undefined;
    }
    // An amount the channel books otherwise than it told us.
    const amount = await openOrder("REC-AMOUNT");
    await sim.pay(amount.orderId, at("13:00:00"));
    await paid(amount);
    sim.billFaults.amount.set(amount.orderId, "199.00");
    // A lost notify: paid at Alipay, nothing told here (the settler's first query is 30 s away).
    sim.faults.notify = "drop";
    const lost = await openOrder("REC-LOST");
    await sim.pay(lost.orderId, at("14:00:00"));
    sim.faults.notify = "deliver";
    // A trade only Alipay knows.
    const foreign = sim.plantTrade(alipay.account.accountId, "PFOREIGN0001", "50.00", at("16:00:00"));
    // Paid at 23:59:59, booked by Alipay on the next day.
    const late = await openOrder("REC-LATE");
    sim.billFaults.bookedOn.set(late.orderId, nextDay);
    await sim.pay(late.orderId, at("23:59:59"));
    await paid(late);

    const res = await t.call(
      "POST",
      "/v1/payment/reconciliations",
      { agencyCode: AGENCY, channel: "alipay", businessDay: day },
      { "x-piaoju-actor": "ops.li", "x-piaoju-agencies": AGENCY },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const found = (res.body.differences as Array<Record<string, unknown>>).map((d) => [
      d.kind,
      d.resolution,
      d.orderId,
    ]);
    console.log(
      `reconciliation ${day}: ${JSON.stringify({ matched: res.body.matched, collectedFen: res.body.collectedFen, refundedFen: res.body.refundedFen, differences: res.body.differences })}`,
    );
    expect(found.sort()).toEqual(
      [
        ["AMOUNT", "OPEN", amount.orderId],
        ["CROSS_DAY", "HELD", late.orderId],
        ["LOST_NOTIFY", "REPAIRED", lost.orderId],
        ["ONLY_AT_CHANNEL", "OPEN", foreign.outTradeNo],
      ].sort(),
    );
    // 3 ordinary + partial + 2 of the duplicate + the repaired lost one; the partial's and the duplicate's refunds.
    expect(res.body.matched).toBe(7 + 2);
    expect((await t.call("GET", `/v1/payments/${lost.paymentId}`)).body.status).toBe("PAID");
    const list = await t.call(
      "GET",
      `/v1/payment/reconciliations/alipay/${day}/differences?agencyCode=${AGENCY}`,
    );
    expect((list.body.items as unknown[]).length).toBe(4);
    await until(() =>
      events.find(
        (e) =>
          e.type === "payment.ChannelReconciled" && (e.data as { businessDay: string }).businessDay === day,
      ),
    );
  });
});
