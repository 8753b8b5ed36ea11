// pnpm bench:idle — what the embedded platform costs when nobody uses it, and how long it takes
// to be ready (issue 15's targets: idle < 2 % of one core, ready < 5 s on a warm data folder).
//
//   1. `./piaoju start --no-demo` on a new data folder (cold: databases made and migrated), stopped;
//   2. started again on the same folder (warm) and left alone: after --settle seconds, its CPU time
//      (every thread, from /proc) over --seconds, per thread kind;
//   3. the floor, in the same run: a bare Node process with the same loader, idle the same time.
// --profile writes a CPU profile of the idle window's process to --profile-dir (default .bench-profiles).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "30" },
    settle: { type: "string", default: "10" },
    profile: { type: "boolean", default: false },
    "profile-dir": { type: "string", default: ".bench-profiles" },
  },
});
const SECONDS = Number(values.seconds);
const SETTLE = Number(values.settle);
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const TICKS = 100; // USER_HZ on Linux

/** CPU seconds so far of a process (all threads), and per thread name. */
function cpuOf(pid: number): { total: number; threads: Map<string, number> } {
  const threads = new Map<string, number>();
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/\d+$/, "#");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS;
    total += seconds;
    threads.set(name, (threads.get(name) ?? 0) + seconds);
  }
  return { total, threads };
}

async function idleCpu(pid: number) {
  const before = cpuOf(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const after = cpuOf(pid);
  const wall = (performance.now() - t0) / 1000;
  const threads = [...after.threads].map(
    ([name, s]) => [name, (s - (before.threads.get(name) ?? 0)) / wall] as const,
  );
  return { share: (after.total - before.total) / wall, threads: threads.filter(([, s]) => s > 0) };
}

interface Started {
  child: ChildProcess;
  readyMs: number;
  output: () => string;
}

async function startPlatform(dataDir: string, extraNodeArgs: string[] = []): Promise<Started> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [...extraNodeArgs, "--import", "tsx", "services/runner/src/main.ts", "start", "--no-demo"],
    {
      cwd: repoRoot,
      env: { ...process.env, PIAOJU_DATA_DIR: dataDir, PIAOJU_HTTP_PORT: "0", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  while (!/Piaoju is running at http/.test(out)) {
    if (child.exitCode !== null) throw new Error(`./piaoju start ended (${child.exitCode}):\n${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, readyMs: performance.now() - t0, output: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

const dataDir = mkdtempSync(join(tmpdir(), "piaoju-bench-idle-"));
const profileDir = resolve(repoRoot, values["profile-dir"]);
try {
  console.log(
    `idle bench: ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}; settle ${SETTLE} s, measure ${SECONDS} s`,
  );
  process.stdout.write("  cold start (new data folder) … ");
  const cold = await startPlatform(dataDir);
  console.log(`${(cold.readyMs / 1000).toFixed(1)} s to ready`);
  await stop(cold.child);

  process.stdout.write("  warm start (same folder) … ");
  const warm = await startPlatform(
    dataDir,
    values.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
  );
  console.log(`${(warm.readyMs / 1000).toFixed(1)} s to ready`);
  process.stdout.write(`  platform idle ${SETTLE}+${SECONDS} s … `);
  await new Promise((r) => setTimeout(r, SETTLE * 1000));
  const platform = await idleCpu(warm.child.pid!);
  console.log("done");
  await stop(warm.child);

  process.stdout.write(`  floor: bare node + tsx idle ${SECONDS} s … `);
  const bare = spawn(process.execPath, ["--import", "tsx", "-e", "setInterval(() => {}, 1000)"], {
    cwd: repoRoot,
    stdio: "ignore",
  });
  await new Promise((r) => setTimeout(r, 2000));
  const floor = await idleCpu(bare.pid!);
  bare.kill("SIGKILL");
  console.log("done\n");

  const pct = (s: number) => `${(s * 100).toFixed(2)} %`;
  console.log("figure                                  value        floor        target");
  console.log(
    `idle CPU, share of one core             ${pct(platform.share).padEnd(12)} ${pct(floor.share).padEnd(12)} < 2 %   ${platform.share < 0.02 ? "met" : "NOT met"}`,
  );
  console.log(
    `ready, warm data folder                 ${`${(warm.readyMs / 1000).toFixed(2)} s`.padEnd(12)} ${"".padEnd(12)} < 5 s   ${warm.readyMs < 5000 ? "met" : "NOT met"}`,
  );
  console.log(
    `ready, new data folder                  ${`${(cold.readyMs / 1000).toFixed(2)} s`.padEnd(12)}`,
  );
  console.log("\nidle CPU by thread (share of one core):");
  for (const [name, s] of platform.threads.sort((a, b) => b[1] - a[1]))
    console.log(`  ${name.padEnd(22)} ${pct(s)}`);
  if (values.profile) console.log(`\nCPU profile of the warm run: ${profileDir} (open in Chrome DevTools)`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
