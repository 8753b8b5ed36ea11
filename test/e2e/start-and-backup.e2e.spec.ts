import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Certificate } from "@piaoju/gm-crypto";
import { openDatabase } from "@piaoju/persistence";
import { callerHeaders, signerOf } from "@piaoju/runtime/testing";
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
 * `./piaoju start` as a newcomer runs it (the bash entry point, then the CLI's start): the
 * embedded platform, the finance simulator beside it, and the demo, which issues a receipt that the
 * agency signs (SM2, local software device), finance supervises (监制) and delivery takes in. The
 * platform keeps serving after the demo and stops cleanly, simulator included, on SIGTERM. Then
 * `./piaoju backup` and `./piaoju restore` of that installation, as an operator runs them: the
 * backup holds neither root key; restored into a fresh data folder with the keys the operator kept
 * offline, every receipt, number and both signatures are there and verify against the
 * certificates; and the restored platform issues the next number. (One file, so the suite starts
 * the embedded platform once for both.)
 */
describe("./piaoju start, then backup and restore of what it made", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const temp = (name: string) => {
    const d = mkdtempSync(join(tmpdir(), `piaoju-${name}-`));
    dirs.push(d);
    return d;
  };
  // What the first test leaves for the second: a stopped installation with the demo's receipt.
  let installed: { dataDir: string; financeCertificates: FinanceCertificates } | undefined;

  it("issues a demo receipt end to end (agency + finance signatures, delivery) and stops cleanly on SIGTERM", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "piaoju-start-"));
    dirs.push(dataDir);
    const started = Date.now();
    // The real entry point: the bash script, which finds the install up to date (the suite runs
    // after ./piaoju installed) and execs node with the CLI, so the SIGTERM below reaches node.
    const child = spawn(join(repoRoot, "piaoju"), ["start"], {
      cwd: repoRoot,
      env: { ...process.env, PIAOJU_DATA_DIR: dataDir, PIAOJU_HTTP_PORT: "0", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
    try {
      const url = await waitFor(() => /Piaoju is running at (http:\/\/\S+); Ctrl-C to stop/.exec(out)?.[1]);
      const demoSeconds = (Date.now() - started) / 1000;

      // Installed already (by the ./piaoju that runs this suite): the start skipped install.
      expect(out).not.toContain("piaoju: installing");
      // What the demo printed.
      expect(out).toContain("申领: apply to finance for 10000 numbers");
      expect(out).toMatch(/status {12}ISSUED/);
      expect(out).toMatch(/agency signature {2}present/);
      expect(out).toMatch(/finance signature present/);
      expect(out).not.toContain("demo failed");
      const number = /number {12}11010126-(\d{10})/.exec(out)?.[1];
      const checkCode = /check code {8}(\d{6})/.exec(out)?.[1];
      const serial = /for payment (CRJ-\S+) /.exec(out)?.[1];
      const pdfUrl = /PDF {15}(http:\/\/\S+)/.exec(out)?.[1];
      const financeUrl = /simulator \(dev, a peer of Piaoju\) (http:\/\/\S+),/.exec(out)?.[1];
      expect({ number, checkCode, serial, pdfUrl, financeUrl }).toEqual({
        number: expect.any(String),
        checkCode: expect.any(String),
        serial: expect.any(String),
        pdfUrl: expect.any(String),
        financeUrl: expect.any(String),
      });

      // The platform still serves, and says the same as the demo.
      const token = (await readFile(join(dataDir, "secrets", "internal-token"), "utf8")).trim();
      const signer = await signerOf(dataDir);
      const get = async (path: string) => {
        const res = await fetch(`${url}${path}`, {
          headers: {
            authorization: `Bearer ${token}`,
            ...callerHeaders(
              { "x-piaoju-actor": "e2e.checker", "x-piaoju-agencies": "110101" },
              "GET",
              path,
              signer,
            ),
          },
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const found = await get(`/v1/receipts?agencyCode=110101&bizSerialNo=${serial}`);
      const receipt = (found.body.items as Array<{ id: string; number: string }>)[0];
      expect(receipt?.number).toBe(number);
      expect((await get(`/v1/receipts/${receipt?.id}/status`)).body).toMatchObject({
        status: "ISSUED",
        agencySigned: true,
        supervised: true,
      });
      const deliveries = await get(`/v1/delivery/receipts/${receipt?.id}/deliveries`);
      expect(deliveries.status).toBe(200);
      const pdf = await fetch(pdfUrl as string);
      expect(pdf.headers.get("content-type")).toBe("application/pdf");
      expect(
        Buffer.from(await pdf.arrayBuffer())
          .subarray(0, 5)
          .toString(),
      ).toBe("%PDF-");
      // Finance (the simulator) knows the receipt as supervised.
      const verified = await fetch(
        `${financeUrl}/fin/v1/public/verify?billCode=11010126&number=${number}&checkCode=${checkCode}`,
      );
      expect(verified.status).toBe(200);
      const financeCertificates = (await (
        await fetch(`${financeUrl}/fin/v1/public/certificates`)
      ).json()) as FinanceCertificates;

      // Nobody set PIAOJU_TRUSTED_CA_PEM: the signing gateway published its keystore's dev CA and
      // finance-exchange the simulator's certificate and CA; the public trust list has them,
      // and the H5 page's 查验 of the demo's receipt chains to them.
      const devCa = Certificate.fromPem(
        readFileSync(join(dataDir, "signing-gateway", "keystore", "dev-ca", "ca.crt.pem"), "utf8"),
      );
      const trust = await waitFor(async () => {
        const list = (await (await fetch(`${url}/api/v1/trust`)).json()) as {
          agencyCas: Array<{ sm3: string }>;
          finance: Array<{ role: string; pem: string }>;
        };
        return list.agencyCas.length > 0 && list.finance.length > 1 ? list : undefined;
      }, 60_000);
      expect(trust.agencyCas.map((c) => c.sm3)).toEqual([devCa.fingerprintSm3()]);
      // finance-exchange: the simulator's supervision certificate from its answers, and its CA as it serves it.
      expect(trust.finance.map((c) => c.role)).toEqual(["supervision", "ca"]);
      expect(
        Certificate.fromPem(trust.finance[1]!.pem).equals(
          Certificate.fromPem(financeCertificates.caCertificatePem),
        ),
      ).toBe(true);
      const pickup = (await (
        await fetch(`${url}/h5/api/find`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ method: "check", billCode: "11010126", number, checkCode }),
        })
      ).json()) as { items: Array<{ token: string }> };
      const h5Verified = await waitFor(async () => {
        const answer = (await (
          await fetch(`${url}/h5/api/verify`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ token: pickup.items[0]?.token }),
          })
        ).json()) as { authentic?: boolean; chained?: boolean };
        return answer.authentic && answer.chained ? answer : undefined;
      }, 60_000);
      expect(h5Verified).toMatchObject({ authentic: true, chained: true });

      // Nothing secret on the terminal.
      for (const name of [
        "internal-token",
        "finance-agency-secret-110101",
        "finance-simulator-admin-token",
      ]) {
        const secret = (await readFile(join(dataDir, "secrets", name), "utf8")).trim();
        expect(out).not.toContain(secret);
      }

      child.kill("SIGTERM");
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(out).toContain("finance simulator stopped");
      await expect(fetch(`${financeUrl}/healthz`)).rejects.toThrow();
      installed = { dataDir, financeCertificates };
      console.log(
        `./piaoju start: demo receipt ${number} ISSUED and delivered ${demoSeconds.toFixed(1)} s after process start; total ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  }, 300_000);

  it("backs it up without its root keys and restores every receipt, number and signature into a fresh data folder, and the platform goes on from there", async () => {
    if (!installed) throw new Error("./piaoju start (the test before) did not leave an installation");
    const { dataDir: original, financeCertificates } = installed;
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

interface FinanceCertificates {
  caCertificatePem: string;
  financeCertificateSm3: string;
}

async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  withinMs = 280_000,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("./piaoju start did not finish its demo in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

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
  financeCertificates: FinanceCertificates;
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
