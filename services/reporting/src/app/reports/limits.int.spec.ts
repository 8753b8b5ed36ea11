import { platformMigrationsDir } from "@piaoju/bus";
import { type Database, migrate, openDatabase } from "@piaoju/persistence";
import { createTestDatabase, type TestDatabase } from "@piaoju/persistence/testing";
import { AppError, problemOf } from "@piaoju/runtime";
import { Keyring } from "@piaoju/sealing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PayerProtection } from "../../adapters/payer-protection.ts";
import { applyBatch, projectionGroup } from "../../consumers/projection.ts";
import { resolvePeriod } from "../../domain/period.ts";
import { reportingService } from "../../main.ts";
import { eventsOf, isVoided, stockEvents, totalFenOf, workload } from "../../testing/workload.ts";
import { ensureProjectionState } from "../generation.ts";
import { reports } from "./catalog.ts";
import { boundedDeps, EXPORT_ROW_LIMIT, type ReportDeps, reportTooLarge } from "./context.ts";

const RECEIPTS = 600;
const w = workload(RECEIPTS);
const protection = new PayerProtection(new Keyring(Buffer.alloc(16, 3)));

/** No report request builds an unbounded table: statements are capped, views paged, big exports refused. */
describe("reporting: report size limits", () => {
  let server: TestDatabase;
  let db: Database;
  let deps: ReportDeps;
  const year = resolvePeriod({ year: String(w.year) });
  const options = { granularity: "day" as const, groupBy: "clerk" as const, search: {} };

  beforeAll(async () => {
    server = await createTestDatabase({ prefix: "reporting_limits" });
    db = await openDatabase({ kind: "postgres", url: server.url, poolSize: 2 });
    await migrate(db, [platformMigrationsDir, reportingService.migrationsDir]);
    await ensureProjectionState(db);
    const events = [...stockEvents(w), ...Array.from({ length: RECEIPTS }, (_, i) => eventsOf(w, i)).flat()];
    const messages = events.map((envelope, i) => ({
      topic: "t",
      partition: 0,
      offset: String(i),
      envelope,
      attempt: 1,
    }));
    await applyBatch(db, protection, 1, projectionGroup(1), messages);
    deps = { db, protection, clock: () => new Date(), lagEvents: async () => 0 };
  });
  afterAll(async () => {
    await db?.close();
    await server?.drop();
  });

  it("refuses a report whose statement would answer more rows than the cap, naming the limit in both languages", async () => {
    const whole = await reports["issued-summary"]!.run(
      deps,
      { agencyCode: w.agency, period: year },
      options,
      "t",
    );
    expect(whole.rows.length).toBeGreaterThan(100);
    const capped = boundedDeps(deps, 100, () => reportTooLarge("issued-summary", 100, "export"));
    const refused = await reports["issued-summary"]!.run(
      capped,
      { agencyCode: w.agency, period: year },
      options,
      "t",
    ).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    const problem = problemOf(refused as AppError);
    expect(problem).toMatchObject({ status: 400, code: "REPORT_TOO_LARGE" });
    expect(JSON.stringify(problem)).toContain("at most 100 rows");
    expect(JSON.stringify(problem)).toContain("缩小统计期间");
    // Under the cap, the same report is built whole.
    const roomy = boundedDeps(deps, 10_000, () => new Error("not expected"));
    const again = await reports["issued-summary"]!.run(
      roomy,
      { agencyCode: w.agency, period: year },
      options,
      "t",
    );
    expect(again.rows).toEqual(whole.rows);
  });

  it("票据作废情况 pages in SQL: the pages put together are the whole report, subtotals in place", async () => {
    const f = { agencyCode: w.agency, period: year };
    const whole = await reports.voids!.run(deps, f, options, "t");
    const voided = Array.from({ length: RECEIPTS }, (_, i) => i).filter(isVoided);
    expect(whole.rows).toHaveLength(voided.length + 1);
    expect(whole.rows.at(-1)).toMatchObject({ type: "subtotal", values: { quantity: voided.length } });
    expect(whole.totals).toMatchObject({
      quantity: voided.length,
      amountFen: voided.reduce((n, i) => n + totalFenOf(i), 0),
    });
    const pages = [];
    for (let number = 1; number <= Math.ceil(whole.rows.length / 5); number++) {
      const part = await reports.voids!.run(deps, f, { ...options, page: { number, size: 5 } }, "t");
      expect(part.rows.length).toBeLessThanOrEqual(5);
      expect(part.totals).toEqual(whole.totals);
      expect(part.page).toMatchObject({ number, rows: whole.rows.length });
      pages.push(...part.rows);
    }
    expect(pages).toEqual(whole.rows);
  });

  it("a view of 开票明细 reads only its page; the totals are over every receipt", async () => {
    const formal = Array.from({ length: RECEIPTS }, (_, i) => i).filter((i) => !isVoided(i));
    const run = (page?: { number: number; size: number }) =>
      reports["issued-detail"]!.run(
        deps,
        { agencyCode: w.agency, period: year },
        { ...options, page, search: { statuses: ["ISSUED"] } },
        "t",
      );
    const first = await run({ number: 1, size: 500 });
    const second = await run({ number: 2, size: 500 });
    expect(first.rows).toHaveLength(500);
    expect(second.rows).toHaveLength(formal.length - 500);
    expect(first.page).toMatchObject({ rows: formal.length, pages: 2 });
    const total = formal.reduce((n, i) => n + totalFenOf(i), 0);
    expect(first.totals.totalFen).toBe(total);
    expect(second.totals).toEqual(first.totals);
    // Without receipt-level filters the totals come from the daily tallies: the same figures.
    const everyOne = await reports["issued-detail"]!.run(
      deps,
      { agencyCode: w.agency, period: year },
      { ...options, page: { number: 1, size: 10 }, search: {} },
      "t",
    );
    const all = Array.from({ length: RECEIPTS }, (_, i) => i);
    expect(everyOne.totals).toEqual({
      issuedAt: `合计 ${RECEIPTS} 张`,
      totalFen: all.reduce((n, i) => n + totalFenOf(i), 0),
    });
    expect(everyOne.page).toMatchObject({ rows: RECEIPTS, pages: RECEIPTS / 10 });
    const atPoint = await reports["issued-detail"]!.run(
      deps,
      { agencyCode: w.agency, period: year, issuingPointCode: w.points[3] },
      { ...options, page: { number: 1, size: 10 }, search: {} },
      "t",
    );
    const there = all.filter((i) => i % w.points.length === 3);
    expect(atPoint.totals.totalFen).toBe(there.reduce((n, i) => n + totalFenOf(i), 0));
    expect(atPoint.page?.rows).toBe(there.length);
    // The export: every receipt, as long as they are at most the export limit.
    const exported = await run();
    expect(exported.rows).toHaveLength(formal.length);
    expect(formal.length).toBeLessThan(EXPORT_ROW_LIMIT);
  });
});
