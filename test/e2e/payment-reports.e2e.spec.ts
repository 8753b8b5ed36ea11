import { randomBytes } from "node:crypto";
import { paymentService } from "@piaoju/payment";
import { reportingService } from "@piaoju/reporting";
import { callerHeaders, startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type AlipayRig, startAlipayRig, startNontaxPeer, until } from "../support/payment.ts";

type Body = Record<string, unknown>;
type Report = { rows: Array<{ type: string; values: Body }>; totals: Body };

/**
 * The payment reports equal their source. A day of payments through Alipay (two income items, a
 * partial refund, a duplicate payment refunded by its own route, an amount the channel books
 * otherwise) is reconciled, corrected, reconciled again and cleared by the payment service; the
 * reporting service builds its read models from payment's events only, and every figure of
 * 缴款收缴情况, 退付明细, 重复缴款退付明细, 渠道对账差异 and 资金清分划转 is checked against the payment
 * service's own API. Embedded (PGlite, embedded bus) and cluster (PostgreSQL, Kafka).
 */
describe.each(["embedded", "cluster"] as const)("payment reports equal the payment service (%s)", (mode) => {
  const AGENCY = mode === "embedded" ? "230111" : "230112";
  const asOps = { "x-piaoju-actor": "ops.qian", "x-piaoju-agencies": AGENCY };
  const asApp = { "x-piaoju-actor": "app:police", "x-piaoju-agencies": AGENCY };
  let t: TestPlatform;
  let peer: Awaited<ReturnType<typeof startNontaxPeer>>;
  let alipay: AlipayRig;
  const day = new Date(Date.now() + 8 * 3_600_000 - 3 * 86_400_000).toISOString().slice(0, 10);
  const at = (hms: string) => new Date(`${day}T${hms}+08:00`);
  const paymentIds: string[] = [];
  let serial = 0;

  beforeAll(async () => {
    peer = await startNontaxPeer(AGENCY, "230100");
    alipay = await startAlipayRig();
    t = await startTestPlatform({
      mode,
      services: [paymentService, reportingService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: asOps,
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_PAYMENT_POLL_MS: "100",
        PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: "100",
        PIAOJU_PAYMENT_REFUND_RETRY_MS: "100",
        ...peer.env,
      },
    });
    const ok = async (method: string, path: string, body?: unknown) => {
      const res = await t.call(method, path, body);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      return res.body;
    };
    await ok("PUT", "/v1/payment/channel-accounts/alipay", { agencyCode: AGENCY, ...alipay.account });
    await ok("PUT", "/v1/payment/clearing-accounts/6217000020001", {
      agencyCode: AGENCY,
      name: "市级专户",
      bankName: "工商银行",
    });
    await ok("PUT", "/v1/payment/clearing-accounts/6217000020002", {
      agencyCode: AGENCY,
      name: "县级专户",
      bankName: "农业银行",
    });
    await ok("PUT", "/v1/payment/clearing-rules/FK01", {
      agencyCode: AGENCY,
      shares: [
        { accountNo: "6217000020001", basisPoints: 7000 },
        { accountNo: "6217000020002", basisPoints: 3000 },
      ],
    });
    await ok("PUT", "/v1/payment/clearing-rules/FK03", {
      agencyCode: AGENCY,
      shares: [{ accountNo: "6217000020002", basisPoints: 10000 }],
    });
  });
  afterAll(async () => {
    await t?.stop();
    await peer?.stop();
    await alipay?.sim.close();
  });

  const create = async (items: Array<{ itemCode: string; amountFen: number }>) => {
    const res = await t.call(
      "POST",
      "/v1/payments",
      {
        agencyCode: AGENCY,
        bizSerialNo: `RPT-${mode}-${++serial}`,
        payer: { type: 1, code: "230102199003077778", name: "王五" },
        items: items.map((i) => ({ ...i, quantity: "1" })),
        issuingPointCode: "JJ-01",
        billCode: "23010526",
      },
      asApp,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    paymentIds.push(String(res.body.id));
    return { id: String(res.body.id), total: items.reduce((s, i) => s + i.amountFen, 0) };
  };
  const order = async (p: { id: string; total: number }, scene: "qr" | "wap" = "qr") => {
    const res = await t.call(
      "POST",
      `/v1/payments/${p.id}/orders`,
      { channel: "alipay", scene, expectedAmountFen: p.total },
      asApp,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    if (scene === "wap") await fetch(String(res.body.payTarget));
    return String(res.body.orderId);
  };
  const paid = (id: string) =>
    until(async () => (await t.call("GET", `/v1/payments/${id}`, undefined, asApp)).body.status === "PAID");
  const report = async (name: string) => {
    const res = await t.call("GET", `/v1/reporting/reports/${name}?agencyCode=${AGENCY}&day=${day}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as unknown as Report;
  };
  const details = (r: Report) => r.rows.filter((x) => x.type === "detail").map((x) => x.values);

  it("builds the day's reports from payment's events, equal to what the payment service says", async () => {
    const amounts = [
      [
        { itemCode: "FK01", amountFen: 20000 },
        { itemCode: "FK03", amountFen: 501 },
      ],
      [{ itemCode: "FK01", amountFen: 15001 }],
      [
        { itemCode: "FK01", amountFen: 9999 },
        { itemCode: "FK03", amountFen: 3 },
      ],
    ];
    const orders: string[] = [];
    for (const [i, items] of amounts.entries()) {
      const p = await create(items);
      const o = await order(p);
      orders.push(o);
      await alipay.sim.pay(o, at(`${String(i + 8).padStart(2, "0")}:00:00`));
      await paid(p.id);
    }
    alipay.sim.billFaults.refundAt = at("16:00:00");
    try {
      // A partial refund of the first payment.
      const r = await t.call(
        "POST",
        `/v1/payments/${paymentIds[0]}/refunds`,
        { refundSerialNo: `RPT-R-${mode}`, amountFen: 700, reason: "部分撤销" },
        asApp,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      // A duplicate payment: two orders of one notice paid.
      const dup = await create([{ itemCode: "FK01", amountFen: 5000 }]);
      const [o1, o2] = [await order(dup), await order(dup, "wap")];
      await Promise.all([alipay.sim.pay(o1, at("12:00:00")), alipay.sim.pay(o2, at("12:00:01"))]);
      await until(async () => {
        const all = await Promise.all(
          paymentIds.map(
            async (id) =>
              (await t.call("GET", `/v1/payments/${id}/refunds`, undefined, asApp)).body.items as Body[],
          ),
        );
        const flat = all.flat();
        return flat.length === 2 && flat.every((x) => x.status === "REFUNDED");
      });
    } finally {
      alipay.sim.billFaults.refundAt = undefined;
    }
    // The channel books the second payment for a fen less: an open difference, no clearing yet.
    alipay.sim.billFaults.amount.set(orders[1]!, "150.00");
    const first = await t.call("POST", "/v1/payment/reconciliations", {
      agencyCode: AGENCY,
      channel: "alipay",
      businessDay: day,
    });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const open = (
      await t.call("GET", `/v1/payment/reconciliations/alipay/${day}/differences?agencyCode=${AGENCY}`)
    ).body.items as Body[];
    expect(open.map((d) => d.kind)).toEqual(["AMOUNT"]);
    const diffReport = await until(async () => {
      const r = await report("payment-differences");
      return details(r).length === open.length ? r : undefined;
    });
    expect(details(diffReport).map((d) => [d.kind, d.orderId, d.ourFen, d.channelFen, d.resolution])).toEqual(
      open.map((d) => ["金额不符", d.orderId, d.ourFen, d.channelFen, "待处理"]),
    );

    // Corrected and run again: nothing open, the day is cleared, and the findings report follows.
    alipay.sim.billFaults.amount.delete(orders[1]!);
    const second = await t.call("POST", "/v1/payment/reconciliations", {
      agencyCode: AGENCY,
      channel: "alipay",
      businessDay: day,
    });
    expect(second.status).toBe(200);
    const batch = await until(async () => {
      const b = await t.call("GET", `/v1/payment/clearings/${day}?agencyCode=${AGENCY}`);
      return b.status === 200 && b.body.status === "SETTLED" ? b.body : undefined;
    });
    const figures = second.body as Body;

    // The sources: the payment service's own answers.
    const views = await Promise.all(
      paymentIds.map(async (id) => (await t.call("GET", `/v1/payments/${id}`, undefined, asApp)).body),
    );
    const refunds = (
      await Promise.all(
        paymentIds.map(
          async (id) =>
            (
              await t.call("GET", `/v1/payments/${id}/refunds`, undefined, asApp)
            ).body.items as Body[],
        ),
      )
    ).flat();
    const collected = views.reduce((s, v) => s + Number((v.paid as Body).paidFen), 0);
    const refunded = refunds.filter((r) => r.kind === "REFUND").reduce((s, r) => s + Number(r.amountFen), 0);
    const duplicate = refunds
      .filter((r) => r.kind === "DUPLICATE")
      .reduce((s, r) => s + Number(r.amountFen), 0);

    const collections = await until(async () => {
      const r = await report("collections");
      return r.totals.payments === views.length && r.totals.duplicates === 1 ? r : undefined;
    });
    expect(collections.totals).toMatchObject({
      payments: views.length,
      collectedFen: collected,
      refunds: 1,
      refundedFen: refunded,
      duplicates: 1,
      duplicateFen: duplicate,
      netFen: collected - refunded,
    });
    expect(details(collections).map((d) => d.channel)).toEqual(["支付宝"]);

    const refundRows = details(await report("refunds"));
    expect(refundRows.map((d) => [d.refundSerialNo, d.amountFen]).sort()).toEqual(
      refunds.map((r) => [r.refundSerialNo, r.amountFen]).sort(),
    );
    const dupRows = details(await report("duplicate-refunds"));
    expect(dupRows.map((d) => [d.kind, d.amountFen])).toEqual([["重复缴款退付", duplicate]]);

    const afterRerun = await until(async () => {
      const r = await report("payment-differences");
      return details(r).length === 0 ? r : undefined;
    });
    expect(afterRerun.totals).toMatchObject({ matched: figures.matched, differences: 0 });

    const clearing = await until(async () => {
      const r = await report("clearing");
      const rows = details(r);
      return rows.length === (batch.instructions as Body[]).length && rows.every((x) => x.status === "已划转")
        ? r
        : undefined;
    });
    expect(details(clearing).map((d) => [d.instructionId, d.accountNo, d.amountFen])).toEqual(
      (batch.instructions as Body[]).map((i) => [i.instructionId, i.accountNo, i.amountFen]),
    );
    expect(clearing.totals.amountFen).toBe(collected - refunded);
    expect(batch.collectedFen).toBe(collected);
    expect(batch.refundedFen).toBe(refunded);

    // Exported like every report.
    const url = `${t.platform.url}/v1/reporting/reports/clearing?agencyCode=${AGENCY}&day=${day}&format=xlsx`;
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${"t".repeat(40)}`, ...callerHeaders(asOps, "GET", url) },
    });
    expect(res.status).toBe(200);
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(0, 2)
        .toString("latin1"),
    ).toBe("PK");
  });
});
