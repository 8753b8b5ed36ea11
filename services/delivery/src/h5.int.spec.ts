import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { signaturesOf, topics, unsignedDocumentOf } from "@piaoju/contracts";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { deliveryService } from "./main.ts";
import {
  AGENCY,
  eventually,
  issuedEnvelope,
  issuedReceipt,
  makeSigners,
  paperExchangedEnvelope,
  SECRETS_KEY,
  startReceiver,
  trustEnvelopes,
} from "./testing/fixtures.ts";

/** Screenshots are kept as test artifacts here (the repository's test-results/, not committed). */
const ARTIFACTS = resolve(import.meta.dirname, "../../../test-results/delivery");
const CHROMIUM = process.env.PIAOJU_CHROMIUM ?? "/usr/bin/chromium";
const RATE_LIMIT = 120;

let t: TestPlatform;
let sms: Awaited<ReturnType<typeof startReceiver>>;
let browser: Browser;
let zhaoReceipt: ReturnType<typeof issuedReceipt>;
const wang = { type: 1 as const, code: "110101199003074514", name: "王小明", phone: "13800138000" };
const qian = { type: 1 as const, code: "110101198001010011", name: "钱多多" };
const zhao = { type: 1 as const, code: "11010519491231002X", name: "赵大海", phone: "13900139000" };

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const signers = await makeSigners();
  sms = await startReceiver();
  // Embedded mode (PGlite, embedded bus): the pick-up page works the same in both modes.
  t = await startTestPlatform({
    mode: "embedded",
    services: [deliveryService],
    kafkaBrokers: inject("kafkaBrokers"),
    env: {
      PIAOJU_SECRETS_KEY: SECRETS_KEY,
      PIAOJU_SMS_URL: sms.url,
      PIAOJU_H5_RATE_LIMIT: String(RATE_LIMIT),
      PIAOJU_H5_FRAME_ANCESTORS: "https://www.bjgaj.example.test",
    },
  });
  // Supervised now: the test CA's certificates are new, and 查验 chains them as of supervision.
  const supervisedAt = new Date().toISOString();
  const receipts = [
    issuedReceipt(signers, { number: "0000020001", bizSerialNo: "CRJ-H5-0001", payer: wang, supervisedAt }),
    issuedReceipt(signers, {
      number: "0000020002",
      bizSerialNo: "CRJ-H5-0002",
      payer: zhao,
      checkCode: "901234",
      supervisedAt,
    }),
  ];
  // Signed under a CA nobody published: authentic-looking, but it chains to nothing trusted.
  const stranger = await makeSigners();
  receipts.push(
    issuedReceipt(stranger, { number: "0000020003", bizSerialNo: "CRJ-H5-0003", payer: qian, supervisedAt }),
  );
  // Supervised (the fixture's date) before the test CA's certificates were made: not valid then.
  receipts.push(issuedReceipt(signers, { number: "0000020004", bizSerialNo: "CRJ-H5-0004", payer: qian }));
  zhaoReceipt = receipts[1]!;
  await t.probe.publish(receipts.map((r) => ({ topic: topics.issuance, envelope: issuedEnvelope(r) })));
  // The agency CA and finance's certificate, as the signing gateway and finance-exchange publish them.
  const trust = trustEnvelopes(signers);
  await t.probe.publish([
    { topic: topics.signing, envelope: trust[0]! },
    { topic: topics.finance, envelope: trust[1]! },
  ]);
  await eventually(async () => {
    const db = t.platform.databases.get("delivery")!;
    const rows = await db.query(`SELECT 1 FROM receipt`);
    const trusted = await db.query(`SELECT 1 FROM trusted_certificate`);
    return rows.length === 4 && trusted.length === 2 ? true : undefined;
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

afterAll(async () => {
  await browser?.close();
  await t?.stop();
  await sms?.stop();
});

async function openPage(hash = ""): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    acceptDownloads: true,
    locale: "zh-CN",
  });
  const page = await context.newPage();
  await page.goto(`${t.platform.url}/h5/pickup?agency=${AGENCY}${hash}`);
  return page;
}

async function pickUp(body: unknown) {
  const res = await fetch(`${t.platform.url}/h5/api/find`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { items?: Array<Record<string, string>> } };
}

describe("the H5 pick-up page", () => {
  it("finds a receipt by business serial number and name, downloads its PDF and verifies it, in Chromium", async () => {
    const page = await openPage();
    await page.fill("#bizSerialNo", "CRJ-H5-0001");
    await page.fill("#payerName", "王小明");
    await page.click("#serial button[type=submit]");
    const card = page.locator("article.card");
    await expect.poll(() => card.count()).toBe(1);
    const shown = await card.textContent();
    expect(shown).toContain("0000020001");
    expect(shown).toContain("¥160.50");
    expect(shown).toContain("壹佰陆拾元伍角整");
    expect(shown).toContain("王*明");
    expect(shown).not.toContain("赵大海");

    await card.getByText("查验真伪").click();
    await expect.poll(() => card.locator(".verify").textContent()).toContain("票据真实有效");
    expect(await card.locator(".verify").textContent()).toContain("CN=北京市财政局");
    await page.screenshot({ path: join(ARTIFACTS, "h5-pickup.png"), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent("download"), card.getByText("下载 PDF").click()]);
    expect(download.suggestedFilename()).toBe("11010126-0000020001.pdf");
    const file = join(ARTIFACTS, "downloaded.pdf");
    await download.saveAs(file);
    const text = execFileSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" });
    expect(text).toContain("0000020001");
    expect(text).toContain("壹佰陆拾元伍角整");
    expect(readFileSync(file).subarray(0, 5).toString()).toBe("%PDF-");
    await page.context().close();
  });

  it("verifies in the browser too, over the exact bytes served, beside the server's answer; a tampered document is not verified there", async () => {
    const page = await openPage();
    await page.fill("#bizSerialNo", "CRJ-H5-0001");
    await page.fill("#payerName", "王小明");
    await page.click("#serial button[type=submit]");
    const card = page.locator("article.card");
    await expect.poll(() => card.count()).toBe(1);
    await card.getByText("查验真伪").click();
    const verdict = (side: string) => card.locator(`[data-check=${side}] [data-verdict]`);
    await expect.poll(() => verdict("browser").getAttribute("data-verdict")).toBe("verified");
    expect(await verdict("server").getAttribute("data-verdict")).toBe("verified");
    const shown = await card.locator(".verify").textContent();
    expect(shown).toContain("已核验至平台信任的证书");
    expect(shown).toContain("证书链至受信任 CA"); // the agency's certificate, under the published CA
    expect(shown).toContain("证书已固定"); // finance's, pinned as published
    await page.screenshot({ path: join(ARTIFACTS, "h5-verify.png"), fullPage: true });
    await page.context().close();

    // The same receipt, its document altered on the way to the browser: the browser's own check says so.
    const tampered = await openPage();
    await tampered.route("**/h5/api/receipts/*/document", async (route) => {
      const original = await route.fetch();
      const body = Buffer.from(await original.body());
      const at = body.indexOf("<EInvoiceNumber>0000020001<");
      expect(at).toBeGreaterThan(0);
      body.write("<EInvoiceNumber>0000020009<", at, "utf8"); // another number, same length
      await route.fulfill({ response: original, body });
    });
    await tampered.fill("#bizSerialNo", "CRJ-H5-0001");
    await tampered.fill("#payerName", "王小明");
    await tampered.click("#serial button[type=submit]");
    const card2 = tampered.locator("article.card");
    await expect.poll(() => card2.count()).toBe(1);
    await card2.getByText("查验真伪").click();
    const verdict2 = (side: string) => card2.locator(`[data-check=${side}] [data-verdict]`);
    await expect.poll(() => verdict2("browser").getAttribute("data-verdict")).toBe("not-verified");
    const text = await card2.locator("[data-check=browser]").textContent();
    expect(text).toContain("文档已被改动");
    expect(text).toContain("与开具时不一致");
    // The server checked its own copy, which nobody touched.
    expect(await verdict2("server").getAttribute("data-verdict")).toBe("verified");
    await tampered.screenshot({ path: join(ARTIFACTS, "h5-verify-tampered.png"), fullPage: true });
    await tampered.context().close();

    // The stored bytes intact but the agency's SM2 signature value inside the served document's
    // <EInvoiceSignature> altered (its last byte: the end of s): the digest still matches, and
    // only the SM2 check in the browser can refuse it (it checks the signatures the document carries).
    const forged = await openPage();
    await forged.route("**/h5/api/receipts/*/document", async (route) => {
      const original = await route.fetch();
      const xml = (await original.body()).toString("utf8");
      const m = /<InvoicingPartySignature>.*?<SignatureValue>([^<]+)<\/SignatureValue>/.exec(xml);
      expect(m?.[1]).toBeDefined();
      const der = Buffer.from(m![1]!, "base64");
      der[der.length - 1]! ^= 0x01;
      await route.fulfill({ response: original, body: xml.replace(m![1]!, der.toString("base64")) });
    });
    await forged.fill("#bizSerialNo", "CRJ-H5-0001");
    await forged.fill("#payerName", "王小明");
    await forged.click("#serial button[type=submit]");
    const card3 = forged.locator("article.card");
    await expect.poll(() => card3.count()).toBe(1);
    await card3.getByText("查验真伪").click();
    const browser3 = card3.locator("[data-check=browser]");
    await expect
      .poll(() => browser3.locator("[data-verdict]").getAttribute("data-verdict"))
      .toBe("not-verified");
    const said = await browser3.textContent();
    expect(said).toContain("单位签名 Agency：签名无效");
    expect(said).toContain("财政监制 Finance：有效");
    expect(said).toContain("与开具时一致");
    await forged.context().close();
  });

  it("serves the exact signed bytes and both signatures by pick-up token, and the certificates it trusts", async () => {
    const found = await pickUp({ method: "serial", bizSerialNo: "CRJ-H5-0002", name: "赵大海" });
    const token = found.body.items![0]!.token!;
    const doc = await fetch(`${t.platform.url}/h5/api/receipts/${token}/document`);
    expect(doc.headers.get("content-type")).toContain("application/xml");
    const bytes = Buffer.from(await doc.arrayBuffer());
    // The stored bytes with both signatures inside <EInvoiceSignature>, which taken out gives them back.
    const stored = Buffer.from(zhaoReceipt.document, "base64");
    expect(bytes.equals(stored)).toBe(false);
    expect(unsignedDocumentOf(bytes).equals(stored)).toBe(true);
    expect(signaturesOf(bytes)).toMatchObject({
      agency: { value: zhaoReceipt.agencySignature },
      finance: { value: zhaoReceipt.financeSignature },
    });
    const sigs = (await (
      await fetch(`${t.platform.url}/h5/api/receipts/${token}/signatures`)
    ).json()) as Record<string, string>;
    expect(sigs).toMatchObject({
      documentSm3: zhaoReceipt.documentSm3,
      agencySignature: zhaoReceipt.agencySignature,
      financeSignature: zhaoReceipt.financeSignature,
    });
    const trust = (await (await fetch(`${t.platform.url}/h5/api/trust`)).json()) as {
      source: string;
      certificates: Array<{ role: string; subject: string }>;
    };
    expect(trust.source).toBe("published");
    expect(trust.certificates.map((c) => c.role).sort()).toEqual(["AGENCY_CA", "FINANCE_SUPERVISION"]);
    const forged = await fetch(`${t.platform.url}/h5/api/receipts/${"A".repeat(50)}/document`);
    expect(forged.status).toBe(404);
  });

  it("does not call a receipt authentic whose agency certificate chains to no published CA, on the server or in the browser", async () => {
    const found = await pickUp({ method: "serial", bizSerialNo: "CRJ-H5-0003", name: "钱多多" });
    const res = await fetch(`${t.platform.url}/h5/api/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: found.body.items?.[0]?.token }),
    });
    expect(await res.json()).toMatchObject({
      authentic: false,
      documentIntact: true,
      chained: true,
      agency: { valid: false, reason: expect.stringContaining("certificate chain") },
      finance: { valid: false },
    });
    const page = await openPage();
    await page.fill("#bizSerialNo", "CRJ-H5-0003");
    await page.fill("#payerName", "钱多多");
    await page.click("#serial button[type=submit]");
    const card = page.locator("article.card");
    await expect.poll(() => card.count()).toBe(1);
    await card.getByText("查验真伪").click();
    const browser = card.locator("[data-check=browser]");
    await expect
      .poll(() => browser.locator("[data-verdict]").getAttribute("data-verdict"))
      .toBe("not-verified");
    expect(await browser.textContent()).toContain("证书不受信任");
    await page.context().close();
  });

  it("does not call a receipt authentic whose certificates were not valid when it was supervised, on the server or in the browser", async () => {
    const found = await pickUp({ method: "serial", bizSerialNo: "CRJ-H5-0004", name: "钱多多" });
    const res = await fetch(`${t.platform.url}/h5/api/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: found.body.items?.[0]?.token }),
    });
    expect(await res.json()).toMatchObject({
      authentic: false,
      agency: { valid: false, reason: expect.stringContaining("is not valid at") },
    });
    const page = await openPage();
    await page.fill("#bizSerialNo", "CRJ-H5-0004");
    await page.fill("#payerName", "钱多多");
    await page.click("#serial button[type=submit]");
    const card = page.locator("article.card");
    await expect.poll(() => card.count()).toBe(1);
    await card.getByText("查验真伪").click();
    const browser = card.locator("[data-check=browser]");
    await expect
      .poll(() => browser.locator("[data-verdict]").getAttribute("data-verdict"))
      .toBe("not-verified");
    expect(await browser.textContent()).toContain("证书当时不在有效期内");
    await page.context().close();
  });

  it("opens a receipt from its QR code link, the QR text travelling in the fragment only", async () => {
    const qr = "CZ-EI-11,11010126,0000020002,901234,20261130,160.50";
    const page = await openPage(`#qr=${encodeURIComponent(qr)}`);
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    const card = page.locator("article.card");
    await expect.poll(() => card.count()).toBe(1);
    expect(await card.textContent()).toContain("0000020002");
    expect(await card.textContent()).toContain("赵*海");
    // The page drops the fragment once read, and no request URL carried it.
    expect(page.url()).not.toContain("#qr");
    expect(requests.every((u) => !u.includes("901234"))).toBe(true);
    await page.context().close();
  });

  it("finds a payer's receipts by phone and a code sent by SMS, and by nothing else", async () => {
    const page = await openPage();
    await page.click('[data-tab="phone"]');
    await page.fill("#phoneNo", "13800138000");
    await page.click("#sendCode");
    const sent = await eventually(() =>
      sms.received
        .map(
          (r) =>
            JSON.parse(r.body.toString("utf8")) as { to: string; template: string; params: { code: string } },
        )
        .find((m) => m.template === "PICKUP_CODE" && m.to === "13800138000"),
    );
    await page.fill("#smsCode", sent.params.code);
    await page.click("#phone button[type=submit]");
    const card = page.locator("article.card");
    await expect.poll(() => card.count()).toBe(1);
    expect(await card.textContent()).toContain("0000020001");
    await page.context().close();

    // The code was used up; a guessed one is refused.
    const again = await pickUp({ method: "phone", phone: "13800138000", code: sent.params.code });
    expect(again.status).toBe(400);
  });

  it("says when a receipt was exchanged for paper, and again when the paper was taken back", async () => {
    const statusOf = async () => {
      const found = await pickUp({
        method: "check",
        billCode: "11010126",
        number: "0000020002",
        checkCode: "901234",
      });
      const res = await fetch(`${t.platform.url}/h5/api/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: found.body.items?.[0]?.token }),
      });
      return (await res.json()) as { authentic: boolean; status: string; statusText: string };
    };
    // Waiting reads the database: polling the page's API would spend the client's rate limit.
    const stored = (status: string) =>
      eventually(async () => {
        const rows = await t.platform.databases
          .get("delivery")!
          .query<{ status: string }>(`SELECT status FROM receipt WHERE number = '0000020002'`);
        return rows[0]?.status === status ? true : undefined;
      });
    await t.probe.publish([{ topic: topics.issuance, envelope: paperExchangedEnvelope(zhaoReceipt, false) }]);
    await stored("PAPER_EXCHANGED");
    expect(await statusOf()).toMatchObject({
      authentic: true,
      status: "PAPER_EXCHANGED",
      statusText: expect.stringContaining("已换开纸质票据"),
    });
    await t.probe.publish([{ topic: topics.issuance, envelope: paperExchangedEnvelope(zhaoReceipt, true) }]);
    await stored("ISSUED");
    expect(await statusOf()).toMatchObject({ status: "ISSUED", statusText: "已开具，正常" });
  });

  it("shows nothing of another payer: wrong name, wrong check code, another agency", async () => {
    expect(
      (await pickUp({ method: "serial", bizSerialNo: "CRJ-H5-0001", name: "赵大海" })).body.items,
    ).toEqual([]);
    const wrongCheck = { method: "check", billCode: "11010126", number: "0000020002", checkCode: "000000" };
    expect((await pickUp(wrongCheck)).body.items).toEqual([]);
    const otherAgency = { method: "serial", bizSerialNo: "CRJ-H5-0001", name: "王小明", agencyCode: "999" };
    expect((await pickUp(otherAgency)).body.items).toEqual([]);
    const found = await pickUp({ method: "serial", bizSerialNo: "CRJ-H5-0001", name: "王小明" });
    expect(JSON.stringify(found.body)).not.toContain("13800138000");
    expect(JSON.stringify(found.body)).not.toContain("110101199003074514");
  });

  it("may be embedded only where the agency allows, and asks for a new lookup once a download link is forged", async () => {
    const page = await fetch(`${t.platform.url}/h5/pickup`);
    expect(page.headers.get("content-security-policy")).toContain(
      "frame-ancestors https://www.bjgaj.example.test",
    );
    expect(page.headers.get("x-frame-options")).toBeNull();
    const forged = await fetch(
      `${t.platform.url}/h5/api/receipts/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/pdf`,
    );
    expect(forged.status).toBe(404);
  });

  it("rate-limits SMS codes per client address", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < RATE_LIMIT / 6 + 1; i++) {
      const res = await fetch(`${t.platform.url}/h5/api/sms-code`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ phone: "13700137000" }),
      });
      statuses.push(res.status);
    }
    expect(statuses[0]).toBe(202);
    expect(statuses.at(-1)).toBe(429);
  });
});
