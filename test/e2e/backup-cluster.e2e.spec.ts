import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, KafkaBus } from "@piaoju/bus";
import { businessClient } from "@piaoju/business-client";
import { gatewayService } from "@piaoju/gateway";
import { type Certificate, DevCa, Sm2PrivateKey } from "@piaoju/gm-crypto";
import { issuanceService } from "@piaoju/issuance";
import { type Database, databaseUrl, openDatabase } from "@piaoju/persistence";
import { quoteIdent, withAdmin } from "@piaoju/persistence/testing";
import { type Platform, startPlatform } from "@piaoju/runtime";
import { startTestPlatform, TEST_ASSERTION_ENV, TEST_TOKEN } from "@piaoju/runtime/testing";
import { testPki } from "@piaoju/service-identity/testing";
import { signingGatewayService } from "@piaoju/signing-gateway";
import { stockService } from "@piaoju/stock";
import { afterAll, describe, expect, inject, it } from "vitest";
import { prepareAgency } from "../support/agency.ts";
import {
  allIntact,
  checksOf,
  piaojuBackupCli,
  type ReceiptRecord,
  receiptsOf,
  signingCertificates,
  supervisionOf,
  verifyReceiptSignatures,
} from "../support/backup.ts";
import { makeKeystore, spawnDevice } from "../support/signing-device.ts";

const AGENCY = "110101"; // makeKeystore() holds agency-110101 with a dev-CA certificate
const BILL = "11010126";
const SERVICES = [stockService, issuanceService, gatewayService, signingGatewayService];

/**
 * `./piaoju backup --cluster` and `restore --cluster` against the machine's PostgreSQL: receipts
 * issued on Kafka and PostgreSQL, signed by the real signing gateway over a device process (mutual
 * TLS) and supervised with a real finance signature; the services stopped, pg_dump of every
 * database and a copy of the device's keystore; restored into fresh databases and a fresh keystore
 * folder, every receipt, number and both signatures are intact and verify, and the restored
 * installation (a device on the restored keystore, a new Kafka namespace) issues the next number.
 */
describe("backup and restore (cluster, PostgreSQL)", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });
  const temp = (name: string) => {
    const d = mkdtempSync(join(tmpdir(), `piaoju-${name}-`));
    cleanups.push(async () => rmSync(d, { recursive: true, force: true }));
    return d;
  };

  it("restores every receipt, number and signature into fresh databases, and the installation goes on", async () => {
    const keystore = makeKeystore();
    cleanups.push(async () => rmSync(keystore.dir, { recursive: true, force: true }));
    const financeCa = await DevCa.create({ name: "Finance test CA" });
    const financeKey = Sm2PrivateKey.generate();
    const financeCert = financeCa.issue({
      subject: { commonName: "finance 监制" },
      publicKey: financeKey.publicKey,
      usage: "sign",
    });
    const checkCodeKey = "6".repeat(32);
    const secretsKey = "5".repeat(32);
    const gatewayTlsDir = await (await testPki()).tlsDir("signing-gateway");

    const device = await spawnDevice(keystore, { PIAOJU_SIGNING_DEVICE_WORKERS: "1" });
    cleanups.push(() => device.stop());
    const t = await startTestPlatform({
      mode: "cluster",
      services: SERVICES,
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: secretsKey,
        PIAOJU_CHECK_CODE_KEY: checkCodeKey,
        PIAOJU_SIGNING_DEVICES: `127.0.0.1:${device.port}`,
        PIAOJU_SIGNING_GATEWAY_LISTEN: "127.0.0.1:0",
        PIAOJU_SIGNING_GATEWAY_TLS_DIR: gatewayTlsDir,
      },
    });
    const env = t.env;
    const serverUrl = env.PIAOJU_DATABASE_URL as string;
    const databasesOf = (prefix: string) => SERVICES.map((s) => `${prefix}${s.name.replaceAll("-", "_")}`);
    cleanups.push(async () => {
      for (const name of [
        ...databasesOf(env.PIAOJU_DATABASE_PREFIX as string),
        ...databasesOf("restored_"),
      ]) {
        await withAdmin(serverUrl, (c) =>
          c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
        );
      }
      const server = new URL(serverUrl).pathname.slice(1);
      await withAdmin("postgres://postgres@127.0.0.1:5432/postgres", (c) =>
        c.query(`DROP DATABASE IF EXISTS ${quoteIdent(server)} WITH (FORCE)`),
      );
    });

    const app = await prepareAgency(t, {
      agency: AGENCY,
      bill: BILL,
      startNumber: "0000300001",
      endNumber: "0000301000",
      points: [{ code: "WIN-01", rule: { threshold: 10, batchSize: 50 } }],
      appPoints: ["WIN-01"],
    });
    const supervise = superviseWith(t.probe, financeKey, financeCert);
    const issuance = t.platform.databases.get("issuance");
    if (!issuance) throw new Error("no issuance database");
    const issueAndSupervise = async (
      platform: Platform,
      db: Database,
      serial: string,
      publish: (r: ReceiptRecord) => Promise<void>,
    ) => {
      const res = await businessClient({ baseUrl: platform.url, ...app })("POST", "/api/v1/receipts", {
        issuingPointCode: "WIN-01",
        billCode: BILL,
        bizSerialNo: serial,
        payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
        items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
        totalFen: 12000,
        payMode: "wechat",
        handlingPerson: "window-01",
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const id = String(res.body.id);
      await statusOf(db, id, "AGENCY_SIGNED");
      await publish((await receiptsOf(db, secretsKey)).find((r) => r.id === id) as ReceiptRecord);
      await statusOf(db, id, "ISSUED");
    };
    for (let i = 1; i <= 3; i++) await issueAndSupervise(t.platform, issuance, `CRJ-BK-${i}`, supervise);
    const before = await receiptsOf(issuance, secretsKey);
    expect(before.map((r) => r.status)).toEqual(["ISSUED", "ISSUED", "ISSUED"]);
    const numbers = async (db: Database) => db.query("SELECT * FROM number_run ORDER BY 1");
    const numbersBefore = await numbers(issuance);

    // The services stop (as `kubectl scale --replicas=0` would), then the backup.
    await t.probe.close();
    await t.platform.stop();
    const backup = join(temp("cluster-backup"), "b");
    const keystoreKey = { PIAOJU_SIGNING_KEYSTORE_KEY: keystore.keyHex, PIAOJU_SECRETS_KEY: secretsKey };
    const dbEnv = {
      PIAOJU_DATABASE_URL: serverUrl,
      PIAOJU_DATABASE_PREFIX: env.PIAOJU_DATABASE_PREFIX as string,
    };
    const made = await piaojuBackupCli(["backup", backup, "--cluster", "--keystore", keystore.dir], {
      ...dbEnv,
      ...keystoreKey,
    });
    expect(made.code, made.out).toBe(0);

    // Into fresh databases and a fresh keystore folder.
    const restoredKeystore = join(temp("cluster-keystore"), "keystore");
    const restoredEnv = { PIAOJU_DATABASE_URL: serverUrl, PIAOJU_DATABASE_PREFIX: "restored_" };
    const refused = await piaojuBackupCli(
      ["restore", backup, "--cluster", "--keystore", restoredKeystore],
      restoredEnv,
    );
    expect(refused.code).toBe(1);
    expect(refused.out).toContain("is needed");
    const done = await piaojuBackupCli(["restore", backup, "--cluster", "--keystore", restoredKeystore], {
      ...restoredEnv,
      ...keystoreKey,
    });
    expect(done.code, done.out).toBe(0);

    const restoredIssuance = await openDatabase({
      kind: "postgres",
      url: databaseUrl(serverUrl, "restored_issuance"),
    });
    cleanups.push(() => restoredIssuance.close());
    const after = await receiptsOf(restoredIssuance, secretsKey);
    expect(after).toEqual(before);
    expect(await numbers(restoredIssuance)).toEqual(numbersBefore);
    const certificates = signingCertificates(restoredKeystore, {
      ca: financeCa.certificate,
      sm3: financeCert.fingerprintSm3(),
    });
    expect(checksOf(after, certificates)).toEqual(allIntact(after));

    // The restored installation: a device on the restored keystore, the same secrets, a new bus.
    const restoredDevice = await spawnDevice(
      { dir: restoredKeystore, keyHex: keystore.keyHex },
      {
        PIAOJU_SIGNING_DEVICE_WORKERS: "1",
      },
    );
    cleanups.push(() => restoredDevice.stop());
    const restored = await startPlatform({
      mode: "cluster",
      services: SERVICES,
      telemetry: false,
      env: {
        ...env,
        ...restoredEnv,
        PIAOJU_KAFKA_NAMESPACE: `${env.PIAOJU_KAFKA_NAMESPACE}-restored`,
        PIAOJU_INTERNAL_TOKEN: TEST_TOKEN,
        ...TEST_ASSERTION_ENV,
        PIAOJU_SIGNING_DEVICES: `127.0.0.1:${restoredDevice.port}`,
      },
    });
    cleanups.push(() => restored.stop());
    const probe = new KafkaBus({
      brokers: inject("kafkaBrokers").split(","),
      clientId: "restored-probe",
      namespace: `${env.PIAOJU_KAFKA_NAMESPACE}-restored`,
      log: () => () => {},
    });
    cleanups.push(() => probe.close());
    const restoredDb = restored.databases.get("issuance") as Database;
    await issueAndSupervise(restored, restoredDb, "CRJ-BK-4", superviseWith(probe, financeKey, financeCert));
    const later = await receiptsOf(restoredDb, secretsKey);
    expect(later.slice(0, 3)).toEqual(before);
    const next = later[3] as ReceiptRecord;
    expect(Number(next.number.split("-")[1])).toBe(Number(before[2]?.number.split("-")[1]) + 1);
    expect(verifyReceiptSignatures(next, certificates)).toEqual({
      document: true,
      agency: true,
      finance: true,
    });
  }, 300_000);
});

/** Plays finance: a real SM2 PKCS#7 over the receipt's document, as ReceiptSupervised on `bus`. */
function superviseWith(bus: Bus, key: Sm2PrivateKey, certificate: Certificate) {
  return async (r: ReceiptRecord): Promise<void> => {
    await bus.publish([supervisionOf(r, AGENCY, { key, certificate })]);
  };
}

async function statusOf(db: Database, id: string, status: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await db.query<{ status: string }>(
      "SELECT status::text AS status FROM receipt WHERE id = $1::uuid",
      [id],
    );
    if (rows[0]?.status === status) return;
    if (Date.now() > deadline)
      throw new Error(`receipt ${id} never reached ${status} (is ${rows[0]?.status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
