import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Certificate, createSignedData, DevCa, Sm2PrivateKey } from "@piaoju/gm-crypto";
import { DEFAULT_TEST_PG_URL, quoteIdent, testDatabaseName, withAdmin } from "@piaoju/persistence/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StockApplicationResponse, SupervisionBatchResponse } from "./api.ts";
import { createAgencyClient } from "./client.ts";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const AGENCY = "310101";
const BILL = "31010126";
const SECRET = "seeded-agency-secret-0001";

interface Running {
  child: ChildProcess;
  url: string;
  adminUrl: string;
  certificateSm3: string;
}

/** Starts `tsx src/main.ts` and reads where it listens from what it prints. */
async function startProcess(env: Record<string, string>): Promise<Running> {
  const child = spawn(join(ROOT, "node_modules/.bin/tsx"), [MAIN], {
    cwd: ROOT,
    env: { ...process.env, FINSIM_PORT: "0", FINSIM_ADMIN_PORT: "0", FINSIM_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise<Running>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const listening = /agency API (\S+)\s+admin (\S+)/.exec(out);
      const certificate = /finance certificate SM3 ([0-9a-f]{64})/.exec(out);
      if (listening && certificate) {
        resolve({ child, url: listening[1]!, adminUrl: listening[2]!, certificateSm3: certificate[1]! });
      }
    });
    child.once("exit", (code) =>
      reject(new Error(`simulator exited with ${code} before listening: ${out}${err}`)),
    );
  });
}

function stop(running: Running): Promise<number | null> {
  return new Promise((resolve) => {
    if (running.child.exitCode !== null) return resolve(running.child.exitCode);
    running.child.once("exit", (code) => resolve(code));
    running.child.kill("SIGTERM");
  });
}

/**
 * The simulator as the process an agency's test environment runs: configured only by FINSIM_*
 * variables (PostgreSQL, a seed file, a trusted agency CA, faults), and keeping its identity
 * across restarts.
 */
describe("finance simulator process (tsx src/main.ts)", () => {
  // A database that does not exist yet: the process creates it.
  const adminUrl = process.env.PIAOJU_TEST_PG_URL || DEFAULT_TEST_PG_URL;
  const databaseName = testDatabaseName("finsim_proc");
  let dataDir: string;
  let env: Record<string, string>;
  let agencyCa: DevCa;
  let agencyKey: Sm2PrivateKey;
  let seededCert: Certificate;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "finsim-"));
    agencyCa = await DevCa.create({ name: "Agency CA (the agency's own)" });
    agencyKey = Sm2PrivateKey.generate();
    seededCert = agencyCa.issue({
      subject: { commonName: "seal-device-1" },
      publicKey: agencyKey.publicKey,
      usage: "sign",
    });
    await writeFile(join(dataDir, "agency-ca.pem"), agencyCa.certificate.toPem());
    await writeFile(
      join(dataDir, "seed.json"),
      JSON.stringify({
        agencies: [
          {
            agencyCode: AGENCY,
            name: "上海市出入境管理局",
            secret: SECRET,
            baseData: { billKinds: [{ billCode: BILL, name: "非税收入一般缴款书(电子)" }] },
            certificatePems: [seededCert.toPem()],
          },
        ],
      }),
    );
    env = {
      FINSIM_DATABASE_URL: Object.assign(new URL(adminUrl), { pathname: `/${databaseName}` }).toString(),
      FINSIM_DATA_DIR: dataDir,
      FINSIM_AGENCY_CA_PEM: join(dataDir, "agency-ca.pem"),
      FINSIM_SEED_FILE: join(dataDir, "seed.json"),
      FINSIM_FAULTS: JSON.stringify({ duplicateReplies: true }),
      // The in-process tests use crypto worker threads; this one covers crypto on the event loop.
      FINSIM_CRYPTO_WORKERS: "0",
    };
  });
  afterAll(async () => {
    await withAdmin(adminUrl, (admin) =>
      admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(databaseName)} WITH (FORCE)`),
    );
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("runs from FINSIM_* variables: creates its database, seeded agency, trusted agency CA, faults from FINSIM_FAULTS; same certificate after a restart", async () => {
    const first = await startProcess(env);
    let firstExit: number | null;
    try {
      const agency = createAgencyClient({ url: first.url, agencyCode: AGENCY, secret: SECRET });
      const applied = await agency.post<StockApplicationResponse>("/fin/v1/stock-applications", {
        applicationId: "p-1",
        billCode: BILL,
        quantity: 10,
      });
      expect(applied.status).toBe(201);
      const number = applied.body.segments[0]!.startNumber;
      const document = Buffer.from(
        `<EInvoice><EInvoiceCode>${BILL}</EInvoiceCode><EInvoiceNumber>${number}</EInvoiceNumber></EInvoice>`,
      );
      const unboundCert = agencyCa.issue({
        subject: { commonName: "unbound" },
        publicKey: agencyKey.publicKey,
        usage: "sign",
      });
      const signed = (cert: Certificate) =>
        createSignedData({
          content: document,
          detached: true,
          signerKey: agencyKey,
          signerCert: cert,
        }).toString("base64");
      const receipt = {
        receiptId: randomUUID(),
        billCode: BILL,
        number,
        checkCode: "000111",
        kind: "blue",
        totalFen: 100,
        issuedAt: new Date().toISOString(),
        document: document.toString("base64"),
      };
      // A certificate of the trusted agency CA, neither bound nor naming the agency: not the agency's.
      const unbound = await agency.post<SupervisionBatchResponse>("/fin/v1/supervision/batches", {
        batchId: "p-b0",
        receipts: [{ ...receipt, agencySignature: signed(unboundCert) }],
      });
      expect(unbound.body.results[0]).toMatchObject({ status: "REJECTED", code: "CERTIFICATE_NOT_AGENCY" });

      const supervised = await agency.post<SupervisionBatchResponse>("/fin/v1/supervision/batches", {
        batchId: "p-b1",
        receipts: [{ ...receipt, receiptId: randomUUID(), agencySignature: signed(seededCert) }],
      });
      // duplicateReplies from FINSIM_FAULTS: the one result comes twice.
      expect(supervised.body.results.map((r) => r.status)).toEqual(["SUPERVISED", "SUPERVISED"]);
    } finally {
      firstExit = await stop(first);
    }
    expect(firstExit).toBe(0);

    const second = await startProcess(env);
    try {
      expect(second.certificateSm3).toBe(first.certificateSm3);
      const verify = await fetch(`${second.url}/fin/v1/public/certificates`);
      expect(((await verify.json()) as { financeCertificateSm3: string }).financeCertificateSm3).toBe(
        first.certificateSm3,
      );
    } finally {
      expect(await stop(second)).toBe(0);
    }
  }, 240_000);
});
