// finance-exchange's test harness: the daemon against the finance simulator (its peer). It lives
// in test/support because it puts two services together; finance-exchange itself never imports
// the simulator (.dependency-cruiser.cjs).
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subscription } from "@piaoju/bus";
import { createEnvelope, type Envelope, ReceiptSubmittedForSupervision, topics } from "@piaoju/contracts";
import { type FinanceSimulator, startFinanceSimulator } from "@piaoju/finance-simulator";
import { Certificate, createSignedData, DevCa, Sm2PrivateKey, sm3 } from "@piaoju/gm-crypto";
import { createTestDatabase, type TestDatabase } from "@piaoju/persistence/testing";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { financeExchangeService } from "../../services/finance-exchange/src/main.ts";
import {
  FerryMover,
  type FerryMoverOptions,
  FinanceFerrySide,
} from "../../services/finance-exchange/src/testing/index.ts";
import { HttpFinanceApi } from "../../services/finance-exchange/src/transport/http-finance-api.ts";

export const AGENCY = "110101";
export const BILL = "11010126";
export const SECRET = "agency-secret-110101-for-tests";

export interface FerryRig {
  dir: string;
  daemonOut: string;
  daemonIn: string;
  financeIn: string;
  financeOut: string;
  boundaryCa: DevCa;
  daemon: { key: Sm2PrivateKey; cert: Certificate };
  financeSide: FinanceFerrySide;
  financeIdentity: { key: Sm2PrivateKey; cert: Certificate };
  mover: FerryMover;
}

export interface ExchangeHarness {
  sim: FinanceSimulator;
  test: TestPlatform;
  ferry?: FerryRig;
  agencyKey: Sm2PrivateKey;
  agencyCert: Certificate;
  /** Every event on the finance topic, in arrival order. */
  financeEvents: Envelope[];
  /** Applies for numbers through the daemon and returns them once stock's event arrived. */
  issueNumbers(quantity: number): Promise<string[]>;
  /** Publishes receipts as issuance would (ReceiptSubmittedForSupervision), signed by the agency. */
  submit(numbers: string[], options?: { issuedAt?: Date }): Promise<string[]>;
  /** Supervision outcomes per receipt id: how many events each got. */
  outcomes(): Map<string, { supervised: number; rejected: number; codes: string[] }>;
  stop(): Promise<void>;
}

/** Waits until `check` returns a value (not undefined/false), polling. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The finance simulator (own PostgreSQL database, own key), the daemon through the whole
 * frame (cluster mode: PostgreSQL and the real Kafka broker), and, for the ferry, two spool
 * pairs, a mover and finance's end of the ferry.
 */
export async function startExchangeHarness(options: {
  transport: "http" | "ferry";
  kafkaBrokers: string;
  env?: Record<string, string>;
  mover?: Pick<FerryMoverOptions, "maxDelayMs" | "duplicateRate" | "tamper">;
}): Promise<ExchangeHarness> {
  const simDb: TestDatabase = await createTestDatabase({ prefix: "finsim" });
  const sim = await startFinanceSimulator({
    databaseUrl: simDb.url,
    seed: {
      agencies: [
        {
          agencyCode: AGENCY,
          name: "北京市公安局出入境管理总队",
          secret: SECRET,
          baseData: {
            billKinds: [{ billCode: BILL, name: "北京市非税收入一般缴款书（电子）" }],
            incomeItems: [
              { itemCode: "103040101", name: "护照费", billCode: BILL, unit: "本", standardFen: 12000 },
            ],
            regions: [{ regionCode: "110101", name: "东城区" }],
          },
        },
      ],
    },
  });
  const agencyKey = Sm2PrivateKey.generate();
  const bound = await sim.admin.issueAgencyCertificate(AGENCY, agencyKey.publicKey.toPem(), "出入境签名");
  const agencyCert = Certificate.fromPem(bound.certificatePem);

  const env: Record<string, string> = {
    FINANCE_TRANSPORT: options.transport,
    FINANCE_AGENCIES: AGENCY,
    FINANCE_CERTIFICATE_SM3: sim.financeCertificate.fingerprintSm3(),
    FINANCE_PUMP_MS: "100",
    FINANCE_BACKOFF_BASE_MS: "200",
    FINANCE_BACKOFF_MAX_MS: "2000",
    FINANCE_RESEND_AFTER_MS: "3000",
    FINANCE_PENDING_POLL_MS: "500",
    FINANCE_TIMEOUT_MS: "5000",
    FINANCE_BASE_DATA_SYNC_MS: "0",
    FINANCE_DOWNLOAD_MS: "0",
    FINANCE_RECONCILE_HOUR: "-1",
  };
  let ferry: FerryRig | undefined;
  if (options.transport === "http") {
    Object.assign(env, { FINANCE_URL: sim.url, FINANCE_AGENCY_SECRETS: `${AGENCY}=${SECRET}` });
  } else {
    ferry = await startFerryRig(sim, options.mover ?? { maxDelayMs: 150, duplicateRate: 0.2 });
    Object.assign(env, {
      FINANCE_FERRY_OUT_DIR: ferry.daemonOut,
      FINANCE_FERRY_IN_DIR: ferry.daemonIn,
      FINANCE_FERRY_KEY: ferry.daemon.key.toPem(),
      FINANCE_FERRY_CERT: ferry.daemon.cert.toPem(),
      FINANCE_FERRY_PEER_CERT: ferry.financeIdentity.cert.toPem(),
      FINANCE_FERRY_TRUSTED_CA: ferry.boundaryCa.certificate.toPem(),
    });
  }
  Object.assign(env, options.env ?? {});

  const test = await startTestPlatform({
    mode: "cluster",
    services: [financeExchangeService],
    kafkaBrokers: options.kafkaBrokers,
    env,
  });
  const financeEvents: Envelope[] = [];
  const watcher: Subscription = await test.probe.subscribe({
    group: `test-watch-${randomUUID()}`,
    topics: [topics.finance],
    handler: async (m) => {
      financeEvents.push(m.envelope);
    },
  });

  const harness: ExchangeHarness = {
    sim,
    test,
    ...(ferry ? { ferry } : {}),
    agencyKey,
    agencyCert,
    financeEvents,
    async issueNumbers(quantity) {
      const res = await test.call("POST", "/v1/finance-exchange/stock-applications", {
        agencyCode: AGENCY,
        billCode: BILL,
        quantity,
      });
      if (res.status !== 202) throw new Error(`stock application refused: ${JSON.stringify(res.body)}`);
      const applicationId = res.body.applicationId as string;
      const event = await waitFor(
        () =>
          financeEvents.find(
            (e) =>
              e.type === "finance.SegmentIssued" &&
              (e.data as { applicationId?: string }).applicationId === applicationId,
          ),
        60_000,
        "finance.SegmentIssued",
      );
      const d = event.data as { startNumber: string; endNumber: string };
      const numbers: string[] = [];
      for (let n = BigInt(d.startNumber); n <= BigInt(d.endNumber); n++)
        numbers.push(n.toString().padStart(10, "0"));
      return numbers;
    },
    async submit(numbers, submitOptions = {}) {
      const issuedAt = (submitOptions.issuedAt ?? new Date()).toISOString();
      const ids: string[] = [];
      const messages = numbers.map((number) => {
        const receiptId = randomUUID();
        ids.push(receiptId);
        const document = Buffer.from(
          `<?xml version="1.0" encoding="UTF-8"?><EInvoice><Header><EInvoiceCode>${BILL}</EInvoiceCode>` +
            `<EInvoiceNumber>${number}</EInvoiceNumber></Header><EInvoiceData><TotalAmount>120.00</TotalAmount>` +
            `<ReceiptId>${receiptId}</ReceiptId></EInvoiceData></EInvoice>`,
          "utf8",
        );
        const agencySignature = createSignedData({
          content: document,
          detached: true,
          signerKey: agencyKey,
          signerCert: agencyCert,
        });
        return {
          topic: topics.issuance,
          envelope: createEnvelope(
            ReceiptSubmittedForSupervision,
            {
              receiptId,
              agencyCode: AGENCY,
              billCode: BILL,
              number,
              kind: "blue",
              issuingPointCode: "W01",
              checkCode: number.slice(-6),
              totalFen: 12000,
              issuedAt,
              document: document.toString("base64"),
              documentSm3: sm3(document).toString("hex"),
              agencySignature: agencySignature.toString("base64"),
            },
            { producer: "issuance" },
          ),
        };
      });
      for (let i = 0; i < messages.length; i += 100) await test.probe.publish(messages.slice(i, i + 100));
      return ids;
    },
    outcomes() {
      const seen = new Map<string, { supervised: number; rejected: number; codes: string[] }>();
      for (const e of financeEvents) {
        if (e.type !== "finance.ReceiptSupervised" && e.type !== "finance.ReceiptSupervisionRejected")
          continue;
        const d = e.data as { receiptId: string; code?: string };
        const entry = seen.get(d.receiptId) ?? { supervised: 0, rejected: 0, codes: [] };
        if (e.type === "finance.ReceiptSupervised") entry.supervised++;
        else {
          entry.rejected++;
          entry.codes.push(d.code ?? "");
        }
        seen.set(d.receiptId, entry);
      }
      return seen;
    },
    async stop() {
      await watcher.stop().catch(() => {});
      await test.stop().catch(() => {});
      if (ferry) {
        await ferry.mover.stop();
        await ferry.financeSide.stop();
        await rm(ferry.dir, { recursive: true, force: true });
      }
      await sim.close();
      await simDb.drop();
    },
  };
  return harness;
}

/**
 * The boundary: a CA of the boundary platform certifies the daemon's end and finance's end
 * (sign + encrypt); finance's end answers with the simulator's API over HTTP.
 */
export async function startFerryRig(
  sim: FinanceSimulator,
  mover: { maxDelayMs: number; duplicateRate: number },
): Promise<FerryRig> {
  const dir = await mkdtemp(join(tmpdir(), "piaoju-ferry-"));
  const boundaryCa = await DevCa.create({ name: "边界平台测试CA" });
  const identity = (name: string) => {
    const key = Sm2PrivateKey.generate();
    return {
      key,
      cert: boundaryCa.issue({
        subject: { commonName: name },
        publicKey: key.publicKey,
        usage: "sign+encrypt",
      }),
    };
  };
  const daemon = identity("piaoju finance-exchange");
  const financeIdentity = identity("finance boundary endpoint");
  const paths = {
    daemonOut: join(dir, "police/out"),
    daemonIn: join(dir, "police/in"),
    financeIn: join(dir, "finance/in"),
    financeOut: join(dir, "finance/out"),
  };
  const financeSide = new FinanceFerrySide(
    new HttpFinanceApi({ baseUrl: sim.url, secrets: new Map([[AGENCY, SECRET]]), timeoutMs: 5000 }),
    {
      outDir: paths.financeOut,
      inDir: paths.financeIn,
      self: financeIdentity,
      peer: daemon.cert,
      trusted: [boundaryCa.certificate],
    },
  );
  await financeSide.start();
  const moverInstance = new FerryMover({
    routes: [
      { from: paths.daemonOut, to: paths.financeIn },
      { from: paths.financeOut, to: paths.daemonIn },
    ],
    ...mover,
  });
  await moverInstance.start();
  return { dir, ...paths, boundaryCa, daemon, financeSide, financeIdentity, mover: moverInstance };
}

export { type FinanceSimulator, startFinanceSimulator };
