import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { callerHeaders, signerOf } from "@piaoju/runtime/testing";
import { afterAll, describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The embedded platform as a newcomer runs it: one process, PGlite and the embedded bus in
 * a data folder. It stops cleanly on SIGTERM and comes back with everything it had.
 */
describe("embedded platform", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("starts, serves, stops gracefully on SIGTERM and restarts with its data", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "piaoju-embedded-"));
    dirs.push(dataDir);

    const first = await startEmbedded(dataDir);
    console.log(`embedded platform ready in ${first.readyMs} ms (process start to ready)`);
    const token = (await readFile(join(dataDir, "secrets", "internal-token"), "utf8")).trim();
    // A person of agency 110101 as the gateway asserts one, signed with the installation's own key.
    const signer = await signerOf(dataDir);
    const headers = (method: string, path: string) => ({
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...callerHeaders(
        { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": "110101" },
        method,
        path,
        signer,
      ),
    });
    const post = (path: string, body: unknown) =>
      fetch(`${first.url}${path}`, {
        method: "POST",
        headers: headers("POST", path),
        body: JSON.stringify(body),
      });
    // The first start made the first administrators and printed each one-time password once.
    expect(first.output()).toMatch(/sysadmin\s+system-admin\s+\S{18}/);
    expect(first.output()).toMatch(/auditor\s+auditor\s+\S{18}/);
    expect(
      (await post("/v1/stock/bill-kinds", { agencyCode: "110101", billCode: "11010126", name: "缴款书" }))
        .status,
    ).toBe(201);
    const segment = (await (
      await post("/v1/stock/segments", {
        agencyCode: "110101",
        billCode: "11010126",
        startNumber: "0000000001",
        endNumber: "0000000100",
      })
    ).json()) as { id: string };
    expect((await post(`/v1/stock/segments/${segment.id}/confirm`, {})).status).toBe(200);

    first.child.kill("SIGTERM");
    const exit = await first.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(first.output()).toContain("stopping: closing intake, draining consumers, flushing the outbox");

    const second = await startEmbedded(dataDir);
    expect(second.output()).not.toContain("one-time password");
    const res = await fetch(`${second.url}/v1/stock/segments?agencyCode=110101`, {
      headers: headers("GET", "/v1/stock/segments?agencyCode=110101"),
    });
    const items = ((await res.json()) as { items: Array<{ id: string; status: string }> }).items;
    expect(items).toEqual([expect.objectContaining({ id: segment.id, status: "STOCKED" })]);
    expect(await (await fetch(`${second.url}/readyz`)).json()).toMatchObject({ status: "ready" });
    second.child.kill("SIGTERM");
    expect(await second.exited).toEqual({ code: 0, signal: null });
    // Two starts of six services on PGlite: minutes on a busy two-core machine, not seconds.
  }, 360_000);
});

interface Running {
  child: ChildProcess;
  url: string;
  readyMs: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

async function startEmbedded(dataDir: string): Promise<Running> {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "services/runner/src/main.ts", "start", "--no-demo", "--no-finance-simulator"],
    {
      cwd: repoRoot,
      env: { ...process.env, PIAOJU_DATA_DIR: dataDir, PIAOJU_HTTP_PORT: "0", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
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
  const deadline = Date.now() + 170_000;
  for (;;) {
    const match = /"url":"(http:\/\/[^"]+)".*"msg":"piaoju ready"/.exec(out);
    if (match) return { child, url: match[1]!, readyMs: Date.now() - started, exited, output: () => out };
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`embedded platform did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
