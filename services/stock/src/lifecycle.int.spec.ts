import { randomUUID } from "node:crypto";
import { type Envelope, topics } from "@piaoju/contracts";
import type { Platform } from "@piaoju/runtime";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stockService } from "./main.ts";

const AGENCY = "110101";
const BILL = "11010126";

/**
 * The end of a number's life in stock: 申退 (return to finance), 库存作废 (void of unused
 * stock) and 核销申请 (write-off application), over real HTTP on the machine's PostgreSQL and
 * the real Kafka broker. The tests run in order on one stock: segment 0000000001-0000001000,
 * of which 0000000001-0000000100 went to issuing point P01. Also embedded (PGlite, embedded bus).
 */
describe.each(["cluster", "embedded"] as const)(
  "stock lifecycle: returns, voids and write-off (%s)",
  (mode) => {
    let test: TestPlatform;
    let platform: Platform;
    const emitted: Envelope[] = [];
    let watch: { stop(): Promise<void> };
    const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
    /** Which of the concurrent requests on 0000000701-0000000720 won. */
    let raceWinner: "RETURNED" | "VOIDED" | undefined;

    const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      test.call(method, path, body, headers);
    const range = (startNumber: string, endNumber: string) => ({
      agencyCode: AGENCY,
      billCode: BILL,
      startNumber,
      endNumber,
    });
    const db = () => platform.databases.get("stock")!;
    const removals = async () =>
      (await db().query<{ n: string }>("SELECT count(*)::text AS n FROM stock_removal"))[0]!.n;
    const ledger = async (point?: string, from = today, to = today) =>
      (
        await call(
          "GET",
          `/v1/stock/ledger?agencyCode=${AGENCY}&billCode=${BILL}${point ? `&issuingPointCode=${point}` : ""}&from=${from}&to=${to}`,
        )
      ).body;

    beforeAll(async () => {
      test = await startTestPlatform({
        mode,
        services: [stockService],
        kafkaBrokers: inject("kafkaBrokers"),
        caller: { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
      });
      platform = test.platform;
      watch = await test.probe.subscribe({
        group: `lifecycle-${randomUUID().slice(0, 8)}`,
        topics: [topics.stock],
        handler: async (m) => {
          emitted.push(m.envelope);
        },
      });
      await call("POST", "/v1/stock/bill-kinds", {
        agencyCode: AGENCY,
        billCode: BILL,
        name: "非税收入一般缴款书",
      });
      const segment = await call("POST", "/v1/stock/segments", range("0000000001", "0000001000"));
      await call("POST", `/v1/stock/segments/${segment.body.id}/confirm`);
      const handed = await call("POST", "/v1/stock/distributions", {
        agencyCode: AGENCY,
        billCode: BILL,
        issuingPointCode: "P01",
        count: 100,
      });
      expect(handed.status).toBe(201);
    });
    afterAll(async () => {
      await watch?.stop();
      await test?.stop();
    });

    it("申退 returns undistributed stocked numbers: RETURNED in the ledger, an audit row, stock.NumbersReturned", async () => {
      const res = await call("POST", "/v1/stock/returns", range("0000000901", "0000000950"));
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        kind: "RETURNED",
        startNumber: "0000000901",
        endNumber: "0000000950",
        count: 50,
        removedBy: "zhang.san",
      });
      const entries = await db().query<{
        movement: string;
        quantity: number;
        issuing_point_code: string | null;
      }>("SELECT movement, quantity, issuing_point_code FROM ledger_entry WHERE removal_id = $1", [
        res.body.id,
      ]);
      expect(entries).toEqual([{ movement: "RETURNED", quantity: 50, issuing_point_code: null }]);
      const audit = await db().query<{ actor: string; detail: { id: string } }>(
        "SELECT actor, detail FROM audit_log WHERE action = 'stock.return'",
      );
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor: "zhang.san", detail: { id: res.body.id } });
      await waitFor(async () => emitted.some((e) => e.type === "stock.NumbersReturned"));
      expect(emitted.find((e) => e.type === "stock.NumbersReturned")!.data).toMatchObject({
        removalId: res.body.id,
        startNumber: "0000000901",
        endNumber: "0000000950",
        count: 50,
        returnedBy: "zhang.san",
      });
    });

    it("库存作废 voids unused stocked numbers with a reason: VOIDED from stock (no point) in the ledger, an audit row, stock.NumbersVoided", async () => {
      const res = await call("POST", "/v1/stock/voids", {
        ...range("0000000801", "0000000810"),
        reason: "票据受潮损毁",
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ kind: "VOIDED", count: 10, reason: "票据受潮损毁" });
      // A void of stock carries its removal; a receipt voided in issuance carries its issuing point.
      const entries = await db().query<{
        movement: string;
        quantity: number;
        issuing_point_code: string | null;
      }>("SELECT movement, quantity, issuing_point_code FROM ledger_entry WHERE removal_id = $1", [
        res.body.id,
      ]);
      expect(entries).toEqual([{ movement: "VOIDED", quantity: 10, issuing_point_code: null }]);
      const audit = await db().query<{ actor: string }>(
        "SELECT actor FROM audit_log WHERE action = 'stock.void'",
      );
      expect(audit).toEqual([{ actor: "zhang.san" }]);
      await waitFor(async () => emitted.some((e) => e.type === "stock.NumbersVoided"));
      expect(emitted.find((e) => e.type === "stock.NumbersVoided")!.data).toMatchObject({
        removalId: res.body.id,
        reason: "票据受潮损毁",
        count: 10,
        voidedBy: "zhang.san",
      });
    });

    it("refuses numbers already distributed, returned or voided, or outside one stocked segment, naming the range (409), and changes nothing", async () => {
      const before = await removals();
      const cases: Array<[string, unknown, string, string]> = [
        [
          "/v1/stock/returns",
          range("0000000050", "0000000150"),
          "RANGE_DISTRIBUTED",
          "0000000050-0000000150",
        ],
        [
          "/v1/stock/returns",
          range("0000000940", "0000000960"),
          "RANGE_ALREADY_REMOVED",
          "0000000940-0000000960",
        ],
        [
          "/v1/stock/voids",
          { ...range("0000000805", "0000000805"), reason: "再次作废" },
          "RANGE_ALREADY_REMOVED",
          "0000000805-0000000805",
        ],
        [
          "/v1/stock/returns",
          range("0000000990", "0000001010"),
          "RANGE_NOT_IN_STOCK",
          "0000000990-0000001010",
        ],
      ];
      for (const [path, body, code, named] of cases) {
        const res = await call("POST", path, body);
        expect(res.status, JSON.stringify(body)).toBe(409);
        expect(res.body.code).toBe(code);
        expect(res.body.detail).toContain(named);
      }
      expect(await removals()).toBe(before);
    });

    it("refuses bad input with a 400 naming the field, and changes nothing", async () => {
      const before = await removals();
      const cases: Array<[string, unknown, string]> = [
        ["/v1/stock/returns", { ...range("0000000601", "0000000610"), billCode: "1101" }, "body.billCode"],
        ["/v1/stock/returns", range("601", "0000000610"), "body.startNumber"],
        ["/v1/stock/returns", range("0000000610", "0000000601"), "endNumber"],
        [
          "/v1/stock/returns",
          { agencyCode: AGENCY, billCode: BILL, startNumber: "0000000601" },
          "body.endNumber",
        ],
        ["/v1/stock/voids", range("0000000601", "0000000610"), "body.reason"],
        ["/v1/stock/voids", { ...range("0000000601", "0000000610"), reason: "  " }, "body.reason"],
        ["/v1/stock/write-offs", { agencyCode: AGENCY, billCode: BILL, period: "2026-13" }, "body.period"],
        ["/v1/stock/write-offs", { agencyCode: AGENCY, billCode: BILL }, "body.period"],
        ["/v1/stock/write-offs", { agencyCode: AGENCY, billCode: BILL, period: "2999-01" }, "period"],
      ];
      for (const [path, body, field] of cases) {
        const res = await call("POST", path, body);
        expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
        expect(res.body.issues).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      }
      expect(await removals()).toBe(before);
      expect(await db().query("SELECT 1 FROM write_off")).toHaveLength(0);
    });

    it("refuses agencies outside the caller's data scope", async () => {
      const other = { "x-piaoju-actor": "li.si", "x-piaoju-agencies": "440301" };
      const returned = await call("POST", "/v1/stock/returns", range("0000000601", "0000000610"), other);
      expect(returned.status).toBe(403);
      expect(returned.body.code).toBe("OUT_OF_SCOPE");
      const writeOff = await call(
        "POST",
        "/v1/stock/write-offs",
        { agencyCode: AGENCY, billCode: BILL, period: today.slice(0, 7) },
        other,
      );
      expect(writeOff.status).toBe(403);
    });

    it("of concurrent returns and voids of the same range exactly one wins; the others get 409 naming the range", async () => {
      const target = range("0000000701", "0000000720");
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          i % 2 === 0
            ? call("POST", "/v1/stock/returns", target)
            : call("POST", "/v1/stock/voids", { ...target, reason: `柜员${i}` }),
        ),
      );
      const won = results.filter((r) => r.status === 201);
      expect(won).toHaveLength(1);
      raceWinner = won[0]!.body.kind as "RETURNED" | "VOIDED";
      const lost = results.filter((r) => r.status !== 201);
      expect(lost.map((r) => r.status)).toEqual(Array(7).fill(409));
      for (const r of lost) expect(r.body.detail).toContain("0000000701-0000000720");
      const rows = await db().query(
        "SELECT 1 FROM stock_removal WHERE start_number <= 720 AND end_number >= 701",
      );
      expect(rows).toHaveLength(1);
    });

    it("distribution skips returned and voided numbers", async () => {
      // Left in stock: 101-700, 721-800, 811-900, 951-1000 = 820 numbers.
      const first = await call("POST", "/v1/stock/distributions", {
        agencyCode: AGENCY,
        billCode: BILL,
        issuingPointCode: "P02",
        count: 700,
      });
      expect(first.status).toBe(201);
      const runs = (first.body.items as Array<{ startNumber: string; endNumber: string }>).map((d) => [
        d.startNumber,
        d.endNumber,
      ]);
      expect(runs).toEqual([
        ["0000000101", "0000000700"],
        ["0000000721", "0000000800"],
        ["0000000811", "0000000830"],
      ]);
      const tooMany = await call("POST", "/v1/stock/distributions", {
        agencyCode: AGENCY,
        billCode: BILL,
        issuingPointCode: "P02",
        count: 121,
      });
      expect(tooMany.status).toBe(409);
      expect(tooMany.body.detail).toContain("holds 120 undistributed numbers");
      const rest = await call("POST", "/v1/stock/distributions", {
        agencyCode: AGENCY,
        billCode: BILL,
        issuingPointCode: "P02",
        count: 120,
      });
      expect(
        (rest.body.items as Array<{ startNumber: string; endNumber: string }>).map((d) => [
          d.startNumber,
          d.endNumber,
        ]),
      ).toEqual([
        ["0000000831", "0000000900"],
        ["0000000951", "0000001000"],
      ]);
      const clashes = await db().query(
        `SELECT 1 FROM distribution d JOIN stock_removal r ON r.segment_id = d.segment_id
        WHERE d.start_number <= r.end_number AND d.end_number >= r.start_number`,
      );
      expect(clashes).toHaveLength(0);
      // Once distributed, numbers belong to the point: they can no longer be returned from stock.
      const late = await call("POST", "/v1/stock/returns", range("0000000951", "0000000960"));
      expect(late.status).toBe(409);
      expect(late.body.code).toBe("RANGE_DISTRIBUTED");
    });

    it("lists what left stock, by kind, only within the caller's data scope", async () => {
      const all = await call("GET", `/v1/stock/removals?agencyCode=${AGENCY}&billCode=${BILL}`);
      expect(
        (all.body.items as Array<{ kind: string; startNumber: string }>).map((r) => [r.kind, r.startNumber]),
      ).toEqual([
        [raceWinner, "0000000701"],
        ["VOIDED", "0000000801"],
        ["RETURNED", "0000000901"],
      ]);
      const voids = await call("GET", `/v1/stock/removals?agencyCode=${AGENCY}&kind=VOIDED`);
      expect((voids.body.items as unknown[]).length).toBe(raceWinner === "VOIDED" ? 2 : 1);
      const bad = await call("GET", `/v1/stock/removals?agencyCode=${AGENCY}&kind=LOST`);
      expect(bad.status).toBe(400);
      expect(bad.body.issues).toEqual(
        expect.arrayContaining([expect.objectContaining({ field: "query.kind" })]),
      );
      const other = await call("GET", `/v1/stock/removals?agencyCode=${AGENCY}`, undefined, {
        "x-piaoju-actor": "li.si",
        "x-piaoju-agencies": "440301",
      });
      expect(other.status).toBe(403);
    });

    it("the ledger (领用存) shows the period's returned and voided numbers, and none before it", async () => {
      const returned = 50 + (raceWinner === "RETURNED" ? 20 : 0);
      const voided = 10 + (raceWinner === "VOIDED" ? 20 : 0);
      expect(await ledger()).toMatchObject({
        opening: 0,
        received: 1000,
        used: 0,
        voided,
        returned,
        closing: 1000 - returned - voided,
      });
      // The points hold what they were handed; returns and voids came out of the agency's stock.
      expect(await ledger("P01")).toMatchObject({ received: 100, voided: 0, returned: 0, closing: 100 });
      expect(await ledger("P02")).toMatchObject({ received: 820, voided: 0, returned: 0, closing: 820 });
      expect(await ledger(undefined, "2020-01-01", "2020-01-31")).toMatchObject({
        received: 0,
        voided: 0,
        returned: 0,
        closing: 0,
      });
    });

    it("核销申请 builds the month's record from the ledger, SUBMITTED, once per agency, bill kind and period", async () => {
      const period = today.slice(0, 7);
      const body = { agencyCode: AGENCY, billCode: BILL, period };
      const first = await call("POST", "/v1/stock/write-offs", body);
      expect(first.status).toBe(201);
      const returned = 50 + (raceWinner === "RETURNED" ? 20 : 0);
      const voided = 10 + (raceWinner === "VOIDED" ? 20 : 0);
      expect(first.body).toMatchObject({
        period,
        status: "SUBMITTED",
        submittedBy: "zhang.san",
        record: {
          agency: { opening: 0, received: 1000, used: 0, voided, returned, closing: 920 },
          points: [
            { issuingPointCode: "P01", received: 100, used: 0, closing: 100 },
            { issuingPointCode: "P02", received: 820, used: 0, closing: 820 },
          ],
          inStock: 0,
        },
      });
      const again = await Promise.all([1, 2, 3].map(() => call("POST", "/v1/stock/write-offs", body)));
      expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
      for (const r of again) expect(r.body).toEqual(first.body);
      expect(await db().query("SELECT 1 FROM write_off")).toHaveLength(1);
      const listed = await call("GET", `/v1/stock/write-offs?agencyCode=${AGENCY}`);
      expect(listed.body.items).toEqual([first.body]);
      expect(await db().query("SELECT actor FROM audit_log WHERE action = 'write-off.request'")).toEqual([
        { actor: "zhang.san" },
      ]);
      await waitFor(async () => emitted.some((e) => e.type === "stock.WriteOffRequested"));
      await new Promise((r) => setTimeout(r, 300));
      const announced = emitted.filter((e) => e.type === "stock.WriteOffRequested");
      expect(announced).toHaveLength(1);
      expect(announced[0]!.data).toMatchObject({ writeOffId: first.body.id, period, inStock: 0 });
    });
  },
);

async function waitFor(done: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}
