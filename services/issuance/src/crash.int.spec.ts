import { type ChildProcessByStdio, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { KafkaBus } from "@piaoju/bus";
import { type Database, openDatabase } from "@piaoju/persistence";
import { createTestDatabase, quoteIdent, withAdmin } from "@piaoju/persistence/testing";
import { TEST_ASSERTION_ENV } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  AGENCY,
  call,
  distribute,
  distribution,
  issueBody,
  numberFigures,
  runConcurrently,
  seedReferenceData,
  TOKEN,
  waitFor,
} from "./testing/harness.ts";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const RECEIPTS = 450;
const CLIENTS = 30;
const KILL_AFTER_ANSWERS = 150;
const POINTS = { "WIN-01": 1_000_001n, "WIN-02": 2_000_001n, "WIN-03": 3_000_001n } as const;

interface Running {
  url: string;
  child: ChildProcessByStdio<null, Readable, Readable>;
  exited: Promise<NodeJS.Signals | number | null>;
}

/**
 * The issuance process killed with SIGKILL in the middle of a load, then started again: every
 * request that got no answer is sent again with the same serial number. Afterwards every serial
 * has exactly one receipt and every point's numbers run from its start with no gap and no
 * duplicate: a transaction cut by the kill took its number back with it.
 */
describe("issuance killed mid-load (cluster: PostgreSQL + Kafka, a real process)", () => {
  let server: Awaited<ReturnType<typeof createTestDatabase>>;
  let prefix: string;
  let dataDir: string;
  let env: Record<string, string>;
  let db: Database;
  let current: Running | undefined;

  beforeAll(async () => {
    server = await createTestDatabase({ prefix: "issuance_crash" });
    prefix = `t${randomUUID().replaceAll("-", "").slice(0, 10)}_`;
    dataDir = await mkdtemp(join(tmpdir(), "piaoju-issuance-crash-"));
    env = {
      PIAOJU_INTERNAL_TOKEN: TOKEN,
      ...TEST_ASSERTION_ENV,
      PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
      PIAOJU_CHECK_CODE_KEY: randomBytes(16).toString("hex"),
      PIAOJU_HTTP_PORT: "0",
      PIAOJU_DATA_DIR: dataDir,
      PIAOJU_DATABASE_URL: server.url,
      PIAOJU_DATABASE_PREFIX: prefix,
      KAFKA_BROKERS: inject("kafkaBrokers"),
      // Test files share the broker: this platform's topics and groups are its own.
      PIAOJU_KAFKA_NAMESPACE: prefix.slice(0, -1),
      LOG_LEVEL: "error",
    };
  });
  afterAll(async () => {
    if (current) {
      current.child.kill("SIGTERM");
      await current.exited;
    }
    await db?.close();
    await withAdmin(server.url, (c) =>
      c.query(`DROP DATABASE IF EXISTS ${quoteIdent(`${prefix}issuance`)} WITH (FORCE)`),
    ).catch(() => {});
    await server?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** `piaoju --service issuance` as its own process; resolves once it prints its URL. */
  async function startProcess(): Promise<Running> {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "services/runner/src/main.ts", "service", "issuance"],
      { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on("exit", (code, signal) => resolve(signal ?? code)),
    );
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`issuance did not start: ${output}`)), 60_000);
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const found = /API\s+(http:\/\/\S+)\/v1/.exec(output);
        if (found) {
          clearTimeout(timer);
          resolve(found[1]!);
        }
      };
      child.stdout.on("data", read);
      child.stderr.on("data", read);
      void exited.then((how) => reject(new Error(`issuance exited (${String(how)}): ${output}`)));
    });
    return { url, child, exited };
  }

  it("leaves one receipt per serial and no gap or duplicate in any point's numbers after a SIGKILL mid-load", async () => {
    current = await startProcess();
    const first = current;
    const dbUrl = new URL(server.url);
    dbUrl.pathname = `/${prefix}issuance`;
    db = await openDatabase({ kind: "postgres", url: dbUrl.toString() });
    await seedReferenceData((method, path, body) => call(first.url, method, path, body));
    const probe = new KafkaBus({
      brokers: inject("kafkaBrokers").split(","),
      clientId: "crash-probe",
      namespace: prefix.slice(0, -1),
      log: () => () => {},
    });
    await distribute(
      probe,
      Object.entries(POINTS).map(([point, start]) => distribution(point, Number(start), 1000)),
    );
    await probe.close();
    await waitFor(
      async () =>
        (
          (await call(first.url, "GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`)).body
            .items as unknown[]
        ).length === 3,
    );

    const points = Object.keys(POINTS);
    const tasks: Array<{ serial: string; body: Record<string, unknown> }> = [];
    for (let i = 0; i < RECEIPTS; i++) {
      const serial = `CR-${String(i).padStart(4, "0")}`;
      const body = issueBody(serial, points[i % points.length]!);
      tasks.push({ serial, body });
      if (i % 7 === 3) tasks.push({ serial, body }); // a concurrent duplicate, as in the concurrency test
    }

    // Load until KILL_AFTER_ANSWERS answers, then SIGKILL with CLIENTS requests in flight.
    let killed = false;
    const answered = new Map<string, string>();
    const unanswered: Array<{ serial: string; body: Record<string, unknown> }> = [];
    let inFlightAtKill = 0;
    let openTransactionsAtKill = 0;
    const unexpected: unknown[] = [];
    await runConcurrently(
      tasks.map((task) => async () => {
        if (killed) {
          unanswered.push(task);
          return;
        }
        try {
          const res = await call(first.url, "POST", "/v1/receipts", task.body);
          if (res.status === 200 || res.status === 201) answered.set(task.serial, String(res.body.id));
          else unexpected.push(res);
        } catch {
          inFlightAtKill++;
          unanswered.push(task); // the connection died with the process: no answer
        }
        if (!killed && answered.size >= KILL_AFTER_ANSWERS) {
          killed = true;
          // How many of the process's transactions PostgreSQL holds open as it dies.
          const [open] = await db.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`,
          );
          openTransactionsAtKill = Number(open!.n);
          first.child.kill("SIGKILL");
        }
      }),
      CLIENTS,
    );
    expect(await first.exited).toBe("SIGKILL");
    expect(unexpected).toEqual([]);

    // Restart, and send every request that got no answer again, with the same serial.
    current = await startProcess();
    const second = current;
    const retried = await runConcurrently(
      unanswered.map((task) => async () => ({
        serial: task.serial,
        ...(await call(second.url, "POST", "/v1/receipts", task.body)),
      })),
      CLIENTS,
    );
    expect(retried.filter((r) => r.status !== 200 && r.status !== 201)).toEqual([]);
    const answeredBeforeKill = new Set(answered.keys());
    // A serial never answered before the kill whose retry found a receipt (no 201 for it): the receipt
    // committed just before the kill, and only its answer was lost.
    const issuedOnRetry = new Set(retried.filter((r) => r.status === 201).map((r) => r.serial));
    const committedAnswerLost = new Set(
      retried.map((r) => r.serial).filter((s) => !answeredBeforeKill.has(s) && !issuedOnRetry.has(s)),
    ).size;
    for (const r of retried) {
      const before = answered.get(r.serial);
      if (before) expect(String(r.body.id)).toBe(before); // answered before the kill: the same receipt
      answered.set(r.serial, String(r.body.id));
    }

    const rows = await db.query<{ id: string; serial: string; point: string; number: string }>(
      "SELECT id, biz_serial_no AS serial, issuing_point_code AS point, number::text AS number FROM receipt WHERE agency_code = $1",
      [AGENCY],
    );
    const serials = new Set(tasks.map((t) => t.serial));
    expect(rows).toHaveLength(serials.size);
    expect(new Set(rows.map((r) => r.serial))).toEqual(serials);
    for (const row of rows) expect(answered.get(row.serial)).toBe(row.id);
    const figures = Object.entries(POINTS).map(([point, start]) => ({
      point,
      start,
      ...numberFigures(
        rows.filter((r) => r.point === point).map((r) => BigInt(r.number)),
        start,
      ),
    }));
    for (const f of figures) expect(f).toMatchObject({ gaps: 0, duplicates: 0, contiguousFromStart: true });
    const runs = await db.query<{ point: string; next: string }>(
      "SELECT issuing_point_code AS point, next_number::text AS next FROM number_run WHERE agency_code = $1",
      [AGENCY],
    );
    for (const f of figures) {
      expect(runs.find((r) => r.point === f.point)!.next).toBe(String(f.start + BigInt(f.used)));
    }
    // Each receipt's event was written with it, once.
    const events = await db.query<{ n: string; receipts: string }>(
      `SELECT count(*)::text AS n, count(DISTINCT envelope->'data'->>'receiptId')::text AS receipts
         FROM piaoju_outbox WHERE envelope->>'type' = 'issuance.ReceiptRequested'`,
    );
    expect(events[0]).toEqual({ n: String(rows.length), receipts: String(rows.length) });

    console.log(
      `[crash] ${tasks.length} requests for ${serials.size} serials, ${CLIENTS} clients; SIGKILL after ${KILL_AFTER_ANSWERS} answers with ${openTransactionsAtKill} transactions open in PostgreSQL; ${answeredBeforeKill.size} serials answered before it died; ` +
        `${inFlightAtKill} requests cut in flight, ${unanswered.length - inFlightAtKill} not yet sent; all ${unanswered.length} sent again after restart: ` +
        `${retried.filter((r) => r.status === 201).length} issued (201), ${retried.filter((r) => r.status === 200).length} found (200), ` +
        `${committedAnswerLost} serial(s) had committed just before the kill with the answer lost; ` +
        `${rows.length} receipts, ${new Set(rows.map((r) => r.serial)).size} serials; ` +
        figures
          .map((f) => `${f.point}: ${f.used} numbers, ${f.gaps} gaps, ${f.duplicates} duplicates`)
          .join("; "),
    );
  }, 240_000);
});
