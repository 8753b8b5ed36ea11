import { rmSync } from "node:fs";
import { join } from "node:path";
import { businessClient } from "@piaoju/business-client";
import { createEnvelope, FinanceCertificatePublished, topics } from "@piaoju/contracts";
import { deliveryService } from "@piaoju/delivery";
import { gatewayService } from "@piaoju/gateway";
import { Certificate, DevCa, Sm2PrivateKey } from "@piaoju/gm-crypto";
import { issuanceService } from "@piaoju/issuance";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { testPki } from "@piaoju/service-identity/testing";
import { signingGatewayService } from "@piaoju/signing-gateway";
import { stockService } from "@piaoju/stock";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { prepareAgency } from "../support/agency.ts";
import { certificateFromPemFile, receiptsOf, supervisionOf } from "../support/backup.ts";
import {
  makeKeystore,
  type RunningTestDevice,
  spawnDevice,
  type TestKeystore,
} from "../support/signing-device.ts";

const AGENCY = "110101"; // makeKeystore() holds agency-110101 with a dev-CA certificate
const BILL = "11010126";
const SECRETS_KEY = "7".repeat(32);

interface TrustList {
  agencyCas: Array<{ sm3: string; subject: string; pem: string }>;
  finance: Array<{ sm3: string; role: string; pem: string }>;
}

/**
 * The certificates verification chains to, learned from their owners, with nobody setting
 * PIAOJU_TRUSTED_CA_PEM: in a cluster (PostgreSQL, Kafka) the real signing gateway, over a device
 * process whose keystore holds agency 110101's key and its CA, publishes that CA; the gateway
 * serves it on the public trust list, and delivery's 查验 of a real receipt chains to it. Finance's
 * certificate comes the same way (as finance-exchange publishes it; exchange.int.spec has
 * finance-exchange doing so against the finance simulator).
 */
describe("the trust list and 查验 learn the certificates from their owners (cluster)", () => {
  let t: TestPlatform;
  let keystore: TestKeystore;
  let device: RunningTestDevice;
  let agencyCa: Certificate;
  const financeKey = Sm2PrivateKey.generate();
  let financeCert: Certificate;

  beforeAll(async () => {
    keystore = makeKeystore();
    agencyCa = certificateFromPemFile(join(keystore.dir, "dev-ca", "ca.crt.pem"));
    const financeCa = await DevCa.create({ name: "Finance trust test CA" });
    financeCert = financeCa.issue({
      subject: { commonName: "财政监制 trust test" },
      publicKey: financeKey.publicKey,
      usage: "sign",
    });
    device = await spawnDevice(keystore, { PIAOJU_SIGNING_DEVICE_WORKERS: "1" });
    t = await startTestPlatform({
      mode: "cluster",
      services: [stockService, issuanceService, gatewayService, signingGatewayService, deliveryService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: SECRETS_KEY,
        PIAOJU_CHECK_CODE_KEY: "8".repeat(32),
        PIAOJU_SIGNING_DEVICES: `127.0.0.1:${device.port}`,
        PIAOJU_SIGNING_GATEWAY_LISTEN: "127.0.0.1:0",
        PIAOJU_SIGNING_GATEWAY_TLS_DIR: await (await testPki()).tlsDir("signing-gateway"),
      },
    });
  }, 240_000);

  afterAll(async () => {
    await t?.stop();
    await device?.stop();
    if (keystore) rmSync(keystore.dir, { recursive: true, force: true });
  });

  const trustList = async () => (await (await fetch(`${t.platform.url}/api/v1/trust`)).json()) as TrustList;

  it("publishes the agency CA the devices' chains name, on a public, cacheable route of the gateway", async () => {
    const list = await until(async () => {
      const l = await trustList();
      return l.agencyCas.length > 0 ? l : undefined;
    });
    expect(list.agencyCas.map((c) => c.sm3)).toEqual([agencyCa.fingerprintSm3()]);
    expect(Certificate.fromPem(list.agencyCas[0]!.pem).equals(agencyCa)).toBe(true);
    expect(list.agencyCas[0]!.subject).toBe(agencyCa.subject.text);

    // No signature, no session; cacheable, and revalidated by ETag.
    const res = await fetch(`${t.platform.url}/api/v1/trust`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    const etag = res.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const again = await fetch(`${t.platform.url}/api/v1/trust`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);

    const pem = await fetch(`${t.platform.url}/api/v1/trust/agency-ca.pem`);
    expect(pem.headers.get("content-type")).toContain("application/x-pem-file");
    const bundle = Certificate.allFromPem(await pem.text());
    expect(bundle.map((c) => c.fingerprintSm3())).toEqual([agencyCa.fingerprintSm3()]);

    const openapi = (await (await fetch(`${t.platform.url}/api/openapi.json`)).json()) as {
      paths: Record<string, { get?: { tags?: string[]; security?: unknown[] } }>;
    };
    expect(openapi.paths["/api/v1/trust"]?.get).toMatchObject({ tags: ["trust"], security: [] });
    expect(openapi.paths["/api/v1/trust/agency-ca.pem"]?.get).toBeDefined();
    expect(openapi.paths["/api/v1/trust/finance.pem"]?.get).toBeDefined();
  });

  it("chains the H5 查验 of a real receipt to the published certificates, with no PIAOJU_TRUSTED_CA_PEM", async () => {
    expect(t.env.PIAOJU_TRUSTED_CA_PEM).toBeUndefined();
    await t.probe.publish([
      {
        topic: topics.finance,
        envelope: createEnvelope(
          FinanceCertificatePublished,
          {
            role: "supervision",
            certificate: {
              pem: financeCert.toPem(),
              sm3: financeCert.fingerprintSm3(),
              subject: financeCert.subject.text,
              notBefore: financeCert.notBefore.toISOString(),
              notAfter: financeCert.notAfter.toISOString(),
            },
            publishedAt: new Date().toISOString(),
          },
          { producer: "finance-exchange" },
        ),
      },
    ]);
    const app = await prepareAgency(t, {
      agency: AGENCY,
      bill: BILL,
      startNumber: "0000400001",
      endNumber: "0000400100",
      points: [{ code: "WIN-01", rule: { threshold: 5, batchSize: 20 } }],
      appPoints: ["WIN-01"],
    });
    const res = await businessClient({ baseUrl: t.platform.url, ...app })("POST", "/api/v1/receipts", {
      issuingPointCode: "WIN-01",
      billCode: BILL,
      bizSerialNo: "CRJ-TRUST-1",
      payer: { type: 1, code: "11010519491231002X", name: "张三" },
      items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
      totalFen: 12000,
      payMode: "wechat",
      handlingPerson: "window-01",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = String(res.body.id);
    const issuance = t.platform.databases.get("issuance")!;
    // Signed by the real signing gateway, then supervised with finance's key.
    const record = await until(async () =>
      (await receiptsOf(issuance, SECRETS_KEY)).find((r) => r.id === id && r.status === "AGENCY_SIGNED"),
    );
    await t.probe.publish([supervisionOf(record, AGENCY, { key: financeKey, certificate: financeCert })]);

    const found = await until(async () => {
      const answer = await fetch(`${t.platform.url}/h5/api/find`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ method: "serial", bizSerialNo: "CRJ-TRUST-1", name: "张三" }),
      });
      const items = ((await answer.json()) as { items?: Array<{ token: string }> }).items ?? [];
      return items[0];
    });
    const verified = await fetch(`${t.platform.url}/h5/api/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: found.token }),
    });
    expect(await verified.json()).toMatchObject({
      authentic: true,
      chained: true,
      documentIntact: true,
      agency: { valid: true, signer: expect.stringContaining("agency-110101") },
      finance: { valid: true },
    });

    // The gateway's list and the H5 page's hold the same certificates.
    const list = await until(async () => {
      const l = await trustList();
      return l.finance.length > 0 ? l : undefined;
    });
    expect(list.finance).toMatchObject([{ role: "supervision", sm3: financeCert.fingerprintSm3() }]);
    const h5 = (await (await fetch(`${t.platform.url}/h5/api/trust`)).json()) as {
      certificates: Array<{ sm3: string }>;
    };
    expect(h5.certificates.map((c) => c.sm3).sort()).toEqual(
      [agencyCa.fingerprintSm3(), financeCert.fingerprintSm3()].sort(),
    );
    const financePem = await (await fetch(`${t.platform.url}/api/v1/trust/finance.pem`)).text();
    expect(Certificate.allFromPem(financePem)[0]?.equals(financeCert)).toBe(true);
  });
});

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 200));
  }
}
