import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Bus } from "@piaoju/bus";
import { createEnvelope, type Envelope, ReceiptRequested, topics } from "@piaoju/contracts";
import { Certificate, sm3, verifySignedData } from "@piaoju/gm-crypto";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { testPki } from "@piaoju/service-identity/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  makeKeystore,
  type RunningTestDevice,
  spawnDevice,
  type TestKeystore,
} from "../../../test/support/signing-device.ts";
import { signingGatewayService } from "./main.ts";
import { until } from "./testing/load.ts";

const AGENCY = "110101"; // makeKeystore() holds agency-110101 with a dev-CA certificate

function receiptRequest(agencyCode: string, document: Buffer, documentSm3 = sm3(document).toString("hex")) {
  return createEnvelope(
    ReceiptRequested,
    {
      receiptId: randomUUID(),
      agencyCode,
      issuingPointCode: "P001",
      bizSerialNo: `BIZ-${randomUUID().slice(0, 8)}`,
      billCode: "11010126",
      number: "0000000001",
      checkCode: "123456",
      totalFen: 5000,
      payerType: 1,
      issuedAt: new Date().toISOString(),
      documentSm3,
      document: document.toString("base64"),
      kind: "blue",
    },
    { producer: "issuance" },
  );
}

async function watchSigning(probe: Bus): Promise<{ seen: Envelope[]; stop(): Promise<void> }> {
  const seen: Envelope[] = [];
  const watch = await probe.subscribe({
    group: `watch-${randomUUID().slice(0, 8)}`,
    topics: [topics.signing],
    handler: async (m) => {
      seen.push(m.envelope);
    },
  });
  return { seen, stop: () => watch.stop() };
}

const forReceipt = (seen: Envelope[], receiptId: string) =>
  seen.filter((e) => (e.data as { receiptId?: string }).receiptId === receiptId);

describe("signing gateway on the bus (cluster: Kafka, PostgreSQL, two device processes)", () => {
  let keystore: TestKeystore;
  const devices: RunningTestDevice[] = [];
  let test: TestPlatform;

  beforeAll(async () => {
    keystore = makeKeystore();
    for (let i = 0; i < 2; i++) {
      devices.push(await spawnDevice(keystore, { PIAOJU_SIGNING_DEVICE_WORKERS: "1" }));
    }
    test = await startTestPlatform({
      mode: "cluster",
      services: [signingGatewayService],
      kafkaBrokers: inject("kafkaBrokers"),
      env: {
        PIAOJU_SIGNING_DEVICES: devices.map((d) => `127.0.0.1:${d.port}`).join(","),
        PIAOJU_SIGNING_GATEWAY_LISTEN: "127.0.0.1:0",
        PIAOJU_SIGNING_GATEWAY_TLS_DIR: await (await testPki()).tlsDir("signing-gateway"),
      },
    });
  });

  afterAll(async () => {
    await test?.stop();
    for (const d of devices) await d.stop();
  });

  it("answers a ReceiptRequested with exactly one ReceiptSigned whose detached PKCS#7 verifies against the document; a replay changes nothing", async () => {
    const watch = await watchSigning(test.probe);
    const document = Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?><Receipt><Amount>50.00</Amount></Receipt>`,
    );
    const request = receiptRequest(AGENCY, document);
    const receiptId = (request.data as { receiptId: string }).receiptId;
    await test.probe.publish([{ topic: topics.issuance, envelope: request }]);
    await until(() => forReceipt(watch.seen, receiptId).length > 0, 30_000, "ReceiptSigned");

    // The same request again (a redelivery) and under a new event id (issuance republished it).
    await test.probe.publish([{ topic: topics.issuance, envelope: request }]);
    await test.probe.publish([{ topic: topics.issuance, envelope: { ...request, id: randomUUID() } }]);
    const marker = receiptRequest(AGENCY, Buffer.from("<Receipt>after the replay</Receipt>"));
    await test.probe.publish([{ topic: topics.issuance, envelope: marker }]);
    const markerId = (marker.data as { receiptId: string }).receiptId;
    await until(() => forReceipt(watch.seen, markerId).length > 0, 30_000, "the marker's ReceiptSigned");
    await new Promise((r) => setTimeout(r, 500));

    const answers = forReceipt(watch.seen, receiptId);
    expect(answers.map((a) => a.type)).toEqual(["signing.ReceiptSigned"]);
    const signed = answers[0]!.data as {
      signature: string;
      documentSm3: string;
      certificateSm3: string;
      keyId: string;
    };
    expect(signed.keyId).toBe(`agency-${AGENCY}`);
    expect(signed.documentSm3).toBe(sm3(document).toString("hex"));
    const der = Buffer.from(signed.signature, "base64");
    const verified = verifySignedData(der, { content: document });
    expect(verified).toMatchObject({ valid: true });
    expect(sm3(verified.signer!.toDer()).toString("hex")).toBe(signed.certificateSm3);
    expect(verifySignedData(der, { content: Buffer.from("<Receipt>tampered</Receipt>") }).valid).toBe(false);
    const rows = await test.platform.databases
      .get("signing-gateway")!
      .query("SELECT outcome FROM receipt_signature WHERE receipt_id = $1::uuid", [receiptId]);
    expect(rows).toEqual([{ outcome: "SIGNED" }]);
    await watch.stop();
  });

  it("refuses, once, a receipt of an agency with no key on the devices, and one whose document does not match its digest", async () => {
    const watch = await watchSigning(test.probe);
    const noKey = receiptRequest("999999", Buffer.from("<Receipt/>"));
    const mismatch = receiptRequest(AGENCY, Buffer.from("<Receipt/>"), "0".repeat(64));
    await test.probe.publish([
      { topic: topics.issuance, envelope: noKey },
      { topic: topics.issuance, envelope: mismatch },
      { topic: topics.issuance, envelope: noKey },
    ]);
    const id = (e: Envelope) => (e.data as { receiptId: string }).receiptId;
    await until(
      () => forReceipt(watch.seen, id(noKey)).length > 0 && forReceipt(watch.seen, id(mismatch)).length > 0,
      30_000,
      "both refusals",
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(forReceipt(watch.seen, id(noKey)).map((e) => [e.type, (e.data as { code: string }).code])).toEqual(
      [["signing.ReceiptSigningRefused", "NO_AGENCY_KEY"]],
    );
    expect(forReceipt(watch.seen, id(mismatch)).map((e) => (e.data as { code: string }).code)).toEqual([
      "DOCUMENT_DIGEST_MISMATCH",
    ]);
    await watch.stop();
  });
});

describe("signing gateway embedded (one process: PGlite, embedded bus, software devices it starts)", () => {
  it("makes a keystore with a dev CA on first start, provisions a development key for a new agency, and signs its receipt once", async () => {
    const test = await startTestPlatform({
      mode: "embedded",
      services: [signingGatewayService],
      kafkaBrokers: inject("kafkaBrokers"),
      env: {
        PIAOJU_SIGNING_KEYSTORE_KEY: "00112233445566778899aabbccddeeff",
        PIAOJU_SIGNING_DEV_PROVISION: "true",
      },
    });
    try {
      const watch = await watchSigning(test.probe);
      const document = Buffer.from("<Receipt><Agency>120202</Agency></Receipt>");
      const request = receiptRequest("120202", document);
      const receiptId = (request.data as { receiptId: string }).receiptId;
      await test.probe.publish([{ topic: topics.issuance, envelope: request }]);
      await until(() => forReceipt(watch.seen, receiptId).length > 0, 60_000, "ReceiptSigned");
      await test.probe.publish([{ topic: topics.issuance, envelope: { ...request, id: randomUUID() } }]);
      await new Promise((r) => setTimeout(r, 1_000));
      const answers = forReceipt(watch.seen, receiptId);
      expect(answers.map((a) => a.type)).toEqual(["signing.ReceiptSigned"]);
      const signed = answers[0]!.data as { signature: string; keyId: string };
      expect(signed.keyId).toBe("agency-120202");
      const verified = verifySignedData(Buffer.from(signed.signature, "base64"), { content: document });
      expect(verified.valid).toBe(true);
      expect(JSON.stringify(verified.signer!.subject)).toContain("agency-120202");

      // The keystore's dev CA, which the new key's certificate chains to, is published for verifiers.
      const devCa = Certificate.fromPem(
        readFileSync(
          join(test.env.PIAOJU_DATA_DIR as string, "signing-gateway", "keystore", "dev-ca", "ca.crt.pem"),
          "utf8",
        ),
      );
      await until(
        () => watch.seen.some((e) => e.type === "signing.AgencyCaPublished"),
        30_000,
        "AgencyCaPublished",
      );
      const published = watch.seen
        .filter((e) => e.type === "signing.AgencyCaPublished")
        .map((e) => (e.data as { certificate: { sm3: string; pem: string } }).certificate);
      expect([...new Set(published.map((c) => c.sm3))]).toEqual([devCa.fingerprintSm3()]);
      expect(Certificate.fromPem(published[0]!.pem).equals(devCa)).toBe(true);
      expect(verified.signer!.issuerDer.equals(devCa.subjectDer)).toBe(true);
      await watch.stop();
    } finally {
      await test.stop();
    }
  }, 120_000);

  it("refuses to make development keys when the bus is Kafka (cluster mode)", async () => {
    await expect(
      startTestPlatform({
        mode: "cluster",
        services: [signingGatewayService],
        kafkaBrokers: inject("kafkaBrokers"),
        env: { PIAOJU_SIGNING_DEVICES: "127.0.0.1:1", PIAOJU_SIGNING_DEV_PROVISION: "true" },
      }),
    ).rejects.toThrow(/PIAOJU_SIGNING_DEV_PROVISION/);
  });
});
