import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testIdentity } from "@piaoju/access/testing";
import { signCallback } from "@piaoju/business-client";
import { topics } from "@piaoju/contracts";
import { callerHeaders, startTestPlatform, TEST_TOKEN, type TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { deliveryService } from "./main.ts";
import {
  AGENCY,
  eventually,
  issuedEnvelope,
  issuedReceipt,
  makeSigners,
  redFlushedEnvelope,
  SECRETS_KEY,
  type Signers,
  startReceiver,
  startSmtpSink,
} from "./testing/fixtures.ts";

const WEBHOOK_SECRET = "w".repeat(40);
/** Receipts whose webhook the receiver refuses: first a few times, or always. */
const refuse = new Map<string, number>();

let t: TestPlatform;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let webhook: Awaited<ReturnType<typeof startReceiver>>;
let sms: Awaited<ReturnType<typeof startReceiver>>;
let signers: Signers;

beforeAll(async () => {
  signers = await makeSigners();
  smtp = await startSmtpSink();
  sms = await startReceiver();
  webhook = await startReceiver((r) => {
    const { number } = JSON.parse(r.body.toString("utf8")) as { number: string };
    const left = refuse.get(number) ?? 0;
    if (left === 0) return 200;
    refuse.set(number, left - 1);
    return 503;
  });
  t = await startTestPlatform({
    mode: "cluster",
    services: [deliveryService],
    kafkaBrokers: inject("kafkaBrokers"),
    env: {
      PIAOJU_SECRETS_KEY: SECRETS_KEY,
      PIAOJU_SMTP_URL: smtp.url,
      PIAOJU_SMS_URL: sms.url,
      PIAOJU_PUBLIC_URL: "https://piaoju.example.test",
      PIAOJU_DELIVERY_MAX_ATTEMPTS: "3",
      PIAOJU_DELIVERY_BACKOFF_MS: "100",
      PIAOJU_DELIVERY_POLL_MS: "100",
    },
  });
  const set = await t.call("PUT", `/v1/delivery/agencies/${AGENCY}/channels`, {
    email: true,
    sms: true,
    webhook: { url: webhook.url, secret: WEBHOOK_SECRET },
  });
  expect(set.status).toBe(200);
});

afterAll(async () => {
  await t?.stop();
  await smtp?.stop();
  await webhook?.stop();
  await sms?.stop();
});

async function publish(...envelopes: ReturnType<typeof issuedEnvelope>[]) {
  await t.probe.publish(envelopes.map((envelope) => ({ topic: topics.issuance, envelope })));
}

async function deliveriesOf(receiptId: string) {
  const res = await t.call("GET", `/v1/delivery/receipts/${receiptId}/deliveries`);
  return res.status === 200 ? (res.body.items as Array<Record<string, unknown>>) : [];
}

function pdfText(pdf: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "delivery-pdf-"));
  writeFileSync(join(dir, "r.pdf"), pdf);
  return execFileSync("pdftotext", ["-layout", join(dir, "r.pdf"), "-"], { encoding: "utf8" });
}

describe("delivery of an issued receipt", () => {
  it("mails the payer the receipt as a PDF that pdftotext reads: number, amount and 大写 amount", async () => {
    const receipt = issuedReceipt(signers, { number: "0000012345", bizSerialNo: "CRJ-0001" });
    await publish(issuedEnvelope(receipt));

    const mail = await eventually(() => smtp.mails.find((m) => m.subject?.includes("0000012345")));
    expect(mail.to && "text" in mail.to ? mail.to.text : "").toContain("wang@example.test");
    expect(mail.text).toContain("校验码：482913");
    const attachment = mail.attachments.find((a) => a.contentType === "application/pdf");
    expect(attachment?.filename).toBe("11010126-0000012345.pdf");
    const text = pdfText(attachment!.content);
    expect(text).toContain("0000012345");
    expect(text).toContain("160.50");
    expect(text).toContain("壹佰陆拾元伍角整");
    expect(text).toContain("北京市非税收入统一票据");
    expect(text).toContain("王小明");
    // Subset CJK font: the whole page with its Chinese text stays small.
    expect(attachment!.content.length).toBeLessThan(120_000);
  });

  it("texts the payer through the SMS gateway's JSON API, with a pick-up link that carries no personal data", async () => {
    const message = await eventually(() =>
      sms.received
        .map(
          (r) =>
            JSON.parse(r.body.toString("utf8")) as {
              to: string;
              template: string;
              params: Record<string, string>;
            },
        )
        .find((m) => m.params.number === "0000012345"),
    );
    expect(message.to).toBe("13800138000");
    expect(message.template).toBe("RECEIPT_ISSUED");
    expect(message.params).toMatchObject({ billCode: "11010126", checkCode: "482913", amount: "160.50" });
    expect(message.params.link).toMatch(/^https:\/\/piaoju\.example\.test\/h5\/pickup#qr=CZ-EI-11/);
    expect(message.params.link).not.toContain("王");
    expect(message.params.link).not.toContain("13800138000");
  });

  it("retries a failing webhook with backoff and signs every try with SM3-HMAC under the same delivery id", async () => {
    refuse.set("0000012346", 2);
    const receipt = issuedReceipt(signers, {
      number: "0000012346",
      bizSerialNo: "CRJ-0002",
      checkCode: "111222",
    });
    await publish(issuedEnvelope(receipt));

    const delivered = await eventually(async () =>
      (await deliveriesOf(receipt.receiptId)).find(
        (d) => d.channel === "WEBHOOK" && d.status === "DELIVERED",
      ),
    );
    expect(delivered.attempts).toBe(3);
    const tries = webhook.received.filter((r) => r.body.toString("utf8").includes('"number":"0000012346"'));
    expect(tries).toHaveLength(3);
    expect(new Set(tries.map((r) => r.headers["x-piaoju-delivery"]))).toEqual(new Set([delivered.id]));
    for (const r of tries) {
      const expected = signCallback(
        WEBHOOK_SECRET,
        String(r.headers["x-piaoju-timestamp"]),
        String(r.headers["x-piaoju-delivery"]),
        r.body,
      );
      expect(r.headers["x-piaoju-signature"]).toBe(expected);
    }
    const body = JSON.parse(tries[2]!.body.toString("utf8")) as Record<string, unknown>;
    expect(body).toMatchObject({ event: "receipt.issued", bizSerialNo: "CRJ-0002", totalFen: 16050 });
    expect(Buffer.from(String(body.pdf), "base64").subarray(0, 5).toString()).toBe("%PDF-");
    expect(JSON.stringify(body)).not.toContain("13800138000");
  });

  it("parks a webhook after its bounded tries, and a person's re-push delivers it and is audited", async () => {
    refuse.set("0000012347", 3);
    const receipt = issuedReceipt(signers, {
      number: "0000012347",
      bizSerialNo: "CRJ-0003",
      checkCode: "333444",
    });
    await publish(issuedEnvelope(receipt));

    const parked = await eventually(async () =>
      (await deliveriesOf(receipt.receiptId)).find((d) => d.channel === "WEBHOOK" && d.status === "PARKED"),
    );
    expect(parked.attempts).toBe(3);
    expect(parked.lastError).toBe("webhook answered 503");
    const failing = await t.call("GET", `/v1/delivery/deliveries?agencyCode=${AGENCY}&status=PARKED`);
    expect((failing.body.items as Array<{ id: string }>).map((d) => d.id)).toContain(parked.id);

    const repush = await t.call(
      "POST",
      `/v1/delivery/receipts/${receipt.receiptId}/deliveries/WEBHOOK/repush`,
    );
    expect(repush.status).toBe(200);
    const delivered = await eventually(async () =>
      (await deliveriesOf(receipt.receiptId)).find(
        (d) => d.channel === "WEBHOOK" && d.status === "DELIVERED",
      ),
    );
    expect(delivered.attempts).toBe(1);
    const audit = await t.platform.databases
      .get("delivery")!
      .query<{ actor: string; action: string }>(`SELECT actor, action FROM audit_log WHERE subject = $1`, [
        `receipt:${receipt.receiptId}`,
      ]);
    expect(audit).toEqual([{ actor: "zhang.san", action: "delivery.repush" }]);
  });

  it("keeps the payer's contacts SM4-sealed: neither the phone nor the e-mail is in the database in clear", async () => {
    const db = t.platform.databases.get("delivery")!;
    const rows = await db.query<{ dump: string }>(`SELECT row_to_json(r)::text AS dump FROM receipt r`);
    expect(rows.length).toBeGreaterThan(0);
    for (const { dump } of rows) {
      expect(dump).not.toContain("13800138000");
      expect(dump).not.toContain("wang@example.test");
      expect(dump).not.toContain("110101199003074514");
    }
  });

  it("renders the same receipt to the same bytes, as an A4 print for callers in the agency's scope only", async () => {
    const receipt = await eventually(async () => {
      const rows = await t.platform.databases
        .get("delivery")!
        .query<{ receipt_id: string }>(`SELECT receipt_id FROM receipt WHERE number = '0000012345'`);
      return rows[0]?.receipt_id;
    });
    const print = () =>
      fetch(`${t.platform.url}/v1/delivery/receipts/${receipt}/print`, {
        headers: {
          authorization: `Bearer ${TEST_TOKEN}`,
          ...callerHeaders(
            { "x-piaoju-actor": "li.si", "x-piaoju-agencies": AGENCY },
            "GET",
            `${t.platform.url}/v1/delivery/receipts/${receipt}/print`,
          ),
        },
      });
    const [a, b] = await Promise.all([print(), print()]);
    expect(a.headers.get("content-type")).toBe("application/pdf");
    const [bytesA, bytesB] = [Buffer.from(await a.arrayBuffer()), Buffer.from(await b.arrayBuffer())];
    expect(bytesA.equals(bytesB)).toBe(true);
    expect(execFileSync("pdfinfo", ["-"], { input: bytesA, encoding: "utf8" })).toMatch(
      /Page size:\s+595\.2\d? x 841\.8\d? pts \(A4\)/,
    );

    const outside = await fetch(`${t.platform.url}/v1/delivery/receipts/${receipt}/print`, {
      headers: {
        authorization: `Bearer ${TEST_TOKEN}`,
        ...callerHeaders(
          { "x-piaoju-actor": "li.si", "x-piaoju-agencies": "999" },
          "GET",
          `${t.platform.url}/v1/delivery/receipts/${receipt}/print`,
        ),
      },
    });
    expect(outside.status).toBe(403);
    // A clerk of another issuing point of the same agency: the receipt is WIN-01's.
    const clerkOf = (point: string) =>
      testIdentity({ actor: `clerk.${point}`, agency: AGENCY, roles: ["clerk"], issuingPoints: [point] });
    const path = `/v1/delivery/receipts/${receipt}/print`;
    const otherPoint = await fetch(`${t.platform.url}${path}`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}`, ...callerHeaders(clerkOf("WIN-02"), "GET", path) },
    });
    expect(otherPoint.status).toBe(403);
    const ownPoint = await fetch(`${t.platform.url}${path}`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}`, ...callerHeaders(clerkOf("WIN-01"), "GET", path) },
    });
    expect(ownPoint.headers.get("content-type")).toBe("application/pdf");
    expect(
      (await t.call("GET", `/v1/delivery/receipts/${receipt}/deliveries`, undefined, clerkOf("WIN-02"))).body
        .code,
    ).toBe("OUT_OF_SCOPE");
    const listed = await t.call(
      "GET",
      `/v1/delivery/deliveries?agencyCode=${AGENCY}`,
      undefined,
      clerkOf("WIN-02"),
    );
    expect((listed.body.items as Array<{ receiptId: string }>).some((d) => d.receiptId === receipt)).toBe(
      false,
    );
  });

  it("marks a red receipt as such, and tells the business system the original was red-flushed", async () => {
    const original = issuedReceipt(signers, {
      number: "0000012350",
      bizSerialNo: "CRJ-0010",
      checkCode: "555666",
    });
    await publish(issuedEnvelope(original));
    await eventually(async () => ((await deliveriesOf(original.receiptId)).length > 0 ? true : undefined));
    const red = issuedReceipt(signers, {
      number: "0000012351",
      bizSerialNo: "CRJ-0010",
      checkCode: "777888",
      kind: "red",
      originalReceiptId: original.receiptId,
      totalFen: -16050,
      items: [
        { itemCode: "103040101", itemName: "普通护照工本费", unit: "本", quantity: "1", amountFen: -16050 },
      ],
    });
    await publish(issuedEnvelope(red), redFlushedEnvelope(original, red));

    const redMail = await eventually(() => smtp.mails.find((m) => m.subject?.includes("0000012351")));
    expect(redMail.subject).toContain("电子票据冲红");
    const text = pdfText(redMail.attachments[0]!.content);
    expect(text).toMatch(/红\s*票/);
    expect(text).toContain("负壹佰陆拾元伍角整");
    expect(text).toContain("冲红原票据");

    const flushed = await eventually(() =>
      webhook.received
        .map((r) => JSON.parse(r.body.toString("utf8")) as Record<string, unknown>)
        .find((b) => b.event === "receipt.redFlushed" && b.number === "0000012350"),
    );
    expect(flushed.redFlush).toMatchObject({ billCode: "11010126", number: "0000012351", reason: "退费" });
  });

  it("answers which channels an agency is authorized for, and refuses bad channel settings naming the field", async () => {
    const res = await t.call("GET", `/v1/delivery/agencies/${AGENCY}/channels`);
    expect(res.body.channels).toEqual([
      { channel: "EMAIL", authorized: true, available: true },
      { channel: "SMS", authorized: true, available: true },
      { channel: "WEBHOOK", authorized: true, available: true },
    ]);
    const none = await t.call("GET", "/v1/delivery/agencies/220000001/channels");
    expect((none.body.channels as Array<{ authorized: boolean }>).every((c) => !c.authorized)).toBe(true);

    const bad = await t.call("PUT", "/v1/delivery/agencies/220000001/channels", {
      email: true,
      sms: false,
      webhook: { url: "ftp://x", secret: "short" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.issues?.map((i) => i.field).sort()).toEqual(["body.webhook.secret", "body.webhook.url"]);
    const after = await t.call("GET", "/v1/delivery/agencies/220000001/channels");
    expect(after.body.updatedBy).toBeNull();
  });
});
