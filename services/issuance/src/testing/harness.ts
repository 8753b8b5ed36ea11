import { randomUUID } from "node:crypto";
import type { Bus } from "@piaoju/bus";
import { createEnvelope, type Envelope, SegmentDistributed, topics } from "@piaoju/contracts";
import type { Database } from "@piaoju/persistence";
import type { Platform } from "@piaoju/runtime";
import { callerHeaders, startTestPlatform, type TestCaller } from "@piaoju/runtime/testing";
import { issuanceService } from "../main.ts";

export const TOKEN = "t".repeat(40);
/** The SM4 key the receipts' personal data is sealed with in these tests. */
export const SECRETS_KEY = "0123456789abcdeffedcba9876543210";
/** The root key of the agencies' check-code secrets in these tests. */
export const CHECK_CODE_KEY = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
/** An agency of its own per test file keeps the crash test's process (its own namespace) apart too. */
export const AGENCY = `T${randomUUID().replaceAll("-", "").slice(0, 8).toUpperCase()}`;
export const BILL = "11010126";
export const CLERK = { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY };

export interface Response {
  status: number;
  body: Record<string, unknown> & { issues?: Array<{ field: string; rule: string }>; code?: string };
}

/** Calls a Piaoju HTTP API with the internal token, as the clerk unless told otherwise (for processes the tests start). */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: TestCaller = CLERK,
): Promise<Response> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...callerHeaders(headers, method, path),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Response["body"] };
}

export interface Harness {
  platform: Platform;
  /** A bus client that plays stock and the payment platform. */
  probe: Bus;
  db: Database;
  call: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Response>;
  stop(): Promise<void>;
}

/** The issuance service through the whole frame: cluster (PostgreSQL + Kafka) or embedded (PGlite + embedded bus). */
export async function startIssuance(mode: "cluster" | "embedded", kafkaBrokers: string): Promise<Harness> {
  const t = await startTestPlatform({
    mode,
    services: [issuanceService],
    kafkaBrokers,
    caller: CLERK,
    env: {
      PIAOJU_INTERNAL_TOKEN: TOKEN,
      PIAOJU_SECRETS_KEY: SECRETS_KEY,
      PIAOJU_CHECK_CODE_KEY: CHECK_CODE_KEY,
    },
  });
  return {
    platform: t.platform,
    probe: t.probe,
    db: t.platform.databases.get("issuance")!,
    call: async (method, path, body, headers) => {
      const { status, body: answer } = await t.call(method, path, body, headers);
      return { status, body: answer };
    },
    stop: () => t.stop(),
  };
}

/** What stock says when it hands a run of numbers to an issuing point (分发). */
export function distribution(point: string, start: number, count: number, billCode = BILL): Envelope {
  return createEnvelope(
    SegmentDistributed,
    {
      distributionId: randomUUID(),
      segmentId: randomUUID(),
      agencyCode: AGENCY,
      billCode,
      issuingPointCode: point,
      startNumber: String(start).padStart(10, "0"),
      endNumber: String(start + count - 1).padStart(10, "0"),
      count,
      distributedAt: new Date().toISOString(),
    },
    { producer: "stock" },
  );
}

export async function distribute(probe: Bus, envelopes: Envelope[]): Promise<void> {
  await probe.publish(envelopes.map((envelope) => ({ topic: topics.stock, envelope })));
}

/** The agency's reference data most tests use: three issuing points and three income items. */
export async function seedReferenceData(
  callApi: (method: string, path: string, body?: unknown) => Promise<Response>,
): Promise<void> {
  for (const point of ["WIN-01", "WIN-02", "WIN-03"]) {
    const res = await callApi("POST", "/v1/issuance/issuing-points", {
      agencyCode: AGENCY,
      code: point,
      name: `窗口 ${point}`,
    });
    if (res.status !== 201)
      throw new Error(`issuing point ${point}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const items = [
    { code: "001", name: "护照工本费", unit: "本", standardFen: 12000 },
    { code: "002", name: "加急费", unit: "件", standardFen: null },
    { code: "003", name: "停用项目", unit: "件", standardFen: null, enabled: false },
  ];
  for (const item of items) {
    const res = await callApi("POST", "/v1/issuance/items", { agencyCode: AGENCY, ...item });
    if (res.status !== 201) throw new Error(`item ${item.code}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** A valid request to issue a receipt; tests change one field at a time. */
export function issueBody(bizSerialNo: string, point = "WIN-01"): Record<string, unknown> {
  return {
    agencyCode: AGENCY,
    issuingPointCode: point,
    billCode: BILL,
    bizSerialNo,
    payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
    items: [
      { itemCode: "001", quantity: "2", amountFen: 24000 },
      { itemCode: "002", quantity: "1", amountFen: 3050 },
    ],
    totalFen: 27050,
    payMode: "wechat",
    handlingPerson: "zhang.san",
  };
}

export async function waitFor(done: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs tasks with at most `clients` in flight at once. */
export async function runConcurrently<T>(
  tasks: ReadonlyArray<() => Promise<T>>,
  clients: number,
): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]!();
      }
    }),
  );
  return results;
}

/** Gaps and duplicates in the numbers a point used, against the run it started from. */
export function numberFigures(numbers: readonly bigint[], start: bigint) {
  const sorted = [...numbers].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const distinct = new Set(sorted.map(String)).size;
  const last = sorted.length ? sorted[sorted.length - 1]! : start - 1n;
  return {
    used: sorted.length,
    duplicates: sorted.length - distinct,
    gaps: Number(last - start + 1n) - distinct,
    contiguousFromStart: sorted.every((n, i) => n === start + BigInt(i)),
  };
}
