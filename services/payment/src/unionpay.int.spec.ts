import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { Envelope } from "@piaoju/contracts";
import { decodeEvent } from "@piaoju/contracts";
import { openDatabase } from "@piaoju/persistence";
import type { TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startCallbackReceiver,
  startPaymentTestPlatform,
  startUnionpayRig,
  type UnionpayRig,
  until,
} from "../../../test/support/payment.ts";

const AGENCY = "230101";
const APP = "police-platform";
const CALLBACK_SECRET = "u".repeat(40);

/**
 * The payment service's UnionPay channel (银联全渠道, ACP 5.1.0) through the whole frame, against
 * the UnionPay simulator on loopback: requests signed by the adapter's node:crypto code and checked
 * by the simulator's own; answers and notifies signed with the simulator's signing certificate,
 * trusted through the root and middle certificates it made at start. Both modes.
 */
describe.each(["cluster", "embedded"] as const)("payment service, UnionPay (%s)", (mode) => {
  let t: TestPlatform;
  let unionpay: UnionpayRig;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;
  const events: Envelope[] = [];
  let stopWatch = async () => {};
  let serial = 0;

  beforeAll(async () => {
    unionpay = await startUnionpayRig();
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
    const account = await t.call("PUT", "/v1/payment/channel-accounts/unionpay", {
      agencyCode: AGENCY,
      ...unionpay.account,
    });
    expect(account.status, JSON.stringify(account.body)).toBe(200);
    expect(JSON.stringify(account.body)).not.toContain("PRIVATE KEY");
    expect(account.body.fields).toEqual([
      "certId",
      "fileUrl",
      "gatewayUrl",
      "middleCert",
      "privateKey",
      "rootCert",
    ]);
  });
  afterAll(async () => {
    await stopWatch();
    await unionpay?.sim.close();
    await receiver?.stop();
  });

  const asApp = { "x-piaoju-actor": `app:${APP}`, "x-piaoju-agencies": AGENCY };
  const create = async (agencyCode = AGENCY, caller = asApp) => {
    serial++;
    const res = await t.call(
      "POST",
      "/v1/payments",
      {
        agencyCode,
        bizSerialNo: `UP-${mode}-${serial}-${randomBytes(3).toString("hex")}`,
        decisionNo: `2301014000${String(serial).padStart(6, "0")}`,
        payer: { type: 1, code: "230102199003077778", name: "赵六", phone: "13800138000" },
        items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
        issuingPointCode: "JJ-01",
        billCode: "23010126",
      },
      caller,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as Record<string, unknown> & { id: string; bizSerialNo: string };
  };
  const open = async (id: string, scene: "qr" | "wap" = "qr") => {
    const res = await t.call("POST", `/v1/payments/${id}/orders`, {
      channel: "unionpay",
      scene,
      expectedAmountFen: 20000,
      ...(scene === "wap" ? { returnUrl: "https://police.example.cn/back" } : {}),
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
  const paidAndRefunded = async (id: string, orderId: string, amountFen: number) => {
    await unionpay.sim.pay(orderId);
    await until(async () => (await statusOf(id)) === "PAID");
    return t.call(
      "POST",
      `/v1/payments/${id}/refunds`,
      { refundSerialNo: `R-${id}-${amountFen}`, amountFen, reason: "部分撤销" },
      asApp,
    );
  };
  const cleanOrders: string[] = [];

  it("pays a QR order (申请消费二维码): the payer pays, the signed backUrl notify completes it once, answered ok", async () => {
    const p = await create();
    const order = await open(p.id);
    expect(order.payTarget).toMatch(/\/qr\/00010000\//);
    const trade = unionpay.sim.trade(order.orderId);
    expect(trade).toMatchObject({ txnAmt: 20000, txnSubType: "07", bizType: "000000", state: "WAITING" });
    expect(trade?.backUrl).toMatch(/\/v1\/payment\/notify\/unionpay$/);
    // txnTime is the order's opening instant in Beijing time; payTimeout its expiry.
    expect(trade?.txnTime).toMatch(/^\d{14}$/);
    expect(trade?.payTimeout).toBeInstanceOf(Date);
    await unionpay.sim.pay(order.orderId);
    await until(async () => (await statusOf(p.id)) === "PAID");
    await unionpay.sim.idle();
    expect(unionpay.sim.trade(order.orderId)?.notifiesTaken).toBe(1);
    const completed = await until(() => completions(p.id)[0]);
    const data = decodeEvent(completed).data as { channel: string; settlement: Record<string, unknown> };
    expect(data.channel).toBe("unionpay");
    expect(data.settlement).toMatchObject({
      orderId: order.orderId,
      channelTradeNo: trade?.queryId,
      paidFen: 20000,
      channelAccount: unionpay.account.accountId,
    });
    const pushed = await until(() => receiver.find("payment.paid", p.id));
    expect(pushed.body).toMatchObject({
      paidFen: 20000,
      channel: "unionpay",
      channelTradeNo: trade?.queryId,
    });
    expect(unionpay.sim.badSignatures).toBe(0);
    cleanOrders.push(order.orderId);
  });

  it.runIf(mode === "cluster")(
    "keeps the merchant's signing key sealed at rest, and audits field names only",
    async () => {
      const url = new URL(t.env.PIAOJU_DATABASE_URL ?? "");
      url.pathname = `/${t.env.PIAOJU_DATABASE_PREFIX}payment`;
      const db = await openDatabase({ kind: "postgres", url: url.toString() });
      try {
        const rows = await db.query<{ account_id: string; sealed: Uint8Array }>(
          "SELECT account_id, sealed FROM channel_account WHERE channel = 'unionpay'",
        );
        expect(rows.map((r) => r.account_id)).toEqual([unionpay.account.accountId]);
        const stored = Buffer.from(rows[0]?.sealed ?? []);
        // The whole config is in there (key and two certificates, about 4 kB), only not readable.
        expect(stored.length).toBeGreaterThan(3000);
        const keyBody = unionpay.privateKey.split("\n")[1] ?? "";
        expect(keyBody.length).toBeGreaterThan(40);
        const certBody = unionpay.account.config.rootCert.split("\n")[1] ?? "";
        for (const secret of [keyBody, "PRIVATE KEY", certBody, unionpay.account.config.certId]) {
          expect(stored.includes(Buffer.from(secret)), secret.slice(0, 12)).toBe(false);
        }
        const audits = await db.query<{ detail: unknown }>(
          "SELECT detail FROM audit_log WHERE action = 'channel-account.set' AND subject LIKE '%:unionpay'",
        );
        expect(audits.length).toBeGreaterThan(0);
        expect(JSON.stringify(audits)).not.toContain(keyBody);
      } finally {
        await db.close();
      }
    },
  );

  it("refuses forged notifies (signature, body, chain, owner, expiry, another merId, unknown order) and changes nothing", async () => {
    const p = await create();
    const order = await open(p.id);
    for (const tamper of ["signature", "body", "cert", "owner", "expired"] as const) {
      const res = await unionpay.sim.notifyOnce(order.orderId, { tamper });
      expect(res.status, tamper).toBe(400);
      expect(res.body, tamper).toBe("fail");
    }
    // Rightly signed by UnionPay, for a merchant this platform has no account of.
    const stranger = await unionpay.sim.notifyOnce(order.orderId, { merId: "898110248169999" });
    expect(stranger.status).toBe(400);
    // Rightly signed, for an order this merchant never opened.
    const unknown = await unionpay.sim.notifyOnce(order.orderId, { orderId: `P20990101${"0".repeat(20)}` });
    expect(unknown.status).toBe(400);
    // Anyone's form without a signature at all.
    const bare = await fetch(`${t.platform.url}/v1/payment/notify/unionpay`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        merId: unionpay.account.accountId,
        orderId: order.orderId,
        respCode: "00",
      }).toString(),
    });
    expect(bare.status).toBe(400);
    expect(await statusOf(p.id)).toBe("PAYING");
    expect(completions(p.id)).toHaveLength(0);
    expect(unionpay.sim.trade(order.orderId)?.notifiesTaken).toBe(0);
  });

  it("holds a rightly signed notify for another amount (AMOUNT_MISMATCH), never a completion", async () => {
    const p = await create();
    const order = await open(p.id);
    const res = await unionpay.sim.notifyOnce(order.orderId, { txnAmt: 1 });
    // Taken (UnionPay must stop sending it), and held for a person: the order is not paid here.
    expect(res).toEqual({ status: 200, body: "ok" });
    const anomaly = await until(() =>
      events.find(
        (e) =>
          e.type === "payment.PaymentAnomalyRecorded" &&
          (e.data as { orderId: string }).orderId === order.orderId,
      ),
    );
    expect(anomaly.data).toMatchObject({ kind: "AMOUNT_MISMATCH", amountFen: 1, channel: "unionpay" });
    expect(await statusOf(p.id)).not.toBe("PAID");
    expect(completions(p.id)).toHaveLength(0);
  });

  it("completes once under duplicated and repeated notifies", async () => {
    unionpay.sim.faults.notify = "duplicate";
    try {
      const p = await create();
      const order = await open(p.id);
      await unionpay.sim.pay(order.orderId);
      await until(async () => (await statusOf(p.id)) === "PAID");
      await unionpay.sim.idle();
      await unionpay.sim.renotify(order.orderId);
      await unionpay.sim.idle();
      expect(unionpay.sim.trade(order.orderId)?.notifiesTaken).toBeGreaterThanOrEqual(4);
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
      unionpay.sim.faults.notify = "deliver";
    }
  });

  it("settles by queryTrans when the notify is lost, and takes the late notify as a no-op", async () => {
    unionpay.sim.faults.notify = "drop";
    try {
      const p = await create();
      const order = await open(p.id);
      await unionpay.sim.pay(order.orderId);
      expect(unionpay.sim.trade(order.orderId)?.notifiesSent).toBe(0);
      await until(async () => (await statusOf(p.id)) === "PAID");
      await unionpay.sim.renotify(order.orderId);
      await unionpay.sim.idle();
      expect(unionpay.sim.trade(order.orderId)?.notifiesTaken).toBe(1);
      await new Promise((r) => setTimeout(r, 200));
      expect(completions(p.id)).toHaveLength(1);
      cleanOrders.push(order.orderId);
    } finally {
      unionpay.sim.faults.notify = "deliver";
    }
  });

  it("pays a wap order through the gateway's frontTransReq form, posted as the pay target names it", async () => {
    const p = await create();
    const order = await open(p.id, "wap");
    const target = new URL(order.payTarget);
    expect(target.pathname).toBe("/gateway/api/frontTransReq.do");
    expect(Object.fromEntries(target.searchParams)).toMatchObject({
      version: "5.1.0",
      signMethod: "01",
      txnType: "01",
      txnSubType: "01",
      bizType: "000201",
      channelType: "08",
      merId: unionpay.account.accountId,
      orderId: order.orderId,
      txnAmt: "20000",
      currencyCode: "156",
      frontUrl: "https://police.example.cn/back",
    });
    // The browser posts the signed form; UnionPay's gateway takes no GET.
    const page = await fetch(`${target.origin}${target.pathname}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: target.search.slice(1),
    });
    const html = await page.text();
    expect(html).toContain("确认付款");
    expect(html).toContain("200.00");
    // One field changed after signing: the gateway refuses it.
    const tampered = new URLSearchParams(target.search);
    tampered.set("txnAmt", "1");
    const forged = await fetch(`${target.origin}${target.pathname}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: tampered.toString(),
    });
    expect(await forged.text()).toContain("验证签名失败");
    const action = /action="([^"]+)"/.exec(html)?.[1] ?? "";
    const paid = await fetch(`${unionpay.sim.url}${action}`, { method: "POST" });
    // 前台通知: back to frontUrl by a form of the signed result.
    expect(await paid.text()).toContain('<form method="post" action="https://police.example.cn/back">');
    await until(async () => (await statusOf(p.id)) === "PAID");
    cleanOrders.push(order.orderId);
  });

  it("is offered in the cashier, which hands over by a page of ours posting the signed form to the gateway", async () => {
    const p = await create();
    const qr = await t.call("GET", `/v1/payments/${p.id}/qr-url`, undefined, asApp);
    const token = new URL(String(qr.body.qrUrl)).pathname.split("/").pop() ?? "";
    const view = (await (await fetch(`${t.platform.url}/h5/pay/api/${token}`)).json()) as {
      channels: string[];
    };
    expect(view.channels).toEqual(["unionpay"]);
    const opened = await fetch(`${t.platform.url}/h5/pay/api/${token}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ channel: "unionpay", expectedAmountFen: 20000 }),
    });
    const body = (await opened.json()) as { payUrl: string };
    expect(opened.status, JSON.stringify(body)).toBe(201);
    expect(body.payUrl).toMatch(new RegExp(`/h5/pay/${token}/go/P\\d{8}[0-9a-f]{20}$`));
    const page = await fetch(body.payUrl);
    const html = await page.text();
    expect(page.status).toBe(200);
    // The page may post a form to UnionPay's gateway, and nowhere else; it runs no script.
    const csp = String(page.headers.get("content-security-policy"));
    expect(csp).toContain(`form-action ${unionpay.sim.url}`);
    expect(csp).not.toContain("script-src");
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1] ?? "";
    expect(action).toBe(`${unionpay.sim.gatewayUrl}frontTransReq.do`);
    const fields = new URLSearchParams();
    for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      fields.append(
        String(m[1]),
        String(m[2]).replace(/&#(\d+);/g, (_x, c) => String.fromCharCode(Number(c))),
      );
    }
    expect(fields.get("frontUrl")).toBe(String(qr.body.qrUrl));
    // Posted as the payer's browser would: the gateway's page, its button, back to the cashier.
    const gateway = await fetch(action, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: fields.toString(),
    });
    const payPage = await gateway.text();
    expect(payPage).toContain("确认付款");
    const pay = /action="([^"]+)"/.exec(payPage)?.[1] ?? "";
    const paid = await (await fetch(`${unionpay.sim.url}${pay}`, { method: "POST" })).text();
    // 前台通知: UnionPay posts the signed result to frontUrl; the cashier sends the browser on to its page.
    const back = new URLSearchParams();
    for (const m of paid.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      back.append(
        String(m[1]),
        String(m[2]).replace(/&#(\d+);/g, (_x, c) => String.fromCharCode(Number(c))),
      );
    }
    expect(paid).toContain(`action="${String(qr.body.qrUrl)}"`);
    const returned = await fetch(String(qr.body.qrUrl), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: back.toString(),
      redirect: "manual",
    });
    expect(returned.status).toBe(303);
    expect(returned.headers.get("location")).toBe(`/h5/pay/${token}`);
    await until(async () => (await statusOf(p.id)) === "PAID");
    // Another payment's token, or an order that is not this payment's: the same bare 404 page.
    const other = await create();
    const otherQr = await t.call("GET", `/v1/payments/${other.id}/qr-url`, undefined, asApp);
    const otherToken = new URL(String(otherQr.body.qrUrl)).pathname.split("/").pop() ?? "";
    const orderId = body.payUrl.split("/go/")[1] ?? "";
    for (const path of [`/h5/pay/${otherToken}/go/${orderId}`, `/h5/pay/${"x".repeat(43)}/go/${orderId}`]) {
      const res = await fetch(`${t.platform.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type")).toContain("text/html");
    }
    expect((await fetch(`${t.platform.url}/h5/pay/${token}/go/not-an-order!`)).status).toBe(404);
    const strayReturn = await fetch(`${t.platform.url}/h5/pay/${"x".repeat(43)}`, {
      method: "POST",
      redirect: "manual",
    });
    expect(strayReturn.status).toBe(404);
    cleanOrders.push(orderId);
  });

  it("closes (UnionPay has no close: asked, then given up); money taken after is held and sent back by 退货", async () => {
    const p = await create();
    const order = await open(p.id);
    const closed = await t.call("POST", `/v1/payments/${p.id}/close`, { reason: "当事人已现场缴纳" }, asApp);
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body.status).toBe("CLOSED");
    await unionpay.sim.payDespiteClose(order.orderId);
    await unionpay.sim.idle();
    await until(() =>
      events.find(
        (e) =>
          e.type === "payment.PaymentAnomalyRecorded" &&
          (e.data as { orderId: string }).orderId === order.orderId &&
          (e.data as { kind: string }).kind === "PAID_AFTER_CLOSE",
      ),
    );
    expect(await statusOf(p.id)).toBe("CLOSED");
    expect(completions(p.id)).toHaveLength(0);
    const refund = await until(async () => (await refundsOf(p.id)).find((r) => r.status === "REFUNDED"));
    expect(refund).toMatchObject({ kind: "DUPLICATE", amountFen: 20000 });
    expect(unionpay.sim.trade(order.orderId)?.refunds.get(refund.refundId.replaceAll("-", ""))?.amount).toBe(
      20000,
    );
  });

  it("refunds a part by 退货: accepted, then asked by queryTrans until done, sent once", async () => {
    unionpay.sim.faults.refundProcessingMs = 600;
    try {
      const p = await create();
      const order = await open(p.id);
      const asked = await paidAndRefunded(p.id, order.orderId, 5000);
      expect(asked.status, JSON.stringify(asked.body)).toBe(201);
      const done = await until(async () => (await refundsOf(p.id)).find((r) => r.status === "REFUNDED"));
      const trade = unionpay.sim.trade(order.orderId);
      expect(trade?.refunds.get(done.refundId.replaceAll("-", ""))?.amount).toBe(5000);
      expect(done.amountFen).toBe(5000);
      expect(trade?.refundCalls).toBe(1);
      await until(() =>
        events.find(
          (e) => e.type === "payment.RefundCompleted" && (e.data as { paymentId: string }).paymentId === p.id,
        ),
      );
      cleanOrders.push(order.orderId);
    } finally {
      unionpay.sim.faults.refundProcessingMs = 150;
    }
  });

  it("never pays a refund twice when its answer is lost: asked first, never sent again", async () => {
    const p = await create();
    const order = await open(p.id);
    unionpay.sim.faults.answerDelayMs = 2500;
    unionpay.sim.faults.answerDelayPaths = new Set(["/gateway/api/backTransReq.do"]);
    try {
      await unionpay.sim.pay(order.orderId);
      await until(async () => (await statusOf(p.id)) === "PAID");
      const asked = await t.call(
        "POST",
        `/v1/payments/${p.id}/refunds`,
        { refundSerialNo: `R-lost-${p.bizSerialNo}`, amountFen: 3000, reason: "部分撤销" },
        asApp,
      );
      expect(asked.status, JSON.stringify(asked.body)).toBe(201);
      // The refund was carried out at UnionPay, its answer held past our time-out.
      await until(() => (unionpay.sim.trade(order.orderId)?.refunds.size ?? 0) > 0);
    } finally {
      await new Promise((r) => setTimeout(r, 200));
      unionpay.sim.faults.answerDelayMs = 0;
      unionpay.sim.faults.answerDelayPaths = new Set();
    }
    const done = await until(async () => (await refundsOf(p.id)).find((r) => r.status === "REFUNDED"));
    const trade = unionpay.sim.trade(order.orderId);
    expect(done.amountFen).toBe(3000);
    expect(trade?.refunds.size).toBe(1);
    expect(trade?.refundCalls).toBe(1);
    cleanOrders.push(order.orderId);
  });

  it("is refused respCode 11 for a request signed with another key, and trusts no answer it cannot chain", async () => {
    const OTHER = "230102";
    const asOps = { "x-piaoju-actor": "ops.li", "x-piaoju-agencies": OTHER };
    const setAccount = async (config: Record<string, string>) => {
      const res = await t.call(
        "PUT",
        "/v1/payment/channel-accounts/unionpay",
        { agencyCode: OTHER, accountId: unionpay.account.accountId, config },
        asOps,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    const attempt = async () => {
      const p = await create(OTHER, asOps);
      const res = await t.call(
        "POST",
        `/v1/payments/${p.id}/orders`,
        { channel: "unionpay", scene: "qr", expectedAmountFen: 20000 },
        asOps,
      );
      return { id: p.id, res };
    };
    const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const before = unionpay.sim.badSignatures;
    await setAccount({
      ...unionpay.account.config,
      privateKey: stranger.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    });
    const refused = await attempt();
    expect(refused.res.status).toBe(503);
    expect(refused.res.body.code).toBe("CHANNEL_REFUSED");
    expect(String(refused.res.body.detail ?? refused.res.body.message ?? "")).toContain("11");
    expect(unionpay.sim.badSignatures).toBe(before + 1);
    // UnionPay took the order, but its certificate does not chain to what is configured here.
    await setAccount({
      ...unionpay.account.config,
      rootCert: unionpay.sim.middleCert,
      middleCert: unionpay.sim.rootCert,
    });
    const unverified = await attempt();
    expect(unverified.res.status).toBe(503);
    expect(unverified.res.body.code).toBe("CHANNEL_UNAVAILABLE");
    expect((await t.call("GET", `/v1/payments/${unverified.id}`, undefined, asOps)).body.status).toBe(
      "PAYING",
    );
  });

  it("matches the day's reconciliation file (fileTransfer, the ZM file): paid and refunded orders agree", async () => {
    // The settlement day UnionPay books now in (its day ends at 23:00 Beijing time).
    const mmdd = unionpay.sim.settleDateOf(new Date());
    const day = new Date(Date.now() + 9 * 3_600_000).toISOString().slice(0, 10);
    expect(day.slice(5).replace("-", "")).toBe(mmdd);
    // A consume UnionPay has and this platform never opened.
    const planted = unionpay.sim.plantTrade(
      unionpay.account.accountId,
      `P${day.replaceAll("-", "")}${randomBytes(10).toString("hex")}`,
      4321,
      new Date(),
    );
    const res = await t.call("POST", "/v1/payment/reconciliations", {
      agencyCode: AGENCY,
      channel: "unionpay",
      businessDay: day,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const body = res.body as {
      matched: number;
      refundedFen: number;
      differences: Array<{ kind: string; orderId?: string; resolution?: string }>;
    };
    expect(cleanOrders.length).toBeGreaterThanOrEqual(6);
    expect(body.matched).toBeGreaterThanOrEqual(cleanOrders.length);
    // The partial refunds (5000 and 3000 fen) and the whole one sent back after the close.
    expect(body.refundedFen).toBeGreaterThanOrEqual(5000 + 3000 + 20000);
    // Nothing open for the orders that went right; the refund whose answer was lost (refunded once,
    // settled by query) is reported as repaired, as day-end reports every lost answer.
    const ofClean = body.differences.filter((d) => d.orderId && cleanOrders.includes(d.orderId));
    expect(ofClean.filter((d) => d.resolution !== "REPAIRED")).toEqual([]);
    for (const d of ofClean) expect(d).toMatchObject({ kind: "LOST_NOTIFY", subject: "refund" });
    expect(body.differences).toContainEqual(
      expect.objectContaining({
        kind: "ONLY_AT_CHANNEL",
        orderId: planted.orderId,
        channelTradeNo: planted.queryId,
        channelFen: 4321,
      }),
    );
    // The work list has it too.
    const list = await t.call(
      "GET",
      `/v1/payment/reconciliations/unionpay/${day}/differences?agencyCode=${AGENCY}`,
    );
    expect(JSON.stringify(list.body)).toContain(planted.orderId);
  });
});
