import { randomUUID } from "node:crypto";
import type { Bus } from "@piaoju/bus";
import { createEnvelope, type Envelope, ReceiptRequested, SegmentIssued, topics } from "@piaoju/contracts";
import type { Platform } from "@piaoju/runtime";
import { callerHeaders, startTestPlatform, TEST_TOKEN, type TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stockService } from "./main.ts";

const AGENCY = "110101";
const BILL = "11010126";

/**
 * The stock service through the whole frame, over real HTTP: in cluster mode on the
 * machine's PostgreSQL and the real Kafka broker, and embedded on PGlite and the
 * embedded bus. The same assertions hold in both.
 */
describe.each(["cluster", "embedded"] as const)("stock service (%s)", (mode) => {
  let test: TestPlatform;
  let probe: Bus;
  let platform: Platform;

  beforeAll(async () => {
    test = await startTestPlatform({
      mode,
      services: [stockService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
    });
    probe = test.probe;
    platform = test.platform;
  });
  afterAll(async () => {
    await test?.stop();
  });

  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    test.call(method, path, body, headers);
  const segmentsOf = async (billCode = BILL) =>
    (await call("GET", `/v1/stock/segments?agencyCode=${AGENCY}&billCode=${billCode}`)).body.items as Array<
      Record<string, unknown>
    >;

  it("registers a bill kind once", async () => {
    const kind = { agencyCode: AGENCY, billCode: BILL, name: "北京市非税收入一般缴款书（电子）" };
    expect((await call("POST", "/v1/stock/bill-kinds", kind)).status).toBe(201);
    const again = await call("POST", "/v1/stock/bill-kinds", kind);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("BILL_KIND_EXISTS");
  });

  it("receives a segment by hand and refuses numbers already held, naming the segment", async () => {
    const first = await call("POST", "/v1/stock/segments", {
      agencyCode: AGENCY,
      billCode: BILL,
      startNumber: "0000000001",
      endNumber: "0000001000",
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: "RECEIVED", source: "MANUAL", count: 1000 });
    const overlap = await call("POST", "/v1/stock/segments", {
      agencyCode: AGENCY,
      billCode: BILL,
      startNumber: "0000000900",
      endNumber: "0000001100",
    });
    expect(overlap.status).toBe(409);
    expect(overlap.body.detail).toContain(String(first.body.id));
    expect(await segmentsOf()).toHaveLength(1);
  });

  it("refuses bad input with the field and the rule, and changes nothing", async () => {
    const cases: Array<[unknown, string]> = [
      [
        { agencyCode: AGENCY, billCode: "1101", startNumber: "0000002001", endNumber: "0000003000" },
        "body.billCode",
      ],
      [
        { agencyCode: AGENCY, billCode: BILL, startNumber: "2001", endNumber: "0000003000" },
        "body.startNumber",
      ],
      [
        { agencyCode: AGENCY, billCode: BILL, startNumber: "0000003000", endNumber: "0000002001" },
        "endNumber",
      ],
      [{ agencyCode: AGENCY, billCode: BILL, startNumber: "0000002001" }, "body.endNumber"],
      [
        { agencyCode: AGENCY, billCode: BILL, startNumber: "0000002001", endNumber: "0009999999" },
        "endNumber",
      ],
    ];
    for (const [body, field] of cases) {
      const res = await call("POST", "/v1/stock/segments", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.issues).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    }
    const malformed = await fetch(`${platform.url}/v1/stock/segments`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TEST_TOKEN}`,
        "content-type": "application/json",
        ...callerHeaders(
          { "x-piaoju-actor": "a", "x-piaoju-agencies": AGENCY },
          "POST",
          `${platform.url}/v1/stock/segments`,
        ),
      },
      body: "{not json",
    });
    expect(malformed.status).toBe(400);
    expect(await segmentsOf()).toHaveLength(1);
  });

  it("refuses callers without the internal token and agencies outside the caller's data scope", async () => {
    const stranger = await fetch(`${platform.url}/v1/stock/segments?agencyCode=${AGENCY}`, {
      headers: {
        authorization: `Bearer ${"x".repeat(40)}`,
        ...callerHeaders(
          { "x-piaoju-actor": "li.si", "x-piaoju-agencies": AGENCY },
          "GET",
          `${platform.url}/v1/stock/segments?agencyCode=${AGENCY}`,
        ),
      },
    });
    expect(stranger.status).toBe(401);
    const other = await call("GET", `/v1/stock/segments?agencyCode=${AGENCY}`, undefined, {
      ...callerHeaders(
        { "x-piaoju-actor": "li.si", "x-piaoju-agencies": "440301" },
        "GET",
        `${platform.url}/v1/stock/segments?agencyCode=${AGENCY}`,
      ),
    });
    expect(other.status).toBe(403);
    expect(other.body.code).toBe("OUT_OF_SCOPE");
  });

  it("confirms a segment into stock once (入库) and counts it in the ledger (领用存)", async () => {
    const [segment] = await segmentsOf();
    const confirmed = await call("POST", `/v1/stock/segments/${segment!.id}/confirm`);
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({ status: "STOCKED", stockedBy: "zhang.san" });
    expect((await call("POST", `/v1/stock/segments/${segment!.id}/confirm`)).status).toBe(409);

    const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
    const ledger = await call(
      "GET",
      `/v1/stock/ledger?agencyCode=${AGENCY}&billCode=${BILL}&from=${today}&to=${today}`,
    );
    expect(ledger.body).toMatchObject({ opening: 0, received: 1000, used: 0, closing: 1000 });
    const before = await call(
      "GET",
      `/v1/stock/ledger?agencyCode=${AGENCY}&billCode=${BILL}&from=2020-01-01&to=2020-01-31`,
    );
    expect(before.body).toMatchObject({ opening: 0, received: 0, closing: 0 });
    const audit = await platform.databases
      .get("stock")!
      .query<{ actor: string; action: string }>("SELECT actor, action FROM audit_log ORDER BY id");
    expect(audit.map((a) => a.action)).toEqual(["bill-kind.register", "segment.receive", "segment.confirm"]);
    expect(audit.every((a) => a.actor === "zhang.san")).toBe(true);
  });

  it("takes in a segment finance issued exactly once, however often the event arrives, and says so on the bus", async () => {
    const emitted: Envelope[] = [];
    const watch = await probe.subscribe({
      group: `watch-${randomUUID().slice(0, 8)}`,
      topics: [topics.stock],
      handler: async (m) => {
        emitted.push(m.envelope);
      },
    });
    const event = createEnvelope(
      SegmentIssued,
      {
        financeRef: "CZ-2026-000042",
        agencyCode: AGENCY,
        billCode: BILL,
        startNumber: "0000005001",
        endNumber: "0000006000",
        issuedAt: new Date().toISOString(),
      },
      { producer: "finance-exchange" },
    );
    // The same event three times (redelivery, replay), and once more under a new id (finance resent it).
    await probe.publish([1, 2, 3].map(() => ({ topic: topics.finance, envelope: event })));
    await probe.publish([{ topic: topics.finance, envelope: { ...event, id: randomUUID() } }]);

    await waitFor(async () => (await segmentsOf()).some((s) => s.financeRef === "CZ-2026-000042"));
    await waitFor(async () =>
      emitted.some(
        (e) =>
          e.type === "stock.SegmentReceived" &&
          (e.data as { financeRef?: string }).financeRef === "CZ-2026-000042",
      ),
    );
    await new Promise((r) => setTimeout(r, 500));
    const fromFinance = (await segmentsOf()).filter((s) => s.financeRef === "CZ-2026-000042");
    expect(fromFinance).toHaveLength(1);
    expect(fromFinance[0]).toMatchObject({ source: "FINANCE", count: 1000, status: "RECEIVED" });
    const received = emitted.filter(
      (e) =>
        e.type === "stock.SegmentReceived" &&
        (e.data as { financeRef?: string }).financeRef === "CZ-2026-000042",
    );
    expect(received).toHaveLength(1);
    expect(emitted.map((e) => e.type)).toEqual(
      expect.arrayContaining(["stock.BillKindRegistered", "stock.SegmentReceived", "stock.SegmentStocked"]),
    );
    await watch.stop();
  });

  it("dead-letters a finance segment for an unknown bill kind, and takes it in when an operator replays it", async () => {
    // An operator holds the platform's token and asserts no person.
    const operator = { "x-piaoju-operator": "ops.wang" };
    const event = createEnvelope(
      SegmentIssued,
      {
        financeRef: "CZ-2026-000077",
        agencyCode: AGENCY,
        billCode: "11010127",
        startNumber: "0000000001",
        endNumber: "0000000500",
        issuedAt: new Date().toISOString(),
      },
      { producer: "finance-exchange" },
    );
    await probe.publish([{ topic: topics.finance, envelope: event }]);
    const letters = async () =>
      ((await call("GET", "/v1/admin/dead-letters/stock.finance-intake", undefined, operator)).body.items ??
        []) as Array<{
        envelope: { id: string };
        error: { message: string };
      }>;
    await waitFor(async () => (await letters()).some((l) => l.envelope.id === event.id));
    const letter = (await letters()).find((l) => l.envelope.id === event.id)!;
    expect(letter.error.message).toContain("bill kind 11010127 is not registered");
    expect((await call("GET", "/v1/admin/dead-letters/stock.finance-intake")).status).toBe(403);

    await call("POST", "/v1/stock/bill-kinds", {
      agencyCode: AGENCY,
      billCode: "11010127",
      name: "另一种票据",
    });
    const replay = await call(
      "POST",
      "/v1/admin/dead-letters/stock.finance-intake/replay",
      { eventIds: [event.id] },
      operator,
    );
    expect(replay.body).toEqual({ group: "stock.finance-intake", replayed: 1 });
    await waitFor(async () => (await segmentsOf("11010127")).length === 1);
    expect((await segmentsOf("11010127"))[0]).toMatchObject({ financeRef: "CZ-2026-000077", count: 500 });
  });

  it("distributes stocked numbers to issuing points by rule and by hand (分发), announcing each run", async () => {
    const runs: Envelope[] = [];
    const watch = await probe.subscribe({
      group: `runs-${randomUUID().slice(0, 8)}`,
      topics: [topics.stock],
      handler: async (m) => {
        if (m.envelope.type === "stock.SegmentDistributed") runs.push(m.envelope);
      },
    });
    // The 1,000 numbers 0000000001-0000001000 are in stock (confirmed above).
    const rule = await call("PUT", `/v1/stock/distribution-rules/${AGENCY}/${BILL}/P01`, {
      threshold: 150,
      batchSize: 100,
    });
    expect(rule.status).toBe(200);
    const byHand = await call("POST", "/v1/stock/distributions", {
      agencyCode: AGENCY,
      billCode: BILL,
      issuingPointCode: "P02",
      count: 50,
    });
    expect(byHand.status).toBe(201);
    const tooMany = await call("POST", "/v1/stock/distributions", {
      agencyCode: AGENCY,
      billCode: BILL,
      issuingPointCode: "P02",
      count: 5000,
    });
    expect(tooMany.status).toBe(409);
    expect(tooMany.body.code).toBe("NOT_ENOUGH_STOCK");

    const list = (await call("GET", `/v1/stock/distributions?agencyCode=${AGENCY}&billCode=${BILL}`)).body
      .items as Array<Record<string, unknown>>;
    expect(list.map((d) => [d.issuingPointCode, d.startNumber, d.endNumber, d.distributedBy])).toEqual([
      ["P01", "0000000001", "0000000200", "rule"],
      ["P02", "0000000201", "0000000250", "zhang.san"],
    ]);
    const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
    const p01 = await call(
      "GET",
      `/v1/stock/ledger?agencyCode=${AGENCY}&billCode=${BILL}&issuingPointCode=P01&from=${today}&to=${today}`,
    );
    expect(p01.body).toMatchObject({ received: 200, used: 0, closing: 200 });
    const agency = await call(
      "GET",
      `/v1/stock/ledger?agencyCode=${AGENCY}&billCode=${BILL}&from=${today}&to=${today}`,
    );
    expect(agency.body).toMatchObject({ received: 1000, closing: 1000 });

    await waitFor(async () => runs.length >= 2);
    expect(runs.map((r) => (r.data as { issuingPointCode: string; count: number }).count)).toEqual([200, 50]);
    await watch.stop();
  });

  it("counts numbers issuance used into the point's ledger and tops the point up by its rule", async () => {
    // P01 holds 200 (rule: threshold 150, batch 100). Issuance reports 60 receipts issued there.
    const receipts = Array.from({ length: 60 }, (_, i) =>
      createEnvelope(
        ReceiptRequested,
        {
          receiptId: randomUUID(),
          agencyCode: AGENCY,
          issuingPointCode: "P01",
          bizSerialNo: `BIZ-${i}`,
          billCode: BILL,
          number: String(i + 1).padStart(10, "0"),
          checkCode: "123456",
          totalFen: 5000,
          payerType: 1,
          issuedAt: new Date().toISOString(),
          documentSm3: "0".repeat(64),
          document: Buffer.from("<EInvoice/>").toString("base64"),
        },
        { producer: "issuance" },
      ),
    );
    await probe.publish(receipts.map((envelope) => ({ topic: topics.issuance, envelope })));
    await probe.publish([{ topic: topics.issuance, envelope: receipts[0]! }]); // a redelivery counts once

    const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
    const p01 = () =>
      call(
        "GET",
        `/v1/stock/ledger?agencyCode=${AGENCY}&billCode=${BILL}&issuingPointCode=P01&from=${today}&to=${today}`,
      );
    await waitFor(async () => (await p01()).body.used === 60);
    await new Promise((r) => setTimeout(r, 300));
    // 200 - 60 = 140 < 150: one batch of 100 more, the next numbers in stock.
    expect((await p01()).body).toMatchObject({ received: 300, used: 60, closing: 240 });
    const runs = (await call("GET", `/v1/stock/distributions?agencyCode=${AGENCY}&issuingPointCode=P01`)).body
      .items as Array<Record<string, unknown>>;
    expect(runs.map((d) => [d.startNumber, d.endNumber, d.distributedBy])).toEqual([
      ["0000000001", "0000000200", "rule"],
      ["0000000251", "0000000350", "rule"],
    ]);
    // The balance a top-up reads is the ledger's own sum, point by point; the history cannot be edited.
    const db = platform.databases.get("stock")!;
    const balances = await db.query(
      "SELECT issuing_point_code AS point, unused FROM point_stock WHERE agency_code = $1 ORDER BY 1",
      [AGENCY],
    );
    const sums = await db.query(
      `SELECT issuing_point_code AS point,
              sum(CASE WHEN movement = 'DISTRIBUTED' THEN quantity ELSE -quantity END)::int AS unused
         FROM ledger_entry WHERE agency_code = $1 AND issuing_point_code IS NOT NULL GROUP BY 1 ORDER BY 1`,
      [AGENCY],
    );
    expect(balances).toEqual(sums);
    expect(balances).toContainEqual({ point: "P01", unused: 240 });
    await expect(db.query("UPDATE ledger_entry SET quantity = quantity + 1")).rejects.toThrow(/append-only/);
  });

  it("reports ready with its database and bus", async () => {
    const res = await fetch(`${platform.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready" });
    const operator = await fetch(`${platform.url}/readyz`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    expect(await operator.json()).toEqual({ status: "ready", checks: { bus: true, "stock.db": true } });
  });
});

async function waitFor(done: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}
