import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { businessClient } from "@piaoju/business-client";
import { deliveryService } from "@piaoju/delivery";
import { gatewayService } from "@piaoju/gateway";
import { issuanceService } from "@piaoju/issuance";
import { paymentService } from "@piaoju/payment";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { stockService } from "@piaoju/stock";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { prepareAgency, succeeding } from "../support/agency.ts";
import {
  type AlipayRig,
  playSigningAndFinance,
  registerFineItems,
  startAlipayRig,
  startUnionpayRig,
  startWechatRig,
  type UnionpayRig,
  until,
  type WechatRig,
} from "../support/payment.ts";

const AGENCY = "230105";
const BILL = "23010526";
const CHROMIUM = process.env.PIAOJU_CHROMIUM ?? "/usr/bin/chromium";
/** The screenshots the payment service's README shows. */
const IMAGES = resolve(import.meta.dirname, "../../docs/images");

/**
 * 收银台, end to end in real Chromium on PostgreSQL and Kafka: the traffic police system asks for
 * a payment on the signed business API and prints the QR URL it gets; the payer opens it on a
 * phone-sized screen, sees the notice with today's 加处罚款, chooses a channel, pays on the
 * channel simulator's pay page (Alipay WAP through the official SDK; WeChat Pay H5; UnionPay's gateway
 * through our hand-over page, which posts its signed form), comes back
 * to the cashier, which shows the payment paid and then the receipt's pick-up link once issuance
 * issued it (即缴即开; the signing gateway's and finance's answers played on the bus).
 */
describe("the cashier in Chromium (cluster)", () => {
  let t: TestPlatform;
  let app: { appId: string; appSecret: string };
  let alipay: AlipayRig;
  let wechat: WechatRig;
  let unionpay: UnionpayRig;
  let browser: Browser;
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    mkdirSync(IMAGES, { recursive: true });
    alipay = await startAlipayRig();
    wechat = await startWechatRig();
    unionpay = await startUnionpayRig();
    t = await startTestPlatform({
      mode: "cluster",
      services: [stockService, issuanceService, gatewayService, deliveryService, paymentService],
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
      startNumber: "0000700001",
      endNumber: "0000700100",
      points: [{ code: "JJ-01", name: "交警支队窗口", rule: { threshold: 5, batchSize: 20 } }],
      appPoints: ["JJ-01"],
    });
    const ok = succeeding(t);
    await registerFineItems(ok, AGENCY);
    await ok("PUT", "/v1/payment/channel-accounts/alipay", { agencyCode: AGENCY, ...alipay.account });
    await ok("PUT", "/v1/payment/channel-accounts/wechat", { agencyCode: AGENCY, ...wechat.account });
    await ok("PUT", "/v1/payment/channel-accounts/unionpay", { agencyCode: AGENCY, ...unionpay.account });
    // Plays the signing gateway and finance-exchange for every receipt issuance asks to sign.
    const play = await playSigningAndFinance(t.probe, AGENCY);
    stops.push(() => play.stop());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  });
  afterAll(async () => {
    await browser?.close();
    for (const stop of stops) await stop();
    await t?.stop();
    await alipay?.sim.close();
    await wechat?.sim.close();
    await unionpay?.sim.close();
  });

  const signed: ReturnType<typeof businessClient> = (...args) =>
    businessClient({ baseUrl: t.platform.url, ...app })(...args);

  /** The police system's request, as on a decision past its deadline (so the surcharge runs). */
  const decide = async (serial: string, deadline = "2026-11-01") => {
    const created = await signed("POST", "/api/v1/payments", {
      bizSerialNo: serial,
      decisionNo: `2301051${serial.replace(/\D/g, "").padStart(9, "0")}`,
      payer: { type: 1, code: "11010519491231002X", name: "张小三", phone: "13800138000" },
      items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
      surcharge: { fineItemCode: "FK01", deadline, itemCode: "FK02" },
      issuingPointCode: "JJ-01",
      billCode: BILL,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const qr = await signed("GET", `/api/v1/payments/${String(created.body.id)}/qr-url`);
    expect(qr.status, JSON.stringify(qr.body)).toBe(200);
    return {
      id: String(created.body.id),
      due: created.body.amountDue as { totalFen: number; surchargeFen: number; daysLate: number },
      qrUrl: String(qr.body.qrUrl),
    };
  };

  const phone = async (): Promise<Page> => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      locale: "zh-CN",
    });
    return context.newPage();
  };
  const yuan = (fen: number) => `¥${(fen / 100).toFixed(2)}`;

  it("police request → QR URL → notice with surcharge → Alipay → paid → the receipt's pick-up link, receipt ISSUED", async () => {
    const { id, due, qrUrl } = await decide("JJ-CASHIER-0001");
    expect(due.surchargeFen).toBeGreaterThan(0);
    const page = await phone();
    const response = await page.goto(qrUrl);
    expect(response?.status()).toBe(200);

    const amount = page.locator("#amount");
    await expect.poll(() => amount.textContent()).toBe(yuan(due.totalFen));
    const notice = String(await page.locator("#notice").textContent());
    expect(notice).toContain("张*三");
    expect(notice).not.toContain("张小三");
    expect(notice).toContain("加处罚款");
    expect(notice).toContain(yuan(due.surchargeFen));
    expect(notice).toContain(yuan(20000));
    expect(notice).toContain("2026-11-01");
    await page.screenshot({ path: join(IMAGES, "cashier-notice.png"), fullPage: true });

    // The three channels the agency enabled are offered; the payer picks Alipay.
    const labels = await page.locator(".channels label").allTextContents();
    expect(labels).toEqual([
      expect.stringContaining("支付宝"),
      expect.stringContaining("微信支付"),
      expect.stringContaining("银联"),
    ]);
    await page.locator("label[for=ch-alipay]").click();
    await page.locator("#pay").screenshot({ path: join(IMAGES, "cashier-channels.png") });
    await Promise.all([page.waitForURL(/\/gateway\.do\?/), page.click("#payButton")]);

    // The Alipay simulator's pay page, for exactly the amount the payer confirmed.
    expect(await page.locator("#amount").textContent()).toBe(`￥${(due.totalFen / 100).toFixed(2)}`);
    await Promise.all([page.waitForURL((u) => u.pathname === new URL(qrUrl).pathname), page.click("#pay")]);

    // Back on the cashier: paid, and then the receipt's pick-up link once issuance issued it.
    await expect.poll(() => page.locator("#paid").count(), { timeout: 30_000 }).toBe(1);
    expect(await page.locator("#paid").textContent()).toContain(yuan(due.totalFen));
    const pickup = page.locator("#pickup");
    await expect.poll(() => pickup.count(), { timeout: 60_000, interval: 500 }).toBe(1);
    await page.screenshot({ path: join(IMAGES, "cashier-paid.png"), fullPage: true });

    const payment = await signed("GET", `/api/v1/payments/${id}`);
    expect(payment.body.status).toBe("PAID");
    const receipt = payment.body.receipt as { receiptId: string; number: string; checkCode: string };
    expect(await page.locator("#paid").textContent()).toContain(receipt.number);
    expect(await page.locator("#paid").textContent()).toContain(receipt.checkCode);
    const status = await signed("GET", `/api/v1/receipts/${receipt.receiptId}/status`);
    expect(status.body.status).toBe("ISSUED");
    // The link opens delivery's pick-up page on this very receipt (its QR text in the fragment,
    // never sent to a server): the payer's receipt on H5 without typing anything.
    const href = String(await pickup.getAttribute("href"));
    expect(href.startsWith(`${t.platform.url}/h5/pickup?agency=${AGENCY}#qr=`)).toBe(true);
    // Delivery takes the same ReceiptIssued on its own: wait until it holds the receipt.
    const deliveryDb = t.platform.databases.get("delivery")!;
    await until(async () => {
      const rows = await deliveryDb.query("SELECT 1 FROM receipt WHERE number = $1", [receipt.number]);
      return rows.length === 1 ? true : undefined;
    }, 60_000);
    await page.click("#pickup");
    const card = page.locator("article.card");
    await expect.poll(() => card.count(), { timeout: 30_000, interval: 500 }).toBe(1);
    expect(await card.textContent()).toContain(receipt.number);
    expect(await card.textContent()).toContain(yuan(due.totalFen));
    await page.context().close();
  });

  it("pays by WeChat Pay H5 the same way (the payer's address goes in the order)", async () => {
    const { id, due, qrUrl } = await decide("JJ-CASHIER-0002");
    const page = await phone();
    await page.goto(qrUrl);
    await expect.poll(() => page.locator("#amount").textContent()).toBe(yuan(due.totalFen));
    await page.locator("label[for=ch-wechat]").click();
    await Promise.all([page.waitForURL(/\/cgi-bin\/mmpayweb-bin\/checkmweb\?/), page.click("#payButton")]);
    expect(await page.locator("#amount").textContent()).toBe(`￥${(due.totalFen / 100).toFixed(2)}`);
    await Promise.all([page.waitForURL((u) => u.pathname === new URL(qrUrl).pathname), page.click("#pay")]);
    await expect.poll(() => page.locator("#paid").count(), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => page.locator("#pickup").count(), { timeout: 60_000, interval: 500 }).toBe(1);
    const orders = await t.call("GET", `/v1/payments/${id}/orders`);
    expect(orders.body.items).toEqual([
      expect.objectContaining({ channel: "wechat", scene: "wap", status: "PAID", amountFen: due.totalFen }),
    ]);
    await page.context().close();
  });

  it("pays by UnionPay: our hand-over page posts the signed frontTransReq form to the gateway, and back", async () => {
    const { id, due, qrUrl } = await decide("JJ-CASHIER-0005");
    const page = await phone();
    await page.goto(qrUrl);
    await expect.poll(() => page.locator("#amount").textContent()).toBe(yuan(due.totalFen));
    await page.locator("label[for=ch-unionpay]").click();
    await Promise.all([page.waitForURL(/\/h5\/pay\/[^/]+\/go\/P\d{8}/), page.click("#payButton")]);
    // The payer's tap posts the form (UnionPay's gateway takes no GET) to the gateway's pay page.
    await Promise.all([page.waitForURL(/\/gateway\/api\/frontTransReq\.do$/), page.click("#go")]);
    expect(await page.locator("#amount").textContent()).toBe(`￥${(due.totalFen / 100).toFixed(2)}`);
    await page.click("#pay");
    // 前台通知: UnionPay's page posts the signed result back to frontUrl, the cashier's link.
    await Promise.all([page.waitForURL((u) => u.pathname === new URL(qrUrl).pathname), page.click("#back")]);
    await expect.poll(() => page.locator("#paid").count(), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => page.locator("#pickup").count(), { timeout: 60_000, interval: 500 }).toBe(1);
    const orders = await t.call("GET", `/v1/payments/${id}/orders`);
    expect(orders.body.items).toEqual([
      expect.objectContaining({ channel: "unionpay", scene: "wap", status: "PAID", amountFen: due.totalFen }),
    ]);
    expect(unionpay.sim.badSignatures).toBe(0);
    await page.context().close();
  });

  it("says plainly that a closed payment cannot be paid, and offers no channel", async () => {
    const { id, qrUrl } = await decide("JJ-CASHIER-0003", "2099-12-31");
    const closed = await signed("POST", `/api/v1/payments/${id}/close`, { reason: "决定书已撤销" });
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    const page = await phone();
    await page.goto(qrUrl);
    await expect.poll(() => page.locator("#ended").count()).toBe(1);
    const text = String(await page.locator("#ended").textContent());
    expect(text).toContain("该缴款已关闭，不能再支付");
    expect(text).toContain("This payment is closed");
    expect(await page.locator("#payButton").count()).toBe(0);
    expect(await page.locator(".channels").count()).toBe(0);
    await page.screenshot({ path: join(IMAGES, "cashier-closed.png"), fullPage: true });
    await page.context().close();
  });

  it("answers a wrong token with 404 and a page that gives no hint", async () => {
    const { id, qrUrl } = await decide("JJ-CASHIER-0004");
    const base = new URL(qrUrl);
    const token = base.pathname.split("/").pop()!;
    const page = await phone();
    for (const wrong of [
      `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`,
      randomBytes(32).toString("base64url"),
      id,
    ]) {
      const response = await page.goto(`${base.origin}/h5/pay/${wrong}`);
      expect(response?.status(), wrong).toBe(404);
      const text = String(await page.locator("body").textContent());
      expect(text).toContain("链接无效");
      expect(text).not.toMatch(/张|23010|¥/);
    }
    await page.context().close();
  });
});
