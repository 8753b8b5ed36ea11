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
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import {
  cpuReport,
  cpuTree,
  drive,
  line,
  ms,
  pgliteFloor,
  quantile,
  rateOf,
  signingFloor,
  sleep,
} from "./measure.ts";
import {
  businessCaller,
  internalCaller,
  type Platform,
  prepareBenchAgency,
  repoRoot,
  startEmbedded,
  stopPlatform as stop,
} from "./platform.ts";

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
const profileDir = resolve(repoRoot, values["profile-dir"]);

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
  platform = await startEmbedded(dataDir, {
    startTimeoutS: Number(values["start-timeout"]),
    profileDir: values.profile ? profileDir : undefined,
  });
  console.log(`ready in ${(platform.readyMs / 1000).toFixed(1)} s at ${platform.url}`);
  const base = platform.url;
  pool = new Pool(base, { connections: CLIENTS, pipelining: 1 });
  const http = pool;

  // The agency's ticket manager, asserted as the demo does (the bench holds the assertion key).
  const asManager = internalCaller(http, dataDir, {
    actor: "bench.manager",
    agency: AGENCY,
    roles: ["system-admin", "ticket-manager"],
  });

  process.stdout.write("  setting up the agency (申领, 入库, 分发, app) … ");
  const tSetup = performance.now();
  const perPoint = Math.ceil((RECEIPTS + SERIAL + 1) / POINTS) + 10;
  const points = Array.from({ length: POINTS }, (_, p) => `WIN-${String(p + 1).padStart(2, "0")}`);
  const app = await prepareBenchAgency(asManager, {
    agency: AGENCY,
    bill: BILL,
    points,
    perPoint,
    items: [{ code: "001", name: "护照工本费", unit: "本", standardFen: 12000 }],
    appName: "bench 业务系统",
  });
  console.log(`${((performance.now() - tSetup) / 1000).toFixed(1)} s`);

  const business = businessCaller(http, app);
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
