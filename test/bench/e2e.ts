// pnpm bench:e2e — receipts fully issued (agency-signed and supervised: ISSUED) through the signed
// business API, end to end, on this machine; issue 15's targets: embedded ≥ 100 fully issued
// receipts/s and POST p99 < 250 ms at 50 clients.
//
// Embedded: `./piaoju start --no-demo` as a child process (every service, PGlite, the embedded bus,
// two software signing devices, the finance simulator as its child) on a new temporary data folder.
// The bench plays an agency's ticket manager (bill kind, 申领 from the finance simulator, 入库, 分发
// to --points issuing points, an income item, a business app), then:
//   1. one client, --serial receipts one after another (the latency alone);
//   2. --clients clients, --receipts receipts over the points: POST rate and latency, and the time
//      from the first POST until every receipt reads ISSUED (fully issued receipts/s);
// beside floors measured in the same run: the gateway's /healthz at the same concurrency (HTTP),
// PGlite INSERTs at the same concurrency (the database, in this process), SM2 signatures of a
// receipt-sized document on one core (the devices' raw signing rate, in this process); and the CPU
// each process (and thread kind) spent during the load.
// Bounded: --timeout seconds for the whole load phase. --profile writes V8 CPU profiles of the
// platform's process to --profile-dir and prints the top functions by self time.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, homedir, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ASSERTION_HEADER, type AssertedIdentity, AssertionSigner, BUILT_IN_ROLES } from "@piaoju/access";
import { signRequest } from "@piaoju/business-client";
import { openDatabase, pgliteVersion } from "@piaoju/persistence";
import { Pool } from "undici";
import { generateSm2KeyPair, sign } from "../../packages/gm-crypto/src/index.ts";

const { values } = parseArgs({
  options: {
    receipts: { type: "string", default: "300" },
    clients: { type: "string", default: "50" },
    points: { type: "string", default: "5" },
    serial: { type: "string", default: "20" },
    timeout: { type: "string", default: "300" },
    "start-timeout": { type: "string", default: "120" },
    profile: { type: "boolean", default: false },
    "profile-dir": { type: "string", default: ".bench-profiles" },
  },
});
const RECEIPTS = Number(values.receipts);
const CLIENTS = Number(values.clients);
const POINTS = Number(values.points);
const SERIAL = Number(values.serial);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const AGENCY = "110101";
const BILL = "11010126";
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const profileDir = resolve(repoRoot, values["profile-dir"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Measuring

interface Run {
  label: string;
  count: number;
  seconds: number;
  failures: number;
  latencies: number[];
  firstError?: string;
}

/** Runs `count` calls with `clients` in flight at once; records each call's latency. */
async function drive(
  label: string,
  count: number,
  clients: number,
  call: (i: number) => Promise<true | string>,
): Promise<Run> {
  const latencies: number[] = [];
  let failures = 0;
  let firstError: string | undefined;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        const ok = await call(i).catch((e: unknown) => String(e));
        latencies.push(performance.now() - t0);
        if (ok !== true) {
          failures++;
          firstError ??= ok;
        }
      }
    }),
  );
  return {
    label,
    count,
    seconds: (performance.now() - started) / 1000,
    failures,
    latencies,
    ...(firstError ? { firstError } : {}),
  };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
const rateOf = (run: Run) => run.count / run.seconds;
const ms = (n: number) => `${n.toFixed(1)} ms`;

function line(run: Run, floor?: Run): string {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  const ratio = floor ? `  ${(rateOf(run) / rateOf(floor)).toFixed(3)}x of ${floor.label}` : "";
  return `  ${run.label.padEnd(34)} ${rateOf(run).toFixed(1).padStart(8)}/s  p50 ${ms(quantile(sorted, 0.5)).padStart(10)}  p99 ${ms(quantile(sorted, 0.99)).padStart(10)}  p99.9 ${ms(quantile(sorted, 0.999)).padStart(10)}  failures ${run.failures}${ratio}${run.firstError ? `\n      first failure: ${run.firstError.slice(0, 300)}` : ""}`;
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds so far per process (the platform and its descendants), per thread kind. */
function cpuTree(rootPid: number): Map<string, number> {
  const out = new Map<string, number>();
  const visit = (pid: number, label: string) => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        // The main thread apart: worker threads (PGlite's, SM2's) are also called "node".
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/\d+$/, "#");
        const name = tid === String(pid) ? `${comm} main thread` : comm;
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const key = `${label} · ${name}`;
        out.set(key, (out.get(key) ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS);
        for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ")) {
          if (!child.trim()) continue;
          const cmd = readFileSync(`/proc/${child}/cmdline`, "utf8");
          visit(Number(child), cmd.includes("finance-simulator") ? "finance simulator" : `child ${child}`);
        }
      } catch {
        // the thread ended meanwhile
      }
    }
  };
  visit(rootPid, "platform");
  return out;
}

function cpuReport(before: Map<string, number>, after: Map<string, number>, wall: number): string[] {
  const rows = [...after]
    .map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / wall] as const)
    .filter(([, v]) => v > 0.005)
    .sort((a, b) => b[1] - a[1]);
  const perProcess = new Map<string, number>();
  for (const [k, v] of rows)
    perProcess.set(k.split(" · ")[0]!, (perProcess.get(k.split(" · ")[0]!) ?? 0) + v);
  return [
    ...[...perProcess].map(([p, v]) => `  ${p.padEnd(40)} ${(v * 100).toFixed(0).padStart(4)} % of a core`),
    "  by thread:",
    ...rows.map(([k, v]) => `    ${k.padEnd(38)} ${(v * 100).toFixed(0).padStart(4)} %`),
  ];
}

/** What a profiled function belongs to, for the summary by kind of work. */
function kindOf(url: string, name: string): string {
  if (name === "(garbage collector)") return "garbage collector";
  if (name === "(program)" || name === "(root)") return "V8 / native (program)";
  if (url.startsWith("wasm://") || url.includes("@electric-sql+pglite"))
    return "PGlite (WebAssembly + driver)";
  if (url.includes("pglite-prisma-adapter") || url.includes("@prisma")) return "Prisma (client + adapter)";
  const pkg = /node_modules\/\.pnpm\/(@?[^@/]+(?:\+[^@/]+)?)@/.exec(url)?.[1];
  if (pkg) return `npm ${pkg.replace("+", "/")}`;
  const own = /\/(packages|services)\/([^/]+)\//.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith("node:")) return "Node internals";
  return url ? "other" : `native ${name}`;
}

/**
 * Where the CPU went in the V8 CPU profiles of a folder, within [fromUs, toUs] (monotonic
 * microseconds, the clock V8 stamps samples with): busy time by kind of work and the top functions.
 */
function profileSummary(dir: string, fromUs: number, toUs: number, top = 20): string[] {
  const self = new Map<string, number>();
  const kinds = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
      nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
      startTime: number;
      samples: number[];
      timeDeltas: number[];
    };
    const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    let t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      const dt = profile.timeDeltas[i + 1] ?? 0;
      t += profile.timeDeltas[i] ?? 0;
      if (t < fromUs || t > toUs) continue;
      const f = byId.get(profile.samples[i]!)!;
      if (f.functionName === "(idle)") {
        idle += dt;
        continue;
      }
      busy += dt;
      const where = f.url
        ? `${f.url.replace(/^file:\/\//, "").replace(repoRoot, "")}:${f.lineNumber + 1}`
        : "";
      const key = `${f.functionName || "(anonymous)"} ${where}`;
      self.set(key, (self.get(key) ?? 0) + dt);
      const kind = kindOf(f.url, f.functionName);
      kinds.set(kind, (kinds.get(kind) ?? 0) + dt);
    }
  }
  const pct = (v: number) =>
    `${((v / busy) * 100).toFixed(1).padStart(5)} %  ${(v / 1e6).toFixed(2).padStart(6)} s`;
  return [
    `  busy ${(busy / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s (all threads profiled); busy time by kind:`,
    ...[...kinds]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 14)
      .map(([k, v]) => `  ${pct(v)}  ${k}`),
    "  top functions by self time:",
    ...[...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `  ${pct(v)}  ${k}`),
  ];
}

// ---------------------------------------------------------------------------------------------
// The platform

interface Platform {
  child: ChildProcess;
  url: string;
  readyMs: number;
  output: () => string;
}

async function startEmbedded(dataDir: string): Promise<Platform> {
  const t0 = performance.now();
  const prof = values.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(
    process.execPath,
    [...prof, "--import", "tsx", "services/runner/src/main.ts", "start", "--no-demo"],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        PIAOJU_DATA_DIR: dataDir,
        PIAOJU_HTTP_PORT: "0",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + Number(values["start-timeout"]) * 1000;
  for (;;) {
    const url = /Piaoju is running at (http:\/\/\S+?);/.exec(out)?.[1];
    if (url) return { child, url, readyMs: performance.now() - t0, output: () => out };
    if (child.exitCode !== null || Date.now() > deadline) {
      // never leave a platform running behind a failed bench (it would load the machine on)
      await stop(child);
      throw new Error(`./piaoju start did not become ready (${child.exitCode}):\n${out}`);
    }
    await sleep(20);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(30_000)]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

// ---------------------------------------------------------------------------------------------
// Floors measured in this process

async function pgliteFloor(count: number, clients: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "piaoju-bench-pglite-"));
  try {
    const db = await openDatabase({
      kind: "pglite",
      dataDir: join(dir, "pg"),
      template:
        process.env.PIAOJU_PGLITE_TEMPLATE ??
        join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "piaoju", `pglite-${pgliteVersion}`),
    });
    await db.exec("CREATE TABLE receipt (id uuid PRIMARY KEY, n bigint NOT NULL, body jsonb NOT NULL)");
    const body = JSON.stringify({
      payer: "张三",
      items: [{ code: "001", fen: 12000 }],
      note: "x".repeat(400),
    });
    const run = await drive("PGlite INSERT (floor)", count, clients, async (i) => {
      await db.query("INSERT INTO receipt (id, n, body) VALUES ($1, $2, $3)", [randomUUID(), i, body]);
      return true;
    });
    await db.close();
    return run;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function signingFloor(seconds: number): Run {
  const privateKey = generateSm2KeyPair();
  const document = Buffer.from(`<receipt>${"票".repeat(600)}</receipt>`);
  const latencies: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const s = performance.now();
    sign(document, privateKey);
    latencies.push(performance.now() - s);
  }
  return {
    label: "SM2 sign, one core (floor)",
    count: latencies.length,
    seconds: (performance.now() - t0) / 1000,
    failures: 0,
    latencies,
  };
}

// ---------------------------------------------------------------------------------------------

const dataDir = mkdtempSync(join(tmpdir(), "piaoju-bench-e2e-"));
if (values.profile) {
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
}
let platform: Platform | undefined;
/** The load phase in monotonic microseconds, to cut the profiles to it. */
const loadWindow = [0, 0];
let pool: Pool | undefined;
try {
  console.log(
    `e2e bench (embedded): ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}; ${RECEIPTS} receipts, ${CLIENTS} clients, ${POINTS} issuing points, ${SERIAL} serial`,
  );
  process.stdout.write("  ./piaoju start --no-demo on a new data folder … ");
  platform = await startEmbedded(dataDir);
  console.log(`ready in ${(platform.readyMs / 1000).toFixed(1)} s at ${platform.url}`);
  const base = platform.url;
  pool = new Pool(base, { connections: CLIENTS, pipelining: 1 });
  const http = pool;

  // The agency's ticket manager, asserted as the demo does (the bench holds the assertion key).
  const secrets = join(dataDir, "secrets");
  const token = readFileSync(join(secrets, "internal-token"), "utf8").trim();
  const signer = new AssertionSigner(readFileSync(join(secrets, "assertion-key"), "utf8").trim());
  const manager: AssertedIdentity = {
    actor: "bench.manager",
    kind: "person",
    agency: AGENCY,
    grants: (["system-admin", "ticket-manager"] as const).map((r) => ({
      permissions: BUILT_IN_ROLES[r].permissions,
      scope: "agency" as const,
    })),
  };
  const asManager = async (method: string, path: string, body?: unknown) => {
    const res = await http.request({
      method: method as "GET",
      path,
      headers: {
        authorization: `Bearer ${token}`,
        [ASSERTION_HEADER]: signer.sign(manager, { method, url: path }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`);
    return json;
  };
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, withinMs = 60_000) => {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs / 1000} s`);
      await sleep(100);
    }
  };

  process.stdout.write("  setting up the agency (申领, 入库, 分发, app) … ");
  const tSetup = performance.now();
  const perPoint = Math.ceil((RECEIPTS + SERIAL + 1) / POINTS) + 10;
  await asManager("POST", "/v1/stock/bill-kinds", {
    agencyCode: AGENCY,
    billCode: BILL,
    name: "非税收入一般缴款书（电子）",
  });
  await asManager("POST", "/v1/finance-exchange/stock-applications", {
    agencyCode: AGENCY,
    billCode: BILL,
    quantity: perPoint * POINTS + 1000,
  });
  const segment = await until("the segment from finance", async () => {
    const items = (await asManager("GET", `/v1/stock/segments?agencyCode=${AGENCY}&billCode=${BILL}`))
      .items as Array<{ id: string; status: string }>;
    return items[0];
  });
  await asManager("POST", `/v1/stock/segments/${segment.id}/confirm`);
  await asManager("POST", "/v1/issuance/items", {
    agencyCode: AGENCY,
    code: "001",
    name: "护照工本费",
    unit: "本",
    standardFen: 12000,
  });
  const points = Array.from({ length: POINTS }, (_, p) => `WIN-${String(p + 1).padStart(2, "0")}`);
  for (const code of points) {
    await asManager("POST", "/v1/issuance/issuing-points", {
      agencyCode: AGENCY,
      code,
      name: `窗口 ${code}`,
    });
    await asManager("PUT", `/v1/stock/distribution-rules/${AGENCY}/${BILL}/${code}`, {
      threshold: 1,
      batchSize: perPoint,
    });
  }
  const app = (await asManager("POST", "/v1/gateway/apps", {
    name: "bench 业务系统",
    agencyCode: AGENCY,
    issuingPoints: points,
  })) as { appId: string; appSecret: string };
  for (const code of points) {
    await until(`${code}'s numbers at the receipt service`, async () => {
      const runs = (
        await asManager("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}&issuingPointCode=${code}`)
      ).items as unknown[];
      return runs.length > 0 ? true : undefined;
    });
  }
  console.log(`${((performance.now() - tSetup) / 1000).toFixed(1)} s`);

  /** A signed business API call (the scheme of packages/business-client), over the bench's pool. */
  const business = async (method: "GET" | "POST", path: string, body?: unknown) => {
    const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const timestamp = String(Date.now());
    const nonce = randomUUID().replaceAll("-", "");
    const res = await http.request({
      method,
      path,
      headers: {
        "x-piaoju-app-id": app.appId,
        "x-piaoju-timestamp": timestamp,
        "x-piaoju-nonce": nonce,
        "x-piaoju-signature": signRequest(app.appSecret, {
          method,
          pathWithQuery: path,
          timestamp,
          nonce,
          body: raw,
        }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: raw }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: JSON.parse(text) as Record<string, unknown> };
  };
  const runTag = randomUUID().slice(0, 8);
  const issue = async (i: number, ids: string[]): Promise<true | string> => {
    const res = await business("POST", "/api/v1/receipts", {
      issuingPointCode: points[i % POINTS],
      billCode: BILL,
      bizSerialNo: `BENCH-${runTag}-${i}`,
      payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
      items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
      totalFen: 12000,
      payMode: "wechat",
      handlingPerson: "bench",
    });
    if (res.status !== 201) return `HTTP ${res.status} ${JSON.stringify(res.body)}`;
    ids.push(String(res.body.id));
    return true;
  };
  // Followed as the agency's manager on the internal API: the business API rate-limits an app's
  // reads (lookups), which would measure the limiter, not the platform.
  const statusOf = async (id: string) => String((await asManager("GET", `/v1/receipts/${id}/status`)).status);
  /** Resolves with the moment (performance.now()) every id in `ids` read ISSUED; `done` says no more come. */
  const watchIssued = async (ids: string[], done: () => boolean, deadline: number) => {
    let seen = 0;
    for (;;) {
      if (seen < ids.length) {
        const status = await statusOf(ids[seen]!);
        if (status === "ISSUED") {
          seen++;
          continue;
        }
        if (status === "VOIDED") throw new Error(`receipt ${ids[seen]} was VOIDED`);
      } else if (done()) return performance.now();
      if (performance.now() > deadline) throw new Error(`${ids.length - seen} receipts not ISSUED in time`);
      await sleep(50);
    }
  };

  // Warm-up: the first receipt makes the agency's development key (not measured).
  process.stdout.write("  warm-up receipt to ISSUED … ");
  const warm: string[] = [];
  const tWarm = performance.now();
  const w = await issue(RECEIPTS + SERIAL, warm);
  if (w !== true) throw new Error(`warm-up receipt: ${w}`);
  await watchIssued(warm, () => true, performance.now() + 120_000);
  console.log(`${((performance.now() - tWarm) / 1000).toFixed(1)} s`);

  // Floors
  process.stdout.write("  floors … ");
  const healthz = await drive("gateway /healthz (floor)", Math.max(2000, RECEIPTS * 4), CLIENTS, async () => {
    const res = await http.request({ method: "GET", path: "/healthz" });
    await res.body.dump();
    return res.statusCode === 200 || `HTTP ${res.statusCode}`;
  });
  const pglite = await pgliteFloor(Math.max(2000, RECEIPTS * 4), CLIENTS);
  const signing = signingFloor(2);
  console.log("done");

  // 1. One client
  process.stdout.write(`  one client, ${SERIAL} receipts … `);
  const serialIds: string[] = [];
  const tSerial = performance.now();
  const serial = await drive("POST /api/v1/receipts, 1 client", SERIAL, 1, (i) =>
    issue(RECEIPTS + i, serialIds),
  );
  const serialIssuedAt = await watchIssued(serialIds, () => true, performance.now() + TIMEOUT_MS);
  const serialIssued = (serialIssuedAt - tSerial) / 1000;
  console.log("done");

  // 2. N clients, watched to ISSUED
  process.stdout.write(`  ${CLIENTS} clients, ${RECEIPTS} receipts … `);
  const ids: string[] = [];
  let posting = true;
  if (process.env.PGSTATS) platform.child.kill("SIGUSR2"); // TEMP-STATS
  const cpuBefore = cpuTree(platform.child.pid!);
  const tLoad = performance.now();
  loadWindow[0] = Number(process.hrtime.bigint() / 1000n);
  const watcher = watchIssued(ids, () => !posting, tLoad + TIMEOUT_MS);
  const load = await drive(`POST /api/v1/receipts, ${CLIENTS} clients`, RECEIPTS, CLIENTS, (i) =>
    issue(i, ids),
  );
  posting = false;
  const tPosted = performance.now();
  // While it waits, say every 5 s where the receipts not yet ISSUED stand (a sample of 100).
  const progress = setInterval(() => {
    void Promise.all(ids.slice(-100).map(statusOf)).then((statuses) => {
      const counts = new Map<string, number>();
      for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
      process.stdout.write(
        `\n    +${((performance.now() - tLoad) / 1000).toFixed(0)} s, last 100 posted: ${[...counts].map(([k, v]) => `${k} ${v}`).join(", ")}`,
      );
    });
  }, 5000);
  const issuedAt = await watcher.finally(() => clearInterval(progress));
  const wall = (issuedAt - tLoad) / 1000;
  const cpuAfter = cpuTree(platform.child.pid!);
  if (process.env.PGSTATS) platform.child.kill("SIGUSR2"); // TEMP-STATS
  loadWindow[1] = Number(process.hrtime.bigint() / 1000n);
  console.log("done\n");

  const fully = ids.length / wall;
  let platformCpu = 0;
  for (const [k, v] of cpuAfter) if (k.startsWith("platform")) platformCpu += v - (cpuBefore.get(k) ?? 0);
  console.log("figures (each beside its floor, measured in this run):");
  console.log(line(healthz));
  console.log(line(pglite));
  console.log(line(signing));
  console.log(line(serial, healthz));
  console.log(
    `  ${"fully issued, 1 client".padEnd(34)} ${(serialIds.length / serialIssued).toFixed(1).padStart(8)}/s  (${serialIds.length} ISSUED ${serialIssued.toFixed(1)} s after the first POST)`,
  );
  console.log(line(load, healthz));
  console.log(
    `  ${`fully issued, ${CLIENTS} clients`.padEnd(34)} ${fully.toFixed(1).padStart(8)}/s  (${ids.length} ISSUED ${wall.toFixed(1)} s after the first POST, ${((issuedAt - tPosted) / 1000).toFixed(1)} s after the last)  ${(fully / rateOf(pglite)).toFixed(3)}x of PGlite INSERT  ${(fully / rateOf(signing)).toFixed(3)}x of SM2 sign`,
  );
  console.log(
    `  ${"platform CPU per fully issued".padEnd(34)} ${((platformCpu / ids.length) * 1000).toFixed(1).padStart(8)} ms  (less load-dependent than the rates on a shared machine)`,
  );
  const sorted = [...load.latencies].sort((a, b) => a - b);
  const p99 = quantile(sorted, 0.99);
  console.log("\ntargets (issue 15, embedded):");
  console.log(
    `  fully issued ≥ 100/s            ${fully.toFixed(1)}/s   ${fully >= 100 ? "met" : "NOT met"}`,
  );
  console.log(`  POST p99 < 250 ms at ${CLIENTS} clients  ${ms(p99)}   ${p99 < 250 ? "met" : "NOT met"}`);
  console.log(`\nCPU during the ${CLIENTS}-client phase (${wall.toFixed(1)} s):`);
  for (const l of cpuReport(cpuBefore, cpuAfter, wall)) console.log(l);
} finally {
  await pool?.close().catch(() => {});
  if (platform) await stop(platform.child);
  rmSync(dataDir, { recursive: true, force: true });
}
if (values.profile) {
  // Profiles are written when the processes exit.
  await sleep(500);
  console.log(`\nCPU profiles in ${profileDir}; the ${CLIENTS}-client phase:`);
  for (const l of profileSummary(profileDir, loadWindow[0]!, loadWindow[1]!)) console.log(l);
}
