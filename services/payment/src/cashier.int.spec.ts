import { randomBytes } from "node:crypto";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type AlipayRig, startAlipayRig, until } from "../../../test/support/payment.ts";
import { paymentService } from "./main.ts";

const AGENCY = "230103";
const RATE_LIMIT = 60;

/** What the tests read of an answer: the cashier's view, a problem document, an order's hand-over. */
interface Answer {
  [field: string]: unknown;
  status: string | number;
  code?: string;
  payUrl?: string;
  amountDue: { surchargeFen: number; totalFen: number; totalUpper: string };
}

/**
 * The cashier's public side (/h5/pay), both modes, against the Alipay simulator: a payment is
 * named only by its unguessable token; every wrong token is the same bare 404; the answers
 * carry only what the payer needs; bad input is a problem document; an order goes to the
 * channel's pay page and back; a closed payment says so; the address's budget runs out as 429.
 * The page itself in Chromium is test/e2e/cashier.e2e.spec.ts.
 */
describe.each(["cluster", "embedded"] as const)("the cashier's public API (%s)", (mode) => {
  let t: TestPlatform;
  let alipay: AlipayRig;
  let serial = 0;

  beforeAll(async () => {
    alipay = await startAlipayRig();
    t = await startTestPlatform({
      mode,
      services: [paymentService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "ops.li", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_PAYMENT_FIRST_QUERY_MS: "400",
        PIAOJU_PAYMENT_POLL_MS: "100",
        PIAOJU_CASHIER_RATE_LIMIT: String(RATE_LIMIT),
        PIAOJU_CASHIER_FRAME_ANCESTORS: "https://www.hrbgaj.example.test",
      },
    });
    const account = await t.call("PUT", "/v1/payment/channel-accounts/alipay", {
      agencyCode: AGENCY,
      ...alipay.account,
    });
    expect(account.status, JSON.stringify(account.body)).toBe(200);
  });
  afterAll(async () => {
    await t?.stop();
    await alipay?.sim.close();
  });

  const asApp = { "x-piaoju-actor": "app:police-platform", "x-piaoju-agencies": AGENCY };
  const create = async (deadline = "2026-11-01") => {
    serial++;
    const res = await t.call(
      "POST",
      "/v1/payments",
      {
        agencyCode: AGENCY,
        bizSerialNo: `JJ-CASHIER-${mode}-${serial}`,
        decisionNo: `2301031000${String(serial).padStart(6, "0")}`,
        payer: { type: 1, code: "230102199003077778", name: "王小五", phone: "13800138000" },
        items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
        surcharge: { fineItemCode: "FK01", deadline, itemCode: "FK02" },
        issuingPointCode: "JJ-01",
        billCode: "23010326",
      },
      asApp,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const qr = await t.call("GET", `/v1/payments/${String(res.body.id)}/qr-url`, undefined, asApp);
    const url = new URL(String(qr.body.qrUrl));
    return {
      payment: res.body as Record<string, unknown> & { id: string; amountDue: { totalFen: number } },
      token: url.pathname.split("/").pop()!,
    };
  };
  const get = async (path: string) => {
    const res = await fetch(`${t.platform.url}${path}`);
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text,
      json: () => JSON.parse(text) as Answer,
    };
  };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${t.platform.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      body: (await res.json()) as Answer,
    };
  };

  it("shows the notice by its token: payer masked, amount due with today's surcharge, the enabled channels, nothing more", async () => {
    const { payment, token } = await create();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const page = await get(`/h5/pay/${token}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain(
      "frame-ancestors https://www.hrbgaj.example.test",
    );
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.text).toContain('<script src="/h5/pay/cashier.js">');
    expect((await get("/h5/pay/cashier.js")).status).toBe(200);

    const view = await get(`/h5/pay/api/${token}`);
    expect(view.status).toBe(200);
    const v = view.json();
    const internal = (await t.call("GET", `/v1/payments/${payment.id}`)).body as Answer;
    expect(v).toMatchObject({
      status: "CREATED",
      payerName: "王*五",
      decisionNo: internal.decisionNo,
      noticeNo: internal.noticeNo,
      paymentCode: internal.paymentCode,
      deadline: "2026-11-01",
      items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
      channels: ["alipay"],
    });
    // The deadline is past: the surcharge as of today, the same the service would charge.
    expect(v.amountDue.surchargeFen).toBeGreaterThan(0);
    expect(v.amountDue.surchargeFen).toBe(internal.amountDue.surchargeFen);
    expect(v.amountDue.totalFen).toBe(internal.amountDue.totalFen);
    expect(v.amountDue.totalUpper).toMatch(/元/);
    for (const secret of [payment.id, "王小五", "230102199003077778", "13800138000", payment.bizSerialNo]) {
      expect(view.text).not.toContain(String(secret));
    }
  });

  it("answers every wrong token with the same bare 404: random, altered, the id, the code, the decision number", async () => {
    const { payment, token } = await create();
    const flipped = `${token.slice(0, 20)}${token[20] === "A" ? "B" : "A"}${token.slice(21)}`;
    const wrong = [
      randomBytes(32).toString("base64url"),
      flipped,
      payment.id,
      String(payment.paymentCode),
      String(payment.decisionNo),
      `${token}A`,
      "x",
    ];
    const bodies = new Set<string>();
    for (const w of wrong) {
      const api = await get(`/h5/pay/api/${encodeURIComponent(w)}`);
      expect(api.status, w).toBe(404);
      expect(api.headers.get("content-type")).toContain("application/problem+json");
      const { traceId: _, ...problem } = api.json();
      bodies.add(JSON.stringify(problem));
      const page = await get(`/h5/pay/${encodeURIComponent(w)}`);
      expect(page.status, w).toBe(404);
      expect(page.text).toContain("链接无效");
      expect(page.text).not.toContain("cashier.js");
      const order = await post(`/h5/pay/api/${encodeURIComponent(w)}/orders`, {
        channel: "alipay",
        expectedAmountFen: payment.amountDue.totalFen,
      });
      expect(order.status, w).toBe(404);
    }
    expect([...bodies]).toHaveLength(1);
    expect(JSON.parse([...bodies][0]!)).toMatchObject({
      status: 404,
      code: "CASHIER_LINK_INVALID",
      detail: "not found",
    });
    // Nothing was opened by any of them.
    expect((await t.call("GET", `/v1/payments/${payment.id}/orders`)).body.items).toEqual([]);
  });

  it("refuses bad input with problem documents, and an amount the payer did not see", async () => {
    const { payment, token } = await create();
    const path = `/h5/pay/api/${token}/orders`;
    for (const body of [
      {},
      { channel: "alipay" },
      { channel: "alipay", expectedAmountFen: -1 },
      { channel: "alipay", expectedAmountFen: 1.5 },
      { channel: "", expectedAmountFen: 100 },
      { channel: "alipay", expectedAmountFen: 100, scene: "qr" },
    ]) {
      const res = await post(path, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.type).toContain("application/problem+json");
      expect(res.body.code).toBe("VALIDATION_FAILED");
    }
    const notOffered = await post(path, { channel: "wechat", expectedAmountFen: payment.amountDue.totalFen });
    expect([notOffered.status, notOffered.body.code]).toEqual([409, "CHANNEL_NOT_ENABLED"]);
    const stale = await post(path, { channel: "alipay", expectedAmountFen: payment.amountDue.totalFen - 1 });
    expect([stale.status, stale.body.code]).toEqual([409, "AMOUNT_DUE_CHANGED"]);
    expect((await t.call("GET", `/v1/payments/${payment.id}/orders`)).body.items).toEqual([]);
  });

  it("opens an H5 order at the channel, the payer pays on its page and comes back to the cashier, which shows it paid", async () => {
    const { payment, token } = await create();
    const opened = await post(`/h5/pay/api/${token}/orders`, {
      channel: "alipay",
      expectedAmountFen: payment.amountDue.totalFen,
    });
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    expect(opened.body).toEqual({
      channel: "alipay",
      amountFen: payment.amountDue.totalFen,
      payUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/gateway\.do\?/),
    });
    // The simulator's pay page (alipay.trade.wap.pay, signed by the SDK), then its button.
    const pagePay = await fetch(String(opened.body.payUrl));
    const html = await pagePay.text();
    expect(html).toContain(`￥${(payment.amountDue.totalFen / 100).toFixed(2)}`);
    const action = /action="([^"]+)"/.exec(html)![1]!;
    const paid = await fetch(new URL(action, String(opened.body.payUrl)), {
      method: "POST",
      redirect: "manual",
    });
    expect(paid.status).toBe(302);
    // Alipay sends the payer back to the cashier's own link.
    expect(String(paid.headers.get("location"))).toMatch(new RegExp(`/h5/pay/${token}\\?`));
    const v = await until(async () => {
      const r = (await get(`/h5/pay/api/${token}`)).json();
      return r.status === "PAID" ? r : undefined;
    });
    expect(v).toMatchObject({ channels: [], paid: { paidFen: payment.amountDue.totalFen } });
    const again = await post(`/h5/pay/api/${token}/orders`, {
      channel: "alipay",
      expectedAmountFen: payment.amountDue.totalFen,
    });
    expect([again.status, again.body.code]).toEqual([409, "ALREADY_PAID"]);
    expect(JSON.stringify(again.body)).not.toContain(payment.id);
  });

  it("says a closed payment is closed and opens nothing for it", async () => {
    const { payment, token } = await create("2099-01-01");
    const closed = await t.call(
      "POST",
      `/v1/payments/${payment.id}/close`,
      { reason: "逾期未缴，转强制执行" },
      asApp,
    );
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    const view = await get(`/h5/pay/api/${token}`);
    expect(view.json()).toMatchObject({ status: "CLOSED", channels: [], amountDue: { surchargeFen: 0 } });
    // The business system's reason is its own: not shown to whoever holds the link.
    expect(view.text).not.toContain("强制执行");
    const order = await post(`/h5/pay/api/${token}/orders`, {
      channel: "alipay",
      expectedAmountFen: payment.amountDue.totalFen,
    });
    expect([order.status, order.body.code]).toEqual([409, "PAYMENT_CLOSED"]);
    expect(JSON.stringify(order.body)).not.toContain(payment.id);
  });

  it("limits each address: past the minute's budget every cashier route answers 429 RATE_LIMITED", async () => {
    const { token } = await create();
    let limited: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i <= RATE_LIMIT && !limited; i++) {
      const r = await get(`/h5/pay/api/${token}`);
      if (r.status === 429) limited = r;
      else expect(r.status).toBe(200);
    }
    expect(limited, "no 429 within the budget + 1").toBeDefined();
    expect(limited!.json()).toMatchObject({ status: 429, code: "RATE_LIMITED" });
    expect((await get(`/h5/pay/${token}`)).status).toBe(429);
    expect((await get(`/h5/pay/api/${randomBytes(32).toString("base64url")}`)).status).toBe(429);
  });
});
