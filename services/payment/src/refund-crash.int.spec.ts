import { type ChildProcessByStdio, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { type Database, openDatabase } from "@piaoju/persistence";
import { createTestDatabase, quoteIdent, withAdmin } from "@piaoju/persistence/testing";
import { callerHeaders, TEST_ASSERTION_ENV, TEST_TOKEN } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type AlipayRig, startAlipayRig, startNontaxPeer, until } from "../../../test/support/payment.ts";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const AGENCY = "230107";
const OPS = { "x-piaoju-actor": "ops.li", "x-piaoju-agencies": AGENCY };

interface Running {
  url: string;
  child: ChildProcessByStdio<null, Readable, Readable>;
  exited: Promise<NodeJS.Signals | number | null>;
}

/**
 * The payment service as its own process (cluster: PostgreSQL + Kafka), killed with SIGKILL
 * between the steps of a refund and started again: after Alipay made the refund but before its
 * answer came back (the worst gap: money moved, nothing recorded). Afterwards the
 * refund is REFUNDED, Alipay holds exactly one refund for it and was asked to refund once,
 * and the database refuses a refund past what the channel took whatever the code does.
 */
describe("refunds survive the payment service killed between steps (a real process)", () => {
  let server: Awaited<ReturnType<typeof createTestDatabase>>;
  let prefix: string;
  let dataDir: string;
  let env: Record<string, string>;
  let db: Database;
  let current: Running | undefined;
  let alipay: AlipayRig;
  let peer: Awaited<ReturnType<typeof startNontaxPeer>>;

  beforeAll(async () => {
    server = await createTestDatabase({ prefix: "payment_crash" });
    prefix = `t${randomUUID().replaceAll("-", "").slice(0, 10)}_`;
    dataDir = await mkdtemp(join(tmpdir(), "piaoju-payment-crash-"));
    alipay = await startAlipayRig("2021004100000007");
    peer = await startNontaxPeer(AGENCY);
    env = {
      PIAOJU_INTERNAL_TOKEN: TEST_TOKEN,
      ...TEST_ASSERTION_ENV,
      PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
      PIAOJU_HTTP_PORT: "0",
      PIAOJU_DATA_DIR: dataDir,
      PIAOJU_DATABASE_URL: server.url,
      PIAOJU_DATABASE_PREFIX: prefix,
      KAFKA_BROKERS: inject("kafkaBrokers"),
      PIAOJU_KAFKA_NAMESPACE: prefix.slice(0, -1),
      PIAOJU_PAYMENT_POLL_MS: "100",
      PIAOJU_PAYMENT_FIRST_QUERY_MS: "300",
      PIAOJU_PAYMENT_REFUND_RETRY_MS: "100",
      PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS: "60000",
      LOG_LEVEL: "error",
      ...peer.env,
    };
  });
  afterAll(async () => {
    if (current) {
      current.child.kill("SIGTERM");
      await current.exited;
    }
    await db?.close();
    await withAdmin(server.url, (c) =>
      c.query(`DROP DATABASE IF EXISTS ${quoteIdent(`${prefix}payment`)} WITH (FORCE)`),
    ).catch(() => {});
    await server?.drop();
    await peer?.stop();
    await alipay?.sim.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function startProcess(): Promise<Running> {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "services/runner/src/main.ts", "service", "payment"],
      { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on("exit", (code, signal) => resolve(signal ?? code)),
    );
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`payment did not start: ${output}`)), 60_000);
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
      void exited.then((how) => reject(new Error(`payment exited (${String(how)}): ${output}`)));
    });
    return { url, child, exited };
  }

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${current!.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TEST_TOKEN}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...callerHeaders(OPS, method, path),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const kill = async () => {
    const running = current!;
    running.child.kill("SIGKILL");
    expect(await running.exited).toBe("SIGKILL");
    current = undefined;
  };
  const refundRow = async (id: string) =>
    (
      await db.query<{ status: string; reported_at: Date | null }>(
        "SELECT status, reported_at FROM payment_refund WHERE id = $1",
        [id],
      )
    )[0];

  it("pays a refund back exactly once across a SIGKILL, and the database caps refunds at what was taken", async () => {
    current = await startProcess();
    const dbUrl = new URL(server.url);
    dbUrl.pathname = `/${prefix}payment`;
    db = await openDatabase({ kind: "postgres", url: dbUrl.toString() });
    expect(
      (await call("PUT", "/v1/payment/channel-accounts/alipay", { agencyCode: AGENCY, ...alipay.account }))
        .status,
    ).toBe(200);
    const created = await call("POST", "/v1/payments", {
      agencyCode: AGENCY,
      bizSerialNo: "CRASH-1",
      payer: { type: 1, code: "230102199003077778", name: "王五" },
      items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
      issuingPointCode: "JJ-01",
      billCode: "23010726",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = String(created.body.id);
    const order = await call("POST", `/v1/payments/${id}/orders`, {
      channel: "alipay",
      scene: "qr",
      expectedAmountFen: 20000,
    });
    const orderId = String(order.body.orderId);
    await alipay.sim.pay(orderId);
    await until(async () => (await peer.notice(String(created.body.paymentCode))).status === "PAID");

    // The non-tax system approves; Alipay makes the refund and holds its answer; the service dies
    // waiting for it, the refund SENT (the steps before it are committed states the same way).
    alipay.sim.faults.answerDelayMs = 120_000;
    alipay.sim.faults.answerDelayMethods = new Set(["alipay.trade.refund"]);
    const asked = await call("POST", `/v1/payments/${id}/refunds`, {
      refundSerialNo: "CR-R1",
      amountFen: 20000,
      reason: "撤销处罚决定",
    });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    const refundId = String(asked.body.refundId);
    await until(() => (alipay.sim.trade(orderId)?.refunds.size ?? 0) > 0);
    expect((await refundRow(refundId))?.status).toBe("SENT");
    await kill();
    alipay.sim.faults.answerDelayMs = 0;
    alipay.sim.faults.answerDelayMethods = new Set();

    current = await startProcess();
    await until(async () => {
      const r = await refundRow(refundId);
      return r?.status === "REFUNDED" && r.reported_at !== null;
    });
    const trade = alipay.sim.trade(orderId)!;
    expect([...trade.refunds.keys()]).toEqual([refundId]);
    // The restarted service asked Alipay's refund query first and did not send the refund again.
    expect(trade.refundCalls).toBe(1);
    expect((await call("GET", `/v1/payments/${id}`)).body.status).toBe("REFUNDED");
    expect((await peer.sim.admin.listRefunds("REFUNDED")).items.map((r) => r.refundId)).toEqual([refundId]);

    // Whatever the code does, the database keeps refunds within what the channel took.
    await expect(
      db.query("UPDATE payment_order SET refunded_fen = refunded_fen + 1 WHERE id = $1", [orderId]),
    ).rejects.toThrow(/payment_order_refund_within_taken/);
    await expect(
      db.query("UPDATE payment SET refunded_fen = paid_fen + 1 WHERE id = $1", [id]),
    ).rejects.toThrow(/payment_refund_within_paid/);
  }, 240_000);
});
