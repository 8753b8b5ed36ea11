// pnpm bench:signing — the signing path on this machine against the tender's hardware rating
// (sign ≥ 5,000/s, verify ≥ 4,500/s, make envelope ≥ 2,000/s, open envelope ≥ 2,500/s), each
// figure beside a baseline measured in the same run: gm-crypto doing the same work on one core in
// this process, with no gRPC at all (its SM2 backend, native or OpenSSL, is printed; the OpenSSL
// path's one-core rate is printed beside it, as the ceiling before the native addon).
//
// Then two real software devices (separate processes, the same keystore, as two hardware devices
// with the same keys) behind the signing gateway (in this process, load-balancing mode), driven
// over real gRPC on 127.0.0.1. Every phase is bounded in time; the default run takes about a minute.
//
// The run is profiled (V8 CPU profiles of both devices, main threads and workers, and of the
// gateway's thread) and ends with where the time goes, by kind of work and by function;
// `--cpu-prof <dir>` keeps the profiles there (else a temporary folder, removed), `--no-profile`
// skips profiling.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { createLogger, unaryCall } from "@piaoju/runtime";
import { testPki } from "@piaoju/service-identity/testing";
// Cross-package relative imports: the bench starts the device processes the way the device's own
// tests do, and the gateway in-process the way its failover test does.
import {
  Certificate,
  createEnvelopedData,
  DevCa,
  generateSm2KeyPair,
  openEnvelopedData,
  sign,
  sm2Backend,
  verify,
} from "../../packages/gm-crypto/src/index.ts";
import { opensslSign, opensslVerify } from "../../packages/gm-crypto/src/signature.ts";
import { startSigningGateway } from "../../services/signing-gateway/src/gateway.ts";
import { gatewayClient, gatewaySecurity } from "../../services/signing-gateway/src/testing/tls.ts";
import { makeKeystore, type RunningTestDevice, spawnDevice } from "../support/signing-device.ts";
import type { ClientJob, ClientResult } from "./signing-client.ts";

const { values } = parseArgs({
  options: {
    /** Seconds per measured phase. */
    seconds: { type: "string", default: "4" },
    /** SM2 worker threads per device. Two devices × one worker = the machine's two cores. */
    workers: { type: "string", default: "1" },
    /** Items per SignBatch on the batched sign path. */
    batch: { type: "string", default: "100" },
    "cpu-prof": { type: "string" },
    "no-profile": { type: "boolean", default: false },
    /** Worker threads generating the load (each with its own gRPC channel); 0 = on the gateway's thread. */
    "client-threads": { type: "string", default: "1" },
  },
});
const CLIENT_THREADS = Number(values["client-threads"]);
const SECONDS = Number(values.seconds);
const WORKERS = values.workers ?? "1";
const BATCH = Number(values.batch);
const KEEP_PROFILES = Boolean(values["cpu-prof"]);
const PROFILE_DIR = values["cpu-prof"]
  ? resolve(values["cpu-prof"])
  : values["no-profile"]
    ? undefined
    : mkdtempSync(join(tmpdir(), "bench-signing-prof-"));
const KEY = "agency-110101";
const MESSAGE = Buffer.alloc(256, 7); // a receipt-sized message
const CONTENT = Buffer.alloc(256, 9); // envelope content: an SM4 key plus a little, as the exchange sends

const TARGETS = { sign: 5_000, verify: 4_500, make: 2_000, open: 2_500 } as const;

interface Measured {
  label: string;
  path: string;
  ops: number;
  seconds: number;
  /** Per call (a batched call counts once). */
  latencies: number[];
  failures: number;
  /** CPU used during the phase, in cores (CPU seconds / wall seconds): this process, then each device. */
  cores: number[];
}

/** Processes whose CPU each phase accounts for: this one (client + gateway), then the devices. */
const watched: number[] = [process.pid];

/** CPU seconds (user + system, all threads) a process has used, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat; after the command they are the 12th and 13th.
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** One core, this thread, no I/O: how many `fn` per second. */
interface Baseline {
  /** Per second of wall time. */
  rate: number;
  /** Per second of CPU this thread got: the same as `rate` on a quiet machine. */
  perCpuSecond: number;
}

function rateOnOneCore(fn: () => void, seconds = 1.5): Baseline {
  for (let i = 0; i < 50; i++) fn(); // warm-up
  let n = 0;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    rate: n / ((performance.now() - started) / 1000),
    perCpuSecond: n / ((cpu.user + cpu.system) / 1e6),
  };
}

/** `concurrency` loops calling `call` until the phase's time is up; `call` returns how many ops it did. */
async function drive(
  label: string,
  path: string,
  concurrency: number,
  call: () => Promise<number>,
): Promise<Measured> {
  const latencies: number[] = [];
  let ops = 0;
  let failures = 0;
  const cpuBefore = watched.map(cpuSeconds);
  const started = performance.now();
  const end = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const done = await call();
          ops += done;
          latencies.push(performance.now() - t0);
        } catch {
          failures++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cores = watched.map((pid, i) => (cpuSeconds(pid) - (cpuBefore[i] ?? 0)) / seconds);
  return { label, path, ops, seconds, latencies, failures, cores };
}

const CLIENT_URL = new URL("./signing-client.ts", import.meta.url);

/** A load-generator thread (tsx's loader registered first, as the device's pool does for its workers). */
function clientThread(job: ClientJob): Worker {
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const entry = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(CLIENT_URL.href)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(entry)}`), {
    workerData: job,
    name: "bench-client",
  });
}

/** The same phase as `drive`, with the calls made from CLIENT_THREADS worker threads. */
async function driveThreads(
  label: string,
  path: string,
  job: Omit<ClientJob, "seconds" | "concurrency">,
  concurrency: number,
): Promise<Measured> {
  const threads = Array.from({ length: CLIENT_THREADS }, () =>
    clientThread({
      ...job,
      seconds: SECONDS,
      concurrency: Math.ceil(concurrency / CLIENT_THREADS),
    }),
  );
  const ready = threads.map((t) => new Promise<void>((done) => t.once("message", () => done())));
  await Promise.all(ready);
  const results = threads.map(
    (t) =>
      new Promise<ClientResult>((done, fail) => {
        t.once("message", (m: ClientResult) => done(m));
        t.once("error", fail);
      }),
  );
  const cpuBefore = watched.map(cpuSeconds);
  const started = performance.now();
  for (const t of threads) t.postMessage("go");
  const all = await Promise.all(results);
  const seconds = (performance.now() - started) / 1000;
  const cores = watched.map((pid, i) => (cpuSeconds(pid) - (cpuBefore[i] ?? 0)) / seconds);
  await Promise.all(threads.map((t) => t.terminate()));
  const firstError = all.find((r) => r.firstError)?.firstError;
  if (firstError) process.stderr.write(`${label}: ${firstError}\n`);
  return {
    label,
    path,
    ops: all.reduce((sum, r) => sum + r.ops, 0),
    seconds,
    latencies: all.flatMap((r) => r.latencies),
    failures: all.reduce((sum, r) => sum + r.failures, 0),
    cores,
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en");
const ms = (n: number) => (Number.isNaN(n) ? "-" : n < 10 ? n.toFixed(2) : n.toFixed(1));

function row(m: Measured, baseline: Baseline, target: number): string {
  const rate = m.ops / m.seconds;
  const sorted = [...m.latencies].sort((a, b) => a - b);
  const met = rate >= target ? `≥ ${fmt(target)} ✓` : `< ${fmt(target)} ✗`;
  // Work per CPU-second over all our processes, and what that would give with the machine's
  // cores to ourselves: an upper bound, for a run on a machine busy with other work.
  const cpu = m.cores.reduce((a, b) => a + b, 0);
  const perCpu = rate / cpu;
  const idle = perCpu * cpus().length;
  return [
    m.label.padEnd(15),
    m.path.padEnd(44),
    `${fmt(rate)}/s`.padStart(9),
    `${(rate / baseline.rate).toFixed(2)}x`.padStart(7),
    ms(quantile(sorted, 0.5)).padStart(8),
    ms(quantile(sorted, 0.99)).padStart(8),
    String(m.failures).padStart(5),
    m.cores
      .map((c) => c.toFixed(2))
      .join(" + ")
      .padStart(20),
    fmt(perCpu).padStart(8),
    `${(perCpu / baseline.perCpuSecond).toFixed(2)}x`.padStart(7),
    `${fmt(idle)}/s`.padStart(10),
    `  ${met}`,
  ].join(" ");
}

/** The addon's functions: in a V8 profile a native function shows with its name and no URL. */
const NATIVE_BACKEND = sm2Backend().name === "native";
const NATIVE_SM2 = new Set([
  "sign",
  "verify",
  "encrypt",
  "decrypt",
  "keyContext",
  "buildTable",
  "sm3",
  "kdf",
  "mul",
]);

/** Where a sampled frame's time goes, by kind of work. */
function categoryOf(functionName: string, url: string): string {
  if (functionName === "(garbage collector)") return "garbage collection";
  // V8 counts a native addon call as the self time of the JS function that makes it.
  if (NATIVE_SM2.has(functionName) && (url === "" || /gm-crypto\/src\/(signature|encryption)\.ts/.test(url)))
    return NATIVE_BACKEND
      ? "SM2 in the native addon (self time of gm-crypto's sign/verify/encrypt/decrypt)"
      : "SM2 via gm-crypto";
  if (url.includes("internal/crypto")) return "OpenSSL via node:crypto (SM2, SM3, SM4, ECDH)";
  if (url.includes("gm-crypto") || url.includes("asn1js"))
    return "gm-crypto JS (Z_A, DER/ASN.1, point recovery)";
  if (url.includes("protobufjs") || url.includes("proto-loader")) return "protobuf encode/decode";
  if (url.includes("@grpc") || url.includes("http2") || url.includes("net.js") || url.includes("stream"))
    return "gRPC / HTTP/2 / sockets";
  if (functionName === "postMessage" || url.includes("worker")) return "worker messaging (structured clone)";
  if (url.includes("/services/") || url.includes("/packages/runtime"))
    return "device / gateway / runtime code";
  if (url.includes("tsx") || url.includes("esm") || url.includes("loader"))
    return "module loading (start-up)";
  if (
    url.includes("node:events") ||
    url.includes("buffer") ||
    url.includes("async_hooks") ||
    url.includes("task_queues") ||
    url.includes("internal/util") ||
    functionName === "runMicrotasks"
  )
    return "Node events, buffers, promise jobs (mostly under gRPC)";
  if (url === "") return "native (HTTP/2 session, sockets, timers)";
  return "other";
}

/**
 * Busy time (idle left out) of the profiles in `dir` whose file names contain one of `marks`:
 * by kind of work, then the functions with the most self time.
 */
function summariseProfiles(dir: string, marks: string[]): string {
  const byFunction = new Map<string, number>();
  const byCategory = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile") && marks.some((m) => f.includes(m)));
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
      nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
      samples: number[];
      timeDeltas: number[];
    };
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const node = byId.get(id);
      const dt = profile.timeDeltas[i] ?? 0;
      if (!node) return;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === "(idle)" || functionName === "(program)") {
        idle += dt;
        return;
      }
      const where = url ? `${url.replace(/^.*\//, "")}:${lineNumber + 1}` : "";
      const key = `${functionName || "(anonymous)"} ${where}`.trim();
      byFunction.set(key, (byFunction.get(key) ?? 0) + dt);
      const category = categoryOf(functionName, url);
      byCategory.set(category, (byCategory.get(category) ?? 0) + dt);
      busy += dt;
    });
  }
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `  ${files.length} thread profiles; busy ${((100 * busy) / (busy + idle)).toFixed(0)}% of sampled thread time. Busy time by kind:`,
    ...[...byCategory.entries()].sort((a, b) => b[1] - a[1]).map(([name, t]) => `    ${pct(t)}  ${name}`),
    "  functions with the most self time:",
    ...[...byFunction.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([name, t]) => `    ${pct(t)}  ${name}`),
  ];
  return lines.join("\n");
}

/** Profiles this process (client and in-process gateway) with the inspector; returns a stop-and-write. */
async function startOwnProfile(): Promise<(file: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((done, fail) =>
      session.post(method, params ?? {}, (error, result) => (error ? fail(error) : done(result))),
    );
  await post("Profiler.enable");
  await post("Profiler.start");
  return async (file) => {
    const { profile } = (await post("Profiler.stop")) as { profile: unknown };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

async function main(): Promise<void> {
  const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  process.stdout.write(
    `pnpm bench:signing — ${new Date().toISOString()}, ${SECONDS} s per phase, ${cpus().length} cores, load average ${load()}\n\n`,
  );

  // --- Baseline: one core, Node's OpenSSL through gm-crypto, no gRPC --------------------------------
  const key = generateSm2KeyPair();
  const signature = sign(MESSAGE, key);
  const keystore = makeKeystore();
  const base = {
    sign: rateOnOneCore(() => sign(MESSAGE, key)),
    verify: rateOnOneCore(() => verify(MESSAGE, signature, key.publicKey)),
  };
  const openssl = {
    sign: rateOnOneCore(() => opensslSign(MESSAGE, key)),
    verify: rateOnOneCore(() => opensslVerify(MESSAGE, signature, key.publicKey)),
  };
  const backend = sm2Backend();
  process.stdout.write(
    `SM2 backend: ${backend.name} — ${backend.detail}\n` +
      `baseline (one core, gm-crypto, ${backend.name}, 256-byte message): sign ${fmt(base.sign.rate)}/s (${fmt(base.sign.perCpuSecond)}/CPU-s), verify ${fmt(base.verify.rate)}/s (${fmt(base.verify.perCpuSecond)}/CPU-s)\n` +
      `for scale (one core, the same through Node's OpenSSL 3.0): sign ${fmt(openssl.sign.rate)}/s (${fmt(openssl.sign.perCpuSecond)}/CPU-s), verify ${fmt(openssl.verify.rate)}/s (${fmt(openssl.verify.perCpuSecond)}/CPU-s)\n`,
  );

  // --- Two devices and the gateway ----------------------------------------------------------------
  const profileArgs = PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const devices: RunningTestDevice[] = await Promise.all(
    [0, 1].map(() =>
      spawnDevice(keystore, { PIAOJU_SIGNING_DEVICE_WORKERS: WORKERS, LOG_LEVEL: "warn" }, profileArgs),
    ),
  );
  for (const device of devices) watched.push(device.process.pid ?? -1);
  const gateway = await startSigningGateway(
    {
      // Mutual TLS both ways, as in production: the figures include its cost.
      ...(await gatewaySecurity()),
      devices: devices.map((d) => `127.0.0.1:${d.port}`),
      mode: "load-balancing",
      // A SignBatch of 100 on one worker takes tens of milliseconds, more on a busy machine; the
      // default 2 s attempt deadline is for single calls in production, not for a saturating load.
      // Health polls get 2 s: on a saturated 2-core machine a device's main thread answers late,
      // and a device marked down mid-phase would measure the failover, not the throughput.
      deadlines: { defaultMs: 30_000, attemptMs: 20_000, healthMs: 2_000 },
    },
    createLogger({ name: "signing-gateway", level: "error", destination: process.stderr }),
  );
  const client = await gatewayClient(gateway.address);
  // The client threads call as issuance too, each over its own mutual-TLS channel.
  const clientTlsDir = await (await testPki()).tlsDir("issuance");
  try {
    const certificate = (await unaryCall(client, client.GetCertificate, { keyId: KEY })).certificate;
    const deviceCert = Certificate.fromDer(certificate);
    // Envelope baselines: the same GM/T 0010 work on one core. The device opens envelopes for its
    // certificate; locally the same work is done with a key pair of our own.
    const sampleEnvelope = createEnvelopedData({ content: CONTENT, recipients: [deviceCert] });
    const ownCa = await DevCa.create({ name: "bench" });
    const ownCert = ownCa.issue({
      subject: { commonName: "bench" },
      publicKey: key.publicKey,
      usage: "sign+encrypt",
    });
    const ownEnvelope = createEnvelopedData({ content: CONTENT, recipients: [ownCert] });
    const baseMake = rateOnOneCore(
      () => createEnvelopedData({ content: CONTENT, recipients: [deviceCert] }),
      1,
    );
    const baseOpen = rateOnOneCore(() => openEnvelopedData(ownEnvelope, { key, cert: ownCert }), 1);
    process.stdout.write(
      `baseline (one core, GM/T 0010 EnvelopedData, 256-byte content, one recipient): make ${fmt(baseMake.rate)}/s (${fmt(baseMake.perCpuSecond)}/CPU-s), open ${fmt(baseOpen.rate)}/s (${fmt(baseOpen.perCpuSecond)}/CPU-s)\n`,
    );
    process.stdout.write(
      `devices: 2 processes × ${WORKERS} SM2 worker(s); gateway in this process, load-balancing; client (${CLIENT_THREADS > 0 ? `${CLIENT_THREADS} thread(s) of this process, each its own channel` : "on the gateway's thread"}) → gateway → device over gRPC on 127.0.0.1\n\n`,
    );

    // Warm every path once (JIT, channels, worker start-up).
    const items = Array.from({ length: BATCH }, () => ({ keyId: KEY, data: MESSAGE }));
    await Promise.all(
      Array.from({ length: 32 }, () =>
        unaryCall(client, client.SignBatch, { items }, { deadlineMs: 30_000 }),
      ),
    );

    const profiler = PROFILE_DIR ? await startOwnProfile() : undefined;
    const results: string[] = [];
    const header = [
      "operation".padEnd(15),
      "path".padEnd(44),
      "rate".padStart(9),
      "vs base".padStart(7),
      "p50 ms".padStart(8),
      "p99 ms".padStart(8),
      "fail".padStart(5),
      "cores: bench+gw, dev".padStart(20),
      "/CPU-s".padStart(8),
      "vs base".padStart(7),
      "idle est.".padStart(10),
      "  target (measured rate)",
    ].join(" ");
    results.push(header, "-".repeat(header.length + 4));
    const print = (line: string) => {
      results.push(line);
      process.stdout.write(`${line}\n`);
    };
    process.stdout.write(`${header}\n${"-".repeat(header.length + 4)}\n`);

    // Each phase: from CLIENT_THREADS load-generator threads (default), or, with
    // --client-threads 0, from loops on this thread (which the gateway then shares).
    const phase = async (
      label: string,
      path: string,
      concurrency: number,
      job: Omit<ClientJob, "seconds" | "concurrency" | "address" | "tlsDir">,
    ): Promise<Measured> => {
      if (CLIENT_THREADS > 0)
        return driveThreads(
          label,
          path,
          { ...job, address: gateway.address, tlsDir: clientTlsDir },
          concurrency,
        );
      const method = client[job.method] as Parameters<typeof unaryCall>[1];
      return drive(label, path, concurrency, async () => {
        const answer = (await unaryCall(client, method, job.request as never, {
          deadlineMs: 30_000,
        })) as Record<string, unknown>;
        if (job.method === "SignBatch")
          return (answer.results as { signature?: Uint8Array }[]).filter((r) => r.signature?.length).length;
        if (job.method === "Verify" && answer.valid !== true)
          throw new Error("a valid signature did not verify");
        if (job.method === "VerifyBatch") {
          const results = answer.results as { verdict?: { valid?: boolean } }[];
          if (!results.every((r) => r.verdict?.valid === true))
            throw new Error("a valid signature did not verify");
          return results.length;
        }
        if (job.method === "OpenEnvelope" && (answer.content as Uint8Array).length !== CONTENT.length)
          throw new Error("the envelope opened to something else");
        return 1;
      });
    };
    print(
      row(
        await phase("sign", `SignBatch(${BATCH}), 8 calls in flight`, 8, {
          method: "SignBatch",
          request: { items },
        }),
        base.sign,
        TARGETS.sign,
      ),
    );
    print(
      row(
        await phase("sign", "unary Sign, 256 in flight (gateway batches)", 256, {
          method: "Sign",
          request: { keyId: KEY, data: MESSAGE },
        }),
        base.sign,
        TARGETS.sign,
      ),
    );
    const deviceSignature = (await unaryCall(client, client.Sign, { keyId: KEY, data: MESSAGE })).signature;
    print(
      row(
        await phase("verify", `VerifyBatch(${BATCH}), 8 calls in flight`, 8, {
          method: "VerifyBatch",
          request: {
            items: Array.from({ length: BATCH }, () => ({
              keyId: KEY,
              data: MESSAGE,
              signature: deviceSignature,
            })),
          },
        }),
        base.verify,
        TARGETS.verify,
      ),
    );
    print(
      row(
        await phase("verify", "unary Verify (key_id), 256 in flight (gateway batches)", 256, {
          method: "Verify",
          request: { keyId: KEY, data: MESSAGE, signature: deviceSignature },
        }),
        base.verify,
        TARGETS.verify,
      ),
    );
    print(
      row(
        await phase("make envelope", "unary MakeEnvelope, 1 recipient, 64 in flight", 64, {
          method: "MakeEnvelope",
          request: { recipientCertificates: [certificate], content: CONTENT },
        }),
        baseMake,
        TARGETS.make,
      ),
    );
    print(
      row(
        await phase("open envelope", "unary OpenEnvelope, 64 in flight", 64, {
          method: "OpenEnvelope",
          request: { keyId: KEY, envelope: sampleEnvelope },
          expectLength: CONTENT.length,
        }),
        baseOpen,
        TARGETS.open,
      ),
    );
    await profiler?.(join(PROFILE_DIR ?? "", `bench-${process.pid}.cpuprofile`));
    const stats = gateway.stats();
    process.stdout.write(
      `\nvs base = the rate divided by the one-core baseline of the same operation above (sign, verify, make, open).\n` +
        `latency = per gRPC call from this process (a SignBatch call carries ${BATCH} signatures).\n` +
        `cores = CPU used during the phase by this process (client threads + gateway) and each device process; their sum\n` +
        `  against the machine's ${cpus().length} cores shows how much CPU the rest of the machine took (load average now ${load()}).\n` +
        `/CPU-s = operations per CPU-second of all those processes; vs base = that against the baseline's per CPU-second.\n` +
        `idle est. = /CPU-s × ${cpus().length} cores: what the run would reach with the machine to itself (an upper bound;\n` +
        `  on a quiet machine it is close to the measured rate).\n` +
        `gateway: ${stats.devices.map((d) => JSON.stringify(d)).join(" ")}; retries ${stats.retries}, coalesced batches ${stats.batches} (${stats.batchedItems} items), verify batches ${stats.verifyBatches} (${stats.verifiedBatchedItems} items)\n`,
    );
  } finally {
    client.close();
    await gateway.close();
    await Promise.all(devices.map((d) => d.stop()));
    rmSync(keystore.dir, { recursive: true, force: true });
  }

  if (PROFILE_DIR) {
    const marks = devices.map((d) => `.${d.process.pid}.`);
    process.stdout.write(
      `\nProfile summary${KEEP_PROFILES ? ` (CPU profiles in ${PROFILE_DIR}: open them in Chrome DevTools)` : ""}:\n` +
        `the two devices (main threads and workers):\n${summariseProfiles(PROFILE_DIR, marks)}\n` +
        `${CLIENT_THREADS > 0 ? "the gateway (this process's main thread; the load comes from other threads)" : "this process (client + gateway)"}, during the phases:\n${summariseProfiles(PROFILE_DIR, [`bench-${process.pid}`])}\n`,
    );
    if (!KEEP_PROFILES) rmSync(PROFILE_DIR, { recursive: true, force: true });
  }
}

await main();
