import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform } from "./platform.ts";
import { TEST_ASSERTION_ENV } from "./testing.ts";

const TOKEN = "o".repeat(40);
const METRICS_TOKEN = "m".repeat(40);

/**
 * Issue 9, class 10: probes and metrics useful to operators, telling nobody else more than they
 * need. The platform as it runs (embedded, real telemetry, real HTTP), no services needed.
 */
describe("what the platform's probes and metrics tell", () => {
  let dataDir: string;
  let open: Platform;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "piaoju-probes-"));
    open = await startPlatform({
      mode: "embedded",
      services: [],
      env: {
        ...TEST_ASSERTION_ENV,
        PIAOJU_INTERNAL_TOKEN: TOKEN,
        PIAOJU_HTTP_PORT: "0",
        PIAOJU_DATA_DIR: dataDir,
        LOG_LEVEL: "warn",
      },
    });
  });
  afterAll(async () => {
    await open?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("says ready or not ready to anyone, and which check is which only to an operator", async () => {
    const anyone = await fetch(`${open.url}/readyz`);
    expect(anyone.status).toBe(200);
    expect(await anyone.json()).toEqual({ status: "ready" });
    const wrong = await fetch(`${open.url}/readyz`, {
      headers: { authorization: `Bearer ${"x".repeat(40)}` },
    });
    expect(await wrong.json()).toEqual({ status: "ready" });
    const operator = await fetch(`${open.url}/readyz`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await operator.json()).toEqual({ status: "ready", checks: { bus: true } });
  });

  it("serves metrics without the host name, the pid or the command line", async () => {
    const res = await fetch(`${open.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    // The resource is still described (service name), just nothing about the machine or process.
    expect(text).toMatch(/target_info\{[^}]*service_name="piaoju"/);
    for (const leak of [
      hostname(),
      `"${process.pid}"`,
      process.argv[1] ?? "node",
      "host_name",
      "process_pid",
      "process_command",
    ])
      expect(text, leak).not.toContain(leak);
  });
});

describe("metrics behind a token", () => {
  let dataDir: string;
  let closed: Platform;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "piaoju-probes-"));
    closed = await startPlatform({
      mode: "embedded",
      services: [],
      // Telemetry is per process: the first platform of this file has it; this one's /metrics is checked for its guard.
      env: {
        ...TEST_ASSERTION_ENV,
        PIAOJU_INTERNAL_TOKEN: TOKEN,
        PIAOJU_METRICS_TOKEN: METRICS_TOKEN,
        PIAOJU_HTTP_PORT: "0",
        PIAOJU_DATA_DIR: dataDir,
        LOG_LEVEL: "warn",
      },
    });
  });
  afterAll(async () => {
    await closed?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("answers 401 without the metrics token and the metrics with it", async () => {
    const anyone = await fetch(`${closed.url}/metrics`);
    expect(anyone.status).toBe(401);
    expect(anyone.headers.get("content-type")).toContain("application/problem+json");
    const scraper = await fetch(`${closed.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(scraper.status).toBe(200);
    expect(await scraper.text()).toContain("target_info");
  });
});
