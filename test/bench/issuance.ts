// pnpm bench:issuance — issuing receipts end to end on this machine, against the brief's
// target (500 receipts/s, p99 < 100 ms with 300 concurrent clients), beside two baselines
// measured in the same run: the same server answering /healthz (the HTTP floor), and raw
// PostgreSQL inserts at the same concurrency (the database floor).
//
// The platform runs in its own process (cluster mode: the machine's PostgreSQL, a real Kafka
// broker), so the load generator never shares its event loop. Bounded in count and time.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { KafkaBus } from "@piaoju/bus";
import { createEnvelope, SegmentDistributed, topics } from "@piaoju/contracts";
import { createTestDatabase, quoteIdent, withAdmin } from "@piaoju/persistence/testing";
import { callerHeaders, TEST_ASSERTION_ENV } from "@piaoju/runtime/testing";
import pg from "pg";
import { Pool } from "undici";
import { type KafkaBroker, startKafkaBroker } from "../../deploy/kafka/broker.ts";
import { drive, quantile, type Run } from "./measure.ts";

const { values } = parseArgs({
  options: {
    receipts: { type: "string", default: "6000" },
    clients: { type: "string", default: "300" },
    points: { type: "string", default: "20" },
    /** Writes a V8 CPU profile of the issuance process into this folder (open it in Chrome's DevTools). */
    "cpu-prof": { type: "string" },
  },
});
const RECEIPTS = Number(values.receipts);
const CLIENTS = Number(values.clients);
const POINTS = Number(values.points);
const TOKEN = "b".repeat(40);
const AGENCY = "110101";
const BILL = "11010126";
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

function report(run: Run, baseline?: Run): string {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  const rate = run.count / run.seconds;
  const ratio = baseline
    ? `  ${(rate / (baseline.count / baseline.seconds)).toFixed(2)}x of ${baseline.label}`
    : "";
  return `${run.label.padEnd(34)} ${rate.toFixed(0).padStart(7)}/s  p50 ${quantile(sorted, 0.5).toFixed(1).padStart(6)} ms  p99 ${quantile(sorted, 0.99).toFixed(1).padStart(6)} ms  failures ${run.failures}${ratio}`;
}

let broker: KafkaBroker | undefined;
let child: ChildProcess | undefined;
const server = await createTestDatabase({ prefix: "bench_server" });
const prefix = `b${randomUUID().replaceAll("-", "").slice(0, 10)}_`;
try {
  if (!process.env.KAFKA_BROKERS) broker = await startKafkaBroker();
  const brokers = process.env.KAFKA_BROKERS ?? broker!.brokers;
  const env = {
    ...process.env,
    PIAOJU_INTERNAL_TOKEN: TOKEN,
    // Required since the service seals payers and keys its check codes (fresh for each run).
    PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
    PIAOJU_CHECK_CODE_KEY: randomBytes(16).toString("hex"),
    ...TEST_ASSERTION_ENV,
    PIAOJU_HTTP_PORT: "0",
    PIAOJU_DATABASE_URL: server.url,
    PIAOJU_DATABASE_PREFIX: prefix,
    PIAOJU_KAFKA_NAMESPACE: prefix.slice(0, -1),
    KAFKA_BROKERS: brokers,
    LOG_LEVEL: "warn",
  };
  const profile = values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] : [];
  child = spawn(
    process.execPath,
    [...profile, "--import", "tsx", "services/runner/src/main.ts", "service", "issuance"],
    {
      cwd: repoRoot,
      env,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const deadline = Date.now() + 60_000;
  let base = "";
  while (!base) {
    base = /API\s+(http:\/\/\S+)\/v1/.exec(out)?.[1] ?? "";
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`issuance did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const headers = {
    authorization: `Bearer ${TOKEN}`,
    "content-type": "application/json",
  };
  // Each request carries the gateway's assertion of who calls, as it would through the gateway.
  const as = (method: string, path: string) => ({
    ...headers,
    ...callerHeaders({ "x-piaoju-actor": "bench", "x-piaoju-agencies": AGENCY }, method, path),
  });
  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, { method: "POST", headers: as("POST", path), body: JSON.stringify(body) });
  // The measured runs use undici's pool directly: fetch costs the load generator about a core
  // at this concurrency, which on two cores would starve the server being measured.
  const client = new Pool(base, { connections: CLIENTS, pipelining: 1 });
  const status = async (method: "GET" | "POST", path: string, payload?: unknown): Promise<number> => {
    const res = await client.request({
      method,
      path,
      headers: as(method, path),
      ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
    });
    await res.body.dump();
    return res.statusCode;
  };

  // Reference data, and numbers for every issuing point (as stock would distribute them).
  for (let p = 0; p < POINTS; p++) {
    await post("/v1/issuance/issuing-points", { agencyCode: AGENCY, code: `WIN-${p}`, name: `窗口 ${p}` });
  }
  await post("/v1/issuance/items", {
    agencyCode: AGENCY,
    code: "001",
    name: "护照工本费",
    unit: "本",
    standardFen: 12000,
  });
  const probe = new KafkaBus({
    brokers: brokers.split(","),
    clientId: "bench",
    namespace: env.PIAOJU_KAFKA_NAMESPACE,
    log: () => () => {},
  });
  const perPoint = Math.ceil(RECEIPTS / POINTS) + 100;
  await probe.publish(
    Array.from({ length: POINTS }, (_, p) => ({
      topic: topics.stock,
      envelope: createEnvelope(
        SegmentDistributed,
        {
          distributionId: randomUUID(),
          segmentId: randomUUID(),
          agencyCode: AGENCY,
          billCode: BILL,
          issuingPointCode: `WIN-${p}`,
          startNumber: String(p * perPoint + 1).padStart(10, "0"),
          endNumber: String((p + 1) * perPoint).padStart(10, "0"),
          count: perPoint,
          distributedAt: new Date().toISOString(),
        },
        { producer: "bench" },
      ),
    })),
  );
  await probe.close();
  for (;;) {
    const res = await fetch(`${base}/v1/issuance/number-runs?agencyCode=${AGENCY}`, {
      headers: as("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`),
    });
    if (((await res.json()) as { items: unknown[] }).items.length === POINTS) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  const body = (i: number) => ({
    agencyCode: AGENCY,
    issuingPointCode: `WIN-${i % POINTS}`,
    billCode: BILL,
    bizSerialNo: `BENCH-${i}`,
    payer: { type: 1, code: "11010519491231002X", name: "张三" },
    items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
    totalFen: 12000,
    handlingPerson: "bench",
  });

  console.log(
    `Piaoju issuance benchmark: ${RECEIPTS} receipts, ${CLIENTS} concurrent clients, ${POINTS} issuing points`,
  );
  console.log("(platform: issuance alone in its own process, PostgreSQL + Kafka; load from this process)\n");
  const warm = await drive(
    "warm-up",
    300,
    50,
    async (i) => (await post("/v1/receipts", body(RECEIPTS + i))).status === 201,
  );
  if (warm.failures) throw new Error(`warm-up had ${warm.failures} failures`);

  const health = await drive(
    "baseline: GET /healthz",
    RECEIPTS,
    CLIENTS,
    async () => (await status("GET", "/healthz")) === 200,
  );
  const pool = new pg.Pool({ connectionString: server.url, max: 10 });
  await pool.query("CREATE TABLE bench_insert (id uuid PRIMARY KEY, payload jsonb NOT NULL)");
  const raw = await drive("baseline: PostgreSQL INSERT", RECEIPTS, CLIENTS, async (i) => {
    await pool.query("INSERT INTO bench_insert (id, payload) VALUES ($1, $2)", [
      randomUUID(),
      JSON.stringify(body(i)),
    ]);
    return true;
  });
  await pool.end();
  const issue = await drive(
    "issue (POST /v1/receipts)",
    RECEIPTS,
    CLIENTS,
    async (i) => (await status("POST", "/v1/receipts", body(i))) === 201,
  );
  await client.close();

  console.log(report(health));
  console.log(report(raw));
  console.log(report(issue, raw));
  const rate = issue.count / issue.seconds;
  const p99 = quantile(
    [...issue.latencies].sort((a, b) => a - b),
    0.99,
  );
  console.log(
    `\ntarget: 500 receipts/s and p99 < 100 ms at 300 clients -> ${rate >= 500 ? "met" : "not met"} (${rate.toFixed(0)}/s), p99 ${p99 < 100 ? "met" : "not met"} (${p99.toFixed(0)} ms)`,
  );
} finally {
  if (child && child.exitCode === null) {
    // A graceful stop drains and flushes (and writes the CPU profile); SIGKILL only if it hangs.
    const exited = new Promise((r) => child?.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    child.kill("SIGKILL");
  }
  await broker?.stop();
  await withAdmin(server.url, (c) =>
    c.query(`DROP DATABASE IF EXISTS ${quoteIdent(`${prefix}issuance`)} WITH (FORCE)`),
  ).catch(() => {});
  await server.drop();
}
