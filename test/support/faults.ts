import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
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
