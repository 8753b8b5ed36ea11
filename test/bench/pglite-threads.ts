// pnpm bench:pglite-threads — PGlite on the calling thread vs on a worker thread (PgliteWorkerPool),
// in the same run, alternating: statements/s and, less disturbed by a shared machine, the CPU the
// MAIN thread spent per statement (what the embedded platform's event loop no longer pays).
// Load: --concurrency callers, each either single INSERTs or transactions of --tx-statements
// statements (half of the work each), --statements statements per round, --rounds rounds.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { homedir, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Database, openDatabase, PgliteWorkerPool, pgliteVersion } from "@piaoju/persistence";

const { values } = parseArgs({
  options: {
    statements: { type: "string", default: "3000" },
    concurrency: { type: "string", default: "20" },
    "tx-statements": { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
  },
});
const STATEMENTS = Number(values.statements);
const CONCURRENCY = Number(values.concurrency);
const TX = Number(values["tx-statements"]);
const ROUNDS = Number(values.rounds);

/** CPU seconds of this process's main thread (its tid is the pid). */
function mainThreadCpu(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function load(db: Database): Promise<{ perSecond: number; mainCpuMs: number }> {
  let left = STATEMENTS;
  const cpu0 = mainThreadCpu();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, caller) => {
      while (left > 0) {
        if (caller % 2 === 0) {
          left -= 1;
          await db.query("INSERT INTO t (v, n) VALUES ($1, $2)", ["single", caller]);
        } else {
          left -= TX + 2;
          await db.transaction(async (tx) => {
            for (let i = 0; i < TX - 1; i++)
              await tx.query("INSERT INTO t (v, n) VALUES ($1, $2)", ["tx", i]);
            await tx.query("SELECT count(*) AS c FROM t WHERE n = $1", [caller]);
          });
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { perSecond: STATEMENTS / seconds, mainCpuMs: ((mainThreadCpu() - cpu0) * 1000) / STATEMENTS };
}

console.log(
  `PGlite, calling thread vs worker thread: load ${loadavg()[0]!.toFixed(1)}; ${STATEMENTS} statements per round (BEGIN/COMMIT counted), ${CONCURRENCY} callers, transactions of ${TX}, ${ROUNDS} rounds`,
);
const pool = new PgliteWorkerPool(1);
// Fresh databases from the platform's template (a copy instead of initdb), as `./piaoju start` makes them.
const scratch = mkdtempSync(join(tmpdir(), "piaoju-bench-pglite-"));
const template = join(
  process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"),
  "piaoju",
  `pglite-${pgliteVersion}`,
);
const engines: Array<[string, Database]> = [
  ["calling thread", await openDatabase({ kind: "pglite", dataDir: join(scratch, "a"), template })],
  [
    "worker thread",
    await openDatabase({ kind: "pglite", dataDir: join(scratch, "b"), template, worker: pool }),
  ],
];
for (const [, db] of engines) await db.exec("CREATE TABLE t (id serial PRIMARY KEY, v text, n int)");
const results = new Map<string, Array<{ perSecond: number; mainCpuMs: number }>>();
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, db] of engines) {
    const r = await load(db);
    results.set(name, [...(results.get(name) ?? []), r]);
    console.log(
      `  round ${round} ${name.padEnd(15)} ${r.perSecond.toFixed(0).padStart(6)} statements/s   main thread ${r.mainCpuMs.toFixed(3)} ms CPU per statement`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const [floor, worker] = [results.get("calling thread")!, results.get("worker thread")!];
const rate = median(worker.map((r) => r.perSecond)) / median(floor.map((r) => r.perSecond));
const cpu = median(worker.map((r) => r.mainCpuMs)) / median(floor.map((r) => r.mainCpuMs));
console.log(
  `medians: worker / calling thread = ${rate.toFixed(2)}x statements/s, ${cpu.toFixed(2)}x main-thread CPU per statement`,
);
for (const [, db] of engines) await db.close();
rmSync(scratch, { recursive: true, force: true });
