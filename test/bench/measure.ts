// What the benches share: driving N calls at a concurrency and recording each latency, quantiles,
// the printed line of a figure beside its floor, the floors measured in the bench's own process
// (PGlite INSERTs, SM2 signatures), and the CPU a process tree spent, from /proc.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, pgliteVersion } from "@piaoju/persistence";
import { generateSm2KeyPair, sign } from "../../packages/gm-crypto/src/index.ts";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Run {
  label: string;
  count: number;
  seconds: number;
  failures: number;
  latencies: number[];
  firstError?: string;
}

/** Runs `count` calls with `clients` in flight at once; records each call's latency. */
export async function drive(
  label: string,
  count: number,
  clients: number,
  call: (i: number) => Promise<true | string | boolean>,
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
          firstError ??= ok === false ? "failed" : ok;
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

export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
export const rateOf = (run: Run) => run.count / run.seconds;
export const ms = (n: number) => `${n.toFixed(1)} ms`;

/** A figure's line: rate, p50/p99/p99.9, failures, and its rate as a ratio of the floor's. */
export function line(run: Run, floor?: Run): string {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  const ratio = floor ? `  ${(rateOf(run) / rateOf(floor)).toFixed(3)}x of ${floor.label}` : "";
  return `  ${run.label.padEnd(34)} ${rateOf(run).toFixed(1).padStart(8)}/s  p50 ${ms(quantile(sorted, 0.5)).padStart(10)}  p99 ${ms(quantile(sorted, 0.99)).padStart(10)}  p99.9 ${ms(quantile(sorted, 0.999)).padStart(10)}  failures ${run.failures}${ratio}${run.firstError ? `\n      first failure: ${run.firstError.slice(0, 300)}` : ""}`;
}

/** PGlite INSERTs of a receipt-sized row at a concurrency, in this process (the database floor). */
export async function pgliteFloor(count: number, clients: number): Promise<Run> {
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

/** SM2 signatures of a receipt-sized document on one core, for `seconds` (the devices' raw rate). */
export function signingFloor(seconds: number): Run {
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

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds so far per process (the platform and its descendants), per thread kind. */
export function cpuTree(rootPid: number, rootLabel = "platform"): Map<string, number> {
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
  visit(rootPid, rootLabel);
  return out;
}

/** CPU share per process and per thread kind between two cpuTree readings `wall` seconds apart. */
export function cpuReport(before: Map<string, number>, after: Map<string, number>, wall: number): string[] {
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
