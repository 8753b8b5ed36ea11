import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive, type KafkaBroker, startKafkaBroker } from "../../deploy/kafka/broker.ts";

/**
 * Infrastructure a test may break on purpose: a PostgreSQL server and a Kafka broker of the test's
 * own (the machine's PostgreSQL and the suite's broker serve other test files, which must not see
 * the fault). Both keep their data across a stop, as a real outage does.
 */

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface PrivatePostgres {
  /** URL of the server's `postgres` database (services make theirs from it). */
  url: string;
  /** `pg_ctl stop -m immediate`: every backend killed, no checkpoint (recovery replays the WAL on start). */
  crash(): void;
  start(): void;
  destroy(): void;
}

/** The machine's PostgreSQL binaries (Debian's layout: /usr/lib/postgresql/<major>/bin). */
function pgBin(name: string): string {
  const root = "/usr/lib/postgresql";
  const major = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  if (!major) throw new Error("no PostgreSQL installation under /usr/lib/postgresql");
  return join(root, major, "bin", name);
}

/**
 * A PostgreSQL server in a temporary folder, run as the `postgres` user (initdb refuses root),
 * trust authentication on 127.0.0.1 only.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), "piaoju-pg-"));
  const asPostgres = process.getuid?.() === 0;
  if (asPostgres) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString().trim()), -1);
  const run = (bin: string, args: string[]) =>
    asPostgres
      ? execFileSync("runuser", ["-u", "postgres", "--", pgBin(bin), ...args], { stdio: "pipe" })
      : execFileSync(pgBin(bin), args, { stdio: "pipe" });
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const start = () => run("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"]);
  const stop = (mode: string) => {
    if (existsSync(join(data, "postmaster.pid"))) run("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]);
  };
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    crash: () => stop("immediate"),
    start,
    destroy() {
      try {
        stop("immediate");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface RestartableKafka {
  brokers: string;
  /** SIGKILL of the broker's JVM. */
  kill(): Promise<void>;
  /** The broker again, on the same port and the same log folder. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A Kafka broker of the test's own that can be killed and brought back on its data. */
export async function startRestartableKafka(): Promise<RestartableKafka> {
  const dataDir = mkdtempSync(join(tmpdir(), "piaoju-kafka-faults-"));
  const [port, controllerPort] = [await freePort(), await freePort()];
  let broker: KafkaBroker | undefined = await startKafkaBroker({ dataDir, port, controllerPort });
  return {
    brokers: broker.brokers,
    async kill() {
      if (!broker) return;
      const { pid } = broker;
      broker = undefined;
      try {
        process.kill(-pid, "SIGKILL"); // the broker's process group: the JVM and its launcher
      } catch {
        process.kill(pid, "SIGKILL");
      }
      while (isAlive(pid)) await new Promise((r) => setTimeout(r, 50));
    },
    async restart() {
      broker ??= await startKafkaBroker({ dataDir, port, controllerPort });
    },
    async stop() {
      await broker?.stop();
      broker = undefined;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A free loopback port below the kernel's ephemeral range (32768+ on Linux), for a process that
 * must get the same port again after a restart: no outgoing connection is ever given it meanwhile.
 */
export async function freeFixedPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export interface ServiceProcess {
  /** The services this process runs (`piaoju service <names…>`). */
  names: readonly string[];
  url: string;
  /** SIGKILL, as the kernel's OOM killer or a node failure ends a pod: no drain, no flush. */
  kill(): Promise<void>;
  /** The same services again, on the same port (as Kubernetes restarts the pod). */
  restart(): Promise<void>;
  /** SIGTERM: intake closed, consumers drained, outbox flushed. */
  stop(): Promise<void>;
}

const REPO_ROOT = new URL("../..", import.meta.url).pathname;

/**
 * `node --import tsx services/runner/src/main.ts service <names…>` (cluster mode, what each
 * Kubernetes Deployment runs) as a child process on a fixed loopback port, so that the others can
 * be pointed at it before it starts and find it again after a restart. Resolves once it prints that
 * it is running; rejects, with its output, if it exits first.
 */
export async function startServiceProcess(
  names: readonly string[],
  env: Record<string, string>,
): Promise<ServiceProcess> {
  const port = await freeFixedPort();
  // PIAOJU_FAULTS_LOG_DIR: each process's whole output in <dir>/<names>.log, across restarts.
  const logDir = process.env.PIAOJU_FAULTS_LOG_DIR;
  const logFile = logDir ? join(logDir, `${names.join("+")}.log`) : undefined;
  let child: ChildProcess | undefined;
  const spawnIt = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(
        process.execPath,
        ["--import", "tsx", "services/runner/src/main.ts", "service", ...names],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, ...env, PIAOJU_HTTP_PORT: String(port) },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      child = proc;
      let out = "";
      const keep = (data: Buffer) => {
        out = (out + data.toString()).slice(-20_000);
        if (logFile) appendFileSync(logFile, data);
      };
      proc.stdout?.on("data", (data: Buffer) => {
        keep(data);
        if (out.includes("Piaoju is running")) resolve();
      });
      proc.stderr?.on("data", keep);
      proc.once("exit", (code, signal) =>
        reject(new Error(`piaoju service ${names.join(" ")} exited (${signal ?? code}):\n${out}`)),
      );
    });
  const exited = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => proc.once("exit", () => r()));
  await spawnIt();
  // Should the test process die without stopping it, the service goes with it.
  const orphanGuard = () => child?.kill("SIGKILL");
  process.once("exit", orphanGuard);
  return {
    names,
    url: `http://127.0.0.1:${port}`,
    async kill() {
      if (!child) return;
      const proc = child;
      child = undefined;
      proc.kill("SIGKILL");
      await exited(proc);
    },
    async restart() {
      if (!child) await spawnIt();
    },
    async stop() {
      process.off("exit", orphanGuard);
      if (!child) return;
      const proc = child;
      child = undefined;
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      proc.kill("SIGTERM");
      await exited(proc);
      clearTimeout(timer);
    },
  };
}
