import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { businessClient } from "@piaoju/business-client";
import {
  createEnvelope,
  type Envelope,
  ReceiptRequested,
  ReceiptSigned,
  ReceiptSupervised,
  signedContentOf,
  topics,
} from "@piaoju/contracts";
import { deliveryService } from "@piaoju/delivery";
import { makeSigners, startReceiver, startSmtpSink } from "@piaoju/delivery/testing";
import { gatewayService } from "@piaoju/gateway";
import { issuanceService } from "@piaoju/issuance";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { stockService } from "@piaoju/stock";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { prepareAgency, succeeding } from "../support/agency.ts";

const AGENCY = "110103";
const BILL = "11010126";

/**
 * 即缴即开，在线取票, end to end on PostgreSQL and Kafka: a business system issues a receipt on the
 * business API; the agency's and finance's signatures (real SM2 PKCS#7 over the document
 * issuance built) come back over the bus as the signing gateway and finance-exchange would
 * send them; issuance's ReceiptIssued reaches delivery, which mails the payer the PDF, pushes
 * the business system's webhook, and lets the payer pick the receipt up and verify it.
 */
describe("an issued receipt reaches the payer (cluster)", () => {
  let t: TestPlatform;
  let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
  let webhook: Awaited<ReturnType<typeof startReceiver>>;
  let signers: Awaited<ReturnType<typeof makeSigners>>;
  let app: { appId: string; appSecret: string };
  const requested = new Map<string, Buffer>();
  let stopWatch = async () => {};

  beforeAll(async () => {
    signers = await makeSigners();
    smtp = await startSmtpSink();
    webhook = await startReceiver();
    t = await startTestPlatform({
      mode: "cluster",
      services: [stockService, issuanceService, gatewayService, deliveryService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_CHECK_CODE_KEY: randomBytes(16).toString("hex"),
        PIAOJU_SMTP_URL: smtp.url,
        PIAOJU_DELIVERY_POLL_MS: "100",
      },
    });
    app = await prepareAgency(t, {
      agency: AGENCY,
      bill: BILL,
      startNumber: "0000300001",
      endNumber: "0000300100",
      points: [{ code: "WIN-01", name: "一号窗口", rule: { threshold: 5, batchSize: 20 } }],
      appPoints: ["WIN-01"],
    });
    const ok = succeeding(t);
    await ok("PUT", `/v1/delivery/agencies/${AGENCY}/channels`, {
      email: true,
      sms: false,
      webhook: { url: webhook.url, secret: "s".repeat(40) },
    });
    const watch = await t.probe.subscribe({
      group: `watch-${randomUUID().slice(0, 8)}`,
      topics: [topics.issuance],
      handler: async (m) => {
        if (m.envelope.type !== ReceiptRequested.type) return;
        const data = m.envelope.data as { receiptId: string; document: string };
        requested.set(data.receiptId, Buffer.from(data.document, "base64"));
      },
    });
    stopWatch = () => watch.stop();
  });

  afterAll(async () => {
    await stopWatch();
    await t?.stop();
    await smtp?.stop();
    await webhook?.stop();
  });

  const publish = (topic: string, envelope: Envelope) => t.probe.publish([{ topic, envelope }]);

  it("mails the payer the signed receipt, pushes it to the business system, and the payer picks it up and finds it authentic", async () => {
    const signed = businessClient({ baseUrl: t.platform.url, ...app });
    const res = await signed("POST", "/api/v1/receipts", {
      issuingPointCode: "WIN-01",
      billCode: BILL,
      bizSerialNo: "CRJ-E2E-0001",
      payer: { type: 1, code: "11010519491231002X", name: "张三", email: "zhang.san@example.test" },
      items: [{ itemCode: "001", quantity: "2", amountFen: 24000 }],
      totalFen: 24000,
      payMode: "wechat",
      handlingPerson: "window-01",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const receiptId = String(res.body.id);
    const document = await until(() => requested.get(receiptId));
    const { agencySignature, financeSignature } = signers.sign(signedContentOf(document)); // Header + EInvoiceData (version 1.2.0);

    await publish(
      topics.signing,
      createEnvelope(
        ReceiptSigned,
        {
          receiptId,
          agencyCode: AGENCY,
          documentSm3: String(res.body.documentSm3),
          signature: agencySignature,
          certificateSm3: "a".repeat(64),
          keyId: `agency-${AGENCY}`,
          signedAt: new Date().toISOString(),
        },
        { producer: "signing" },
      ),
    );
    await until(async () =>
      (await signed("GET", `/api/v1/receipts/${receiptId}/status`)).body.status === "AGENCY_SIGNED"
        ? true
        : undefined,
    );
    await publish(
      topics.finance,
      createEnvelope(
        ReceiptSupervised,
        {
          receiptId,
          agencyCode: AGENCY,
          billCode: BILL,
          number: String(res.body.number),
          financeSignature,
          financeCertificateSm3: "f".repeat(64),
          financeRef: `FIN-${String(res.body.number)}`,
          supervisedAt: new Date().toISOString(),
        },
        { producer: "finance-exchange" },
      ),
    );

    const mail = await until(() => smtp.mails.find((m) => m.subject?.includes(String(res.body.number))));
    const pdf = mail.attachments.find((a) => a.contentType === "application/pdf")!.content;
    const text = execFileSync("pdftotext", ["-layout", "-", "-"], { input: pdf, encoding: "utf8" });
    expect(text).toContain(String(res.body.number));
    expect(text).toContain("240.00");
    expect(text).toContain("贰佰肆拾元整");
    expect(text).toContain("护照工本费");

    const pushed = await until(() =>
      webhook.received
        .map((r) => JSON.parse(r.body.toString("utf8")) as Record<string, unknown>)
        .find((b) => b.receiptId === receiptId),
    );
    expect(pushed).toMatchObject({ event: "receipt.issued", bizSerialNo: "CRJ-E2E-0001", totalFen: 24000 });

    const found = await fetch(`${t.platform.url}/h5/api/find`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        method: "serial",
        bizSerialNo: "CRJ-E2E-0001",
        name: "张三",
        agencyCode: AGENCY,
      }),
    });
    const items = ((await found.json()) as { items: Array<{ token: string; number: string }> }).items;
    expect(items.map((i) => i.number)).toEqual([res.body.number]);
    const verified = await fetch(`${t.platform.url}/h5/api/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: items[0]!.token }),
    });
    expect(await verified.json()).toMatchObject({
      authentic: true,
      documentIntact: true,
      agency: { valid: true },
      finance: { valid: true },
      status: "ISSUED",
    });
  });
});

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}
