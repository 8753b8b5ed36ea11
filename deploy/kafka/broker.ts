// A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for tests and local runs.
// There is no Kafka package in apt or npm here and no Docker, so the jars come from Maven Central.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { once } from "node:events";
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";

const here = dirname(fileURLToPath(import.meta.url));
const pomPath = join(here, "pom.xml");
const libsDir = join(here, "libs");
const execFileAsync = promisify(execFile);
// Short-lived, small JVMs: C1 only and the serial collector start faster and use less RAM on 2 cores.
const jvmFlags = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"];

export interface KafkaBroker {
  brokers: string;
  pid: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  port?: number;
  controllerPort?: number;
  heapMb?: number;
  log?: (line: string) => void;
  /** Leave the broker running when this Node process exits (the CLI's `start`). */
  detach?: boolean;
}

/** Fetches the broker's jars into deploy/kafka/libs unless a complete copy for this pom.xml is there. */
export async function ensureKafkaLibs(): Promise<string> {
  // The marker holds the pom's hash: a changed pom means a new set of jars.
  const pomHash = createHash("sha256")
    .update(await readFile(pomPath))
    .digest("hex");
  const marker = (dir: string) => join(dir, ".complete");
  const isComplete = () => existsSync(marker(libsDir)) && readFileSync(marker(libsDir), "utf8") === pomHash;
  if (isComplete()) return libsDir;

  // Copy into a private directory and rename it into place, so concurrent test workers never see
  // (or put on a classpath) a half-copied set of jars.
  const partial = join(here, `libs.partial-${process.pid}`);
  await rm(partial, { recursive: true, force: true });
  try {
    await execFileAsync(
      "mvn",
      [
        "-B",
        "-q",
        "-f",
        pomPath,
        "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
        "-DincludeScope=runtime",
        `-DoutputDirectory=${partial}`,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    // mvn -q prints its [ERROR] lines on stdout; a missing mvn leaves only the spawn error.
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `Fetching the Kafka jars with Maven failed (is mvn on PATH and Maven Central reachable?):\n${tail(`${stdout}\n${stderr}`) || String(error)}`,
    );
  }
  await writeFile(marker(partial), pomHash);
  // Another process may have put its copy in place meanwhile; otherwise replace a stale set from an older pom.
  if (!isComplete()) {
    await rm(libsDir, { recursive: true, force: true });
    await rename(partial, libsDir).catch((error: unknown) => {
      if (!isComplete()) throw error;
    });
  }
  await rm(partial, { recursive: true, force: true }); // no-op once renamed
  return libsDir;
}

/** Starts a broker and resolves once an admin client can describe the cluster. */
export async function startKafkaBroker(opts: StartOptions = {}): Promise<KafkaBroker> {
  const log = opts.log ?? (() => {});
  const libs = await ensureKafkaLibs();
  const [port, controllerPort] = await reservePorts(opts.port, opts.controllerPort);
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "piaoju-kafka-")));
  await mkdir(dataDir, { recursive: true });
  const brokers = `127.0.0.1:${port}`;

  const propsPath = join(dataDir, "server.properties");
  await writeFile(propsPath, serverProperties(join(dataDir, "kraft"), port, controllerPort));
  const javaArgs = [
    ...jvmFlags,
    `-Dkafka.logs.dir=${dataDir}`,
    `-Dlog4j.configuration=file:${join(here, "log4j.properties")}`,
    "-cp",
    join(libs, "*"),
  ];

  // A data dir is formatted once and then reused as is (the CLI's run dir survives restarts):
  // `format --ignore-formatted` with a new cluster id fails on a formatted dir instead of skipping it.
  if (!existsSync(join(dataDir, "kraft", "meta.properties"))) {
    log(`kafka: formatting ${dataDir}`);
    // Kafka's cluster ids are 16 random bytes in base64url; making one here saves a JVM start.
    // Kafka never hands out ids starting with "-" (they read as command-line options).
    let clusterId = "-";
    while (clusterId.startsWith("-")) {
      clusterId = Buffer.from(randomUUID().replaceAll("-", ""), "hex").toString("base64url");
    }
    try {
      await execFileAsync("java", [
        ...javaArgs,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        clusterId,
        "-c",
        propsPath,
      ]);
    } catch (error) {
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
      throw new Error(`Formatting Kafka storage in ${dataDir} failed: ${String(error)}`);
    }
  }

  const outPath = join(dataDir, "kafka.out");
  const out = openSync(outPath, "a");
  const heapMb = opts.heapMb ?? 512;
  const command = [
    "java",
    `-Xms${Math.min(128, heapMb)}m`,
    `-Xmx${heapMb}m`,
    ...javaArgs,
    "kafka.Kafka",
    propsPath,
  ];
  // The 'exit' handler below does not run when this process is killed by a signal (a test worker on
  // timeout or Ctrl-C): setpriv makes the kernel SIGKILL the broker when its parent dies, then execs java.
  if (!opts.detach) command.unshift("setpriv", "--pdeathsig", "KILL", "--");
  // Own process group (detached), so stop() can signal the JVM and anything it forks at once.
  const child = spawn(command[0]!, command.slice(1), { detached: true, stdio: ["ignore", out, out] });
  child.unref(); // the broker must not keep the Node event loop (and so a test worker) alive
  closeSync(out); // the child has its own copy
  const pid = child.pid;
  if (pid === undefined) {
    const [error] = await once(child, "error");
    throw new Error(
      `Could not start ${command[0]} (java 17 and util-linux setpriv on PATH?): ${String(error)}`,
    );
  }
  log(`kafka: started pid ${pid} on ${brokers}, waiting for readiness`);

  // A broker must never outlive the Node process that started it, unless asked to (detach).
  // Only synchronous work is possible in an 'exit' handler: SIGKILL (no graceful shutdown) and rm.
  const killOnExit = () => {
    signalGroup(pid, "SIGKILL");
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  };
  if (!opts.detach) process.on("exit", killOnExit);

  let stopped: Promise<void> | undefined;
  const broker: KafkaBroker = {
    brokers,
    pid,
    dataDir,
    // Idempotent: a test's afterAll may stop a broker the test already stopped.
    stop() {
      stopped ??= (async () => {
        process.off("exit", killOnExit);
        await stopKafkaPid(pid);
        if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };

  try {
    await waitUntilReady(brokers, child, 90_000);
  } catch (error) {
    const logs = [outPath, join(dataDir, "server.log")].map((p) => `--- ${p}\n${tail(readOrEmpty(p))}`);
    await broker.stop();
    throw new Error(`${(error as Error).message}\n${logs.join("\n")}`);
  }
  log(`kafka: ready on ${brokers}`);
  return broker;
}

/** SIGTERM to the broker's process group (Kafka shuts down cleanly), SIGKILL if still alive after the timeout. */
export async function stopKafkaPid(pid: number, timeoutMs = 20_000): Promise<void> {
  signalGroup(pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      signalGroup(pid, "SIGKILL");
      break;
    }
    await sleep(100);
  }
  while (isAlive(pid)) await sleep(50); // SIGKILL is not instantaneous either
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function serverProperties(logDir: string, port: number, controllerPort: number): string {
  const props: Record<string, string | number | boolean> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    "controller.quorum.voters": `1@127.0.0.1:${controllerPort}`,
    "controller.listener.names": "CONTROLLER",
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "inter.broker.listener.name": "PLAINTEXT",
    "log.dirs": logDir,
    // One node: every internal topic has a single replica.
    "offsets.topic.replication.factor": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "group.initial.rebalance.delay.ms": 0,
    "num.partitions": 3,
    "auto.create.topics.enable": true,
    // Internal topics are created on first use; 50 partitions each (the default) costs seconds and files.
    "offsets.topic.num.partitions": 3,
    "transaction.state.log.num.partitions": 3,
    // 2 cores: fewer threads than the defaults (3 network, 8 I/O, 10 background).
    "num.network.threads": 2,
    "num.io.threads": 2,
    "background.threads": 2,
    "num.recovery.threads.per.data.dir": 1,
    // The log cleaner (for compacted topics such as __consumer_offsets) allocates 128 MB of heap by default.
    "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
    // Small preallocated index files per partition (default 10 MB each).
    "log.index.size.max.bytes": 1024 * 1024,
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n")}\n`;
}

/**
 * Binds each wanted port (0 = any free one) on 127.0.0.1 at once, so free ones differ, then releases them.
 * A taken port fails here with a clear message: a JVM that cannot bind takes ~30 s to exit.
 */
async function reservePorts(...wanted: [number | undefined, number | undefined]): Promise<[number, number]> {
  const servers = wanted.map(() => createServer());
  try {
    const ports = await Promise.all(
      servers.map(
        (server, i) =>
          new Promise<number>((resolve, reject) => {
            server.once("error", (error) =>
              reject(new Error(`Port ${wanted[i]} is not free: ${error.message}`)),
            );
            server.listen(wanted[i] ?? 0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
          }),
      ),
    );
    return [ports[0]!, ports[1]!];
  } finally {
    await Promise.all(
      servers.map((s) => new Promise((resolve) => (s.listening ? s.close(resolve) : resolve(0)))),
    );
  }
}

async function waitUntilReady(brokers: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `Kafka exited during startup (code ${code}, signal ${signal})`;
  });
  // kafkajs' own retries and logging are off: this loop is the retry, and refused connections are expected.
  const admin = new Kafka({
    clientId: "piaoju-kafka-readiness",
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1_000,
  }).admin();
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  try {
    for (;;) {
      if (exited) throw new Error(exited);
      if (Date.now() > deadline) {
        throw new Error(`Kafka on ${brokers} not ready after ${timeoutMs / 1000} s: ${lastError}`);
      }
      try {
        await admin.connect();
        const { brokers: members } = await admin.describeCluster();
        if (members.length > 0) return;
      } catch (error) {
        lastError = (error as Error).message;
      }
      await admin.disconnect();
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
