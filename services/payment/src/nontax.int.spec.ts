import { randomBytes } from "node:crypto";
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
        ...peer.env,
      },
    });
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
    await t?.stop();
    await peer?.stop();
    await alipay?.sim.close();
  });

  const request = (bizSerialNo: string, agencyCode = AGENCY) => ({
    agencyCode,
    bizSerialNo,
    payer: { type: 1, code: "230102199003077777", name: "王五" },
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
});
