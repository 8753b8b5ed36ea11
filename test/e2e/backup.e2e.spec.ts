import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Certificate } from "@piaoju/gm-crypto";
import { openDatabase } from "@piaoju/persistence";
import { afterAll, describe, expect, it } from "vitest";
import {
  allIntact,
  checksOf,
  filesHolding,
  piaojuBackupCli,
  type ReceiptRecord,
  receiptsOf,
  signingCertificates,
  verifyReceiptSignatures,
} from "../support/backup.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/**
 * `./piaoju backup` and `./piaoju restore` of an embedded installation, as an operator runs them:
 * the platform issues the demo's receipt (agency signature by the local device, 监制 by the
 * finance simulator), stops; a backup is taken and holds neither root key; restored into a fresh
 * data folder with the keys the operator kept offline, every receipt, number and both signatures
 * are there and verify against the certificates; and the restored platform issues the next number.
 */
describe("backup and restore (embedded)", () => {
  const dirs: string[] = [];
  const temp = (name: string) => {
    const d = mkdtempSync(join(tmpdir(), `piaoju-${name}-`));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("restores every receipt, number and signature into a fresh data folder, and the platform goes on from there", async () => {
    const original = temp("original");
    const first = await runDemo(original);
    const financeCertificates = first.financeCertificates;
    const before = await issuanceReceipts(original);
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((r) => r.status === "ISSUED")).toBe(true);
    const numbersBefore = await numberState(original);

    // Backup: with the platform stopped; the root keys stay out of it.
    const backup = join(temp("backup"), "b");
    const made = await piaojuBackupCli(["backup", backup], { PIAOJU_DATA_DIR: original });
    expect(made.code, made.out).toBe(0);
    const keystoreKey = readFileSync(join(original, "secrets", "signing-keystore-key"), "utf8").trim();
    const secretsKey = readFileSync(join(original, "secrets", "secrets-key"), "utf8").trim();
    expect(filesHolding(backup, keystoreKey)).toEqual([]);
    expect(filesHolding(backup, secretsKey)).toEqual([]);

    // What the operator kept offline.
    const offline = temp("offline-keys");
    for (const name of ["signing-keystore-key", "secrets-key", "check-code-key"])
      copyFileSync(join(original, "secrets", name), join(offline, name));

    const restored = join(temp("restored"), "data");
    const withoutKeys = await piaojuBackupCli(["restore", backup], { PIAOJU_DATA_DIR: restored });
    expect(withoutKeys.code).toBe(1);
    expect(withoutKeys.out).toContain("is needed (it is never in a backup)");
    const wrongKeys = temp("wrong-keys");
    copyFileSync(join(offline, "secrets-key"), join(wrongKeys, "secrets-key"));
    copyFileSync(join(offline, "check-code-key"), join(wrongKeys, "check-code-key"));
    writeFileSync(join(wrongKeys, "signing-keystore-key"), `${"0".repeat(32)}\n`);
    const wrong = await piaojuBackupCli(["restore", backup, "--keys", wrongKeys], {
      PIAOJU_DATA_DIR: restored,
    });
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain("not the one this backup was made with");

    const done = await piaojuBackupCli(["restore", backup, "--keys", offline], { PIAOJU_DATA_DIR: restored });
    expect(done.code, done.out).toBe(0);

    // Every receipt as it was, both signatures verifying against the certificates.
    const after = await issuanceReceipts(restored);
    expect(after).toEqual(before);
    const keystore = join(restored, "signing-gateway", "keystore");
    const certificates = signingCertificates(keystore, {
      ca: Certificate.fromPem(financeCertificates.caCertificatePem),
      sm3: financeCertificates.financeCertificateSm3,
    });
    expect(checksOf(after, certificates)).toEqual(allIntact(after));
    expect(await numberState(restored)).toEqual(numbersBefore);

    // The restored installation goes on: the next receipt takes the next number, signed and supervised.
    await runDemo(restored);
    const later = await issuanceReceipts(restored);
    expect(later.slice(0, before.length)).toEqual(before);
    const next = later[before.length];
    expect(next?.status).toBe("ISSUED");
    const lastNumber = (r: ReceiptRecord | undefined) => Number(r?.number.split("-")[1]);
    expect(lastNumber(next)).toBe(lastNumber(before.at(-1)) + 1);
    expect(verifyReceiptSignatures(next as ReceiptRecord, certificates)).toEqual({
      document: true,
      agency: true,
      finance: true,
    });
  }, 600_000);
});

async function issuanceReceipts(dataDir: string): Promise<ReceiptRecord[]> {
  const db = await openDatabase({ kind: "pglite", dataDir: join(dataDir, "issuance", "pg") });
  try {
    return await receiptsOf(db, readFileSync(join(dataDir, "secrets", "secrets-key"), "utf8").trim());
  } finally {
    await db.close();
  }
}

/** Issuance's number runs and stock's ledger: where every number stands. */
async function numberState(dataDir: string): Promise<unknown> {
  const issuance = await openDatabase({ kind: "pglite", dataDir: join(dataDir, "issuance", "pg") });
  const stock = await openDatabase({ kind: "pglite", dataDir: join(dataDir, "stock", "pg") });
  try {
    return {
      runs: await issuance.query("SELECT * FROM number_run ORDER BY 1"),
      segments: await stock.query("SELECT * FROM segment ORDER BY 1"),
    };
  } finally {
    await issuance.close();
    await stock.close();
  }
}

/** `./piaoju start` (the runner with its flags) in `dataDir` until the demo is done, then SIGTERM. */
async function runDemo(dataDir: string): Promise<{
  financeCertificates: { caCertificatePem: string; financeCertificateSm3: string };
}> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", "services/runner/src/main.ts", "start"],
    {
      cwd: repoRoot,
      env: { ...process.env, PIAOJU_DATA_DIR: dataDir, PIAOJU_HTTP_PORT: "0", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    const deadline = Date.now() + 280_000;
    while (!/Piaoju is running at http/.test(out)) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`./piaoju start did not finish:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out, out).toMatch(/status {12}ISSUED/);
    const financeUrl = /simulator \(dev, a peer of Piaoju\) (http:\/\/\S+),/.exec(out)?.[1];
    const certificates = (await (await fetch(`${financeUrl}/fin/v1/public/certificates`)).json()) as {
      caCertificatePem: string;
      financeCertificateSm3: string;
    };
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    return { financeCertificates: certificates };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
