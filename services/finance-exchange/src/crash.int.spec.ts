import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Bus, installEventSealing, KafkaBus } from "@piaoju/bus";
import { createEnvelope, type Envelope, ReceiptSubmittedForSupervision, topics } from "@piaoju/contracts";
import { Certificate, createSignedData, Sm2PrivateKey, sm3 } from "@piaoju/gm-crypto";
import { createTestDatabase, quoteIdent, type TestDatabase, withAdmin } from "@piaoju/persistence/testing";
import { callerHeaders, TEST_ASSERTION_ENV, TEST_SECRETS_KEY, TEST_TOKEN } from "@piaoju/runtime/testing";
import { Keyring } from "@piaoju/sealing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  AGENCY,
  BILL,
  type FerryRig,
  type FinanceSimulator,
  SECRET,
  startFerryRig,
  startFinanceSimulator,
  waitFor,
} from "../../../test/support/finance-exchange.ts";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const daemonEntry = fileURLToPath(new URL("./testing/daemon-process.ts", import.meta.url));
const RECEIPTS = 200;

interface Daemon {
  child: ChildProcess;
  url: string;
  exited: Promise<unknown>;
}

/**
 * The daemon in its own process over the ferry, killed with SIGKILL in the middle of the
 * exchange (with a half-written spool file left behind, as a crash mid-write leaves one) and
 * started again on the same database and spools: every receipt still decided exactly once.
 */
describe("finance-exchange killed mid-exchange", () => {
  let sim: FinanceSimulator;
  let simDb: TestDatabase;
  let server: TestDatabase;
  let rig: FerryRig;
  let probe: Bus;
  let env: Record<string, string>;
  let uninstallSealing = () => {};
  const prefix = `t${randomUUID().replaceAll("-", "").slice(0, 10)}_`;
  const events: Envelope[] = [];
  const daemons: Daemon[] = [];

  beforeAll(async () => {
    simDb = await createTestDatabase({ prefix: "finsim" });
    sim = await startFinanceSimulator({
      databaseUrl: simDb.url,
      seed: {
        agencies: [
          {
            agencyCode: AGENCY,
            name: "出入境",
            secret: SECRET,
            baseData: { billKinds: [{ billCode: BILL, name: "缴款书" }] },
          },
        ],
      },
    });
    rig = await startFerryRig(sim, { maxDelayMs: 150, duplicateRate: 0.2 });
    server = await createTestDatabase({ prefix: "fx_crash" });
    const brokers = inject("kafkaBrokers");
    env = {
      ...(process.env as Record<string, string>),
      PIAOJU_INTERNAL_TOKEN: TEST_TOKEN,
      ...TEST_ASSERTION_ENV,
      PIAOJU_SECRETS_KEY: TEST_SECRETS_KEY,
      PIAOJU_HTTP_PORT: "0",
      PIAOJU_DATABASE_URL: server.url,
      PIAOJU_DATABASE_PREFIX: prefix,
      KAFKA_BROKERS: brokers,
      PIAOJU_KAFKA_NAMESPACE: prefix.slice(0, -1),
      LOG_LEVEL: "info",
      FINANCE_TRANSPORT: "ferry",
      FINANCE_AGENCIES: AGENCY,
      FINANCE_FERRY_OUT_DIR: rig.daemonOut,
      FINANCE_FERRY_IN_DIR: rig.daemonIn,
      FINANCE_FERRY_KEY: rig.daemon.key.toPem(),
      FINANCE_FERRY_CERT: rig.daemon.cert.toPem(),
      FINANCE_FERRY_PEER_CERT: rig.financeIdentity.cert.toPem(),
      FINANCE_FERRY_TRUSTED_CA: rig.boundaryCa.certificate.toPem(),
      FINANCE_PUMP_MS: "100",
      FINANCE_BATCH_SIZE: "20",
      FINANCE_BACKOFF_BASE_MS: "200",
      FINANCE_BACKOFF_MAX_MS: "2000",
      FINANCE_RESEND_AFTER_MS: "3000",
      FINANCE_BASE_DATA_SYNC_MS: "0",
      FINANCE_DOWNLOAD_MS: "0",
      FINANCE_RECONCILE_HOUR: "-1",
    };
    // The probe publishes as issuance would: the documents sealed with the daemon's key.
    uninstallSealing = installEventSealing(Keyring.parse(TEST_SECRETS_KEY));
    probe = new KafkaBus({
      brokers: brokers.split(","),
      clientId: "fx-crash-probe",
      namespace: env.PIAOJU_KAFKA_NAMESPACE,
      log: () => () => {},
    });
    await probe.subscribe({
      group: `watch-${randomUUID()}`,
      topics: [topics.finance],
      handler: async (m) => {
        events.push(m.envelope);
      },
    });
  });

  afterAll(async () => {
    uninstallSealing();
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill("SIGKILL");
    await probe?.close();
    await rig?.mover.stop();
    await rig?.financeSide.stop();
    await sim?.close();
    await simDb?.drop();
    if (server) {
      await withAdmin(server.url, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${quoteIdent(`${prefix}finance_exchange`)} WITH (FORCE)`),
      ).catch(() => {});
      await server.drop();
    }
  });

  async function startDaemon(): Promise<Daemon> {
    const child = spawn(process.execPath, ["--import", "tsx", daemonEntry], {
      cwd: repoRoot,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const url = await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`the daemon exited:\n${out}`);
        return /"url":"(http:\/\/[^"]+)".*"msg":"piaoju ready"/.exec(out)?.[1];
      },
      60_000,
      "the daemon to start",
    );
    const daemon = { child, url, exited };
    daemons.push(daemon);
    return daemon;
  }

  // Decisions per receipt, by event id: the outbox publishes at least once, so a relay killed
  // between publishing and marking sends the same event (same id) again, which every consumer's
  // inbox drops. Two decisions are two different events for one receipt.
  const decided = () => {
    const seen = new Map<string, Set<string>>();
    for (const e of events) {
      if (e.type !== "finance.ReceiptSupervised" && e.type !== "finance.ReceiptSupervisionRejected") continue;
      const id = (e.data as { receiptId: string }).receiptId;
      seen.set(id, (seen.get(id) ?? new Set()).add(e.id));
    }
    return new Map([...seen].map(([id, eventIds]) => [id, eventIds.size]));
  };
  const redelivered = () => events.length - new Set(events.map((e) => e.id)).size;

  it("resumes after SIGKILL and a half-written file: every receipt decided exactly once", async () => {
    let daemon = await startDaemon();
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${daemon.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TEST_TOKEN}`,
          ...callerHeaders(
            { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": "*" },
            method,
            `${daemon.url}${path}`,
          ),
          ...(body ? { "content-type": "application/json" } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

    const applied = await call("POST", "/v1/finance-exchange/stock-applications", {
      agencyCode: AGENCY,
      billCode: BILL,
      quantity: RECEIPTS,
    });
    expect(applied.status).toBe(202);
    const segment = await waitFor(
      () => events.find((e) => e.type === "finance.SegmentIssued"),
      60_000,
      "the segment",
    );
    const start = BigInt((segment.data as { startNumber: string }).startNumber);

    const agencyKey = Sm2PrivateKey.generate();
    const agencyCert = Certificate.fromPem(
      (await sim.admin.issueAgencyCertificate(AGENCY, agencyKey.publicKey.toPem())).certificatePem,
    );
    const ids: string[] = [];
    const messages = Array.from({ length: RECEIPTS }, (_, i) => {
      const number = (start + BigInt(i)).toString().padStart(10, "0");
      const receiptId = randomUUID();
      ids.push(receiptId);
      const document = Buffer.from(`<EInvoice><EInvoiceNumber>${number}</EInvoiceNumber></EInvoice>`);
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
            totalFen: 100,
            issuedAt: new Date().toISOString(),
            document: document.toString("base64"),
            documentSm3: sm3(document).toString("hex"),
            agencySignature: createSignedData({
              content: document,
              detached: true,
              signerKey: agencyKey,
              signerCert: agencyCert,
            }).toString("base64"),
          },
          { producer: "issuance" },
        ),
      };
    });
    for (let i = 0; i < messages.length; i += 50) await probe.publish(messages.slice(i, i + 50));

    // Kill it once some receipts are decided and others are still on the ferry.
    await waitFor(() => decided().size >= RECEIPTS / 5, 60_000, "a fifth of the receipts");
    daemon.child.kill("SIGKILL");
    await daemon.exited;
    const atKill = decided().size;
    // What a crash in the middle of writing a spool file leaves behind.
    await mkdir(join(rig.daemonOut, ".tmp"), { recursive: true });
    await writeFile(
      join(rig.daemonOut, ".tmp", `${randomUUID()}.dead.part`),
      Buffer.from([0x30, 0x82, 0x01]),
    );

    const restartedAt = Date.now();
    daemon = await startDaemon();
    await waitFor(() => ids.every((id) => decided().has(id)), 90_000, "every receipt after the restart");
    const resumedMs = Date.now() - restartedAt;
    await new Promise((r) => setTimeout(r, 1500));
    const counts = decided();
    const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
    const losses = ids.filter((id) => !counts.has(id)).length;
    console.log(
      `crash: ${RECEIPTS} receipts over the ferry, SIGKILL after ${atKill} decided; restarted and done in ` +
        `${(resumedMs / 1000).toFixed(1)} s; duplicates ${duplicates}, losses ${losses} ` +
        `(${redelivered()} events delivered again with their id, dropped by inboxes); ` +
        `finance side answered ${rig.financeSide.counts.requests} requests, ${rig.financeSide.counts.duplicates} repeats`,
    );
    expect(losses).toBe(0);
    expect(duplicates).toBe(0);
    expect((await readdir(join(rig.daemonOut, ".tmp"))).filter((n) => n.endsWith(".part"))).toEqual([]);
    daemon.child.kill("SIGTERM");
    await daemon.exited;
  }, 170_000);
});
