import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { callerHeaders, signerOf } from "@piaoju/runtime/testing";
import { afterAll, describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/**
 * `./piaoju start` as a newcomer runs it (the bash entry point, then the CLI's start): the
 * embedded platform, the finance simulator beside it, and the demo, which issues a receipt that the
 * agency signs (SM2, local software device), finance supervises (监制) and delivery takes in. The
 * platform keeps serving after the demo and stops cleanly, simulator included, on SIGTERM.
 */
describe("./piaoju start", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

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
      console.log(
        `./piaoju start: demo receipt ${number} ISSUED and delivered ${demoSeconds.toFixed(1)} s after process start; total ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  }, 300_000);
});

async function waitFor<T>(probe: () => T | undefined, withinMs = 280_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("./piaoju start did not finish its demo in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}
