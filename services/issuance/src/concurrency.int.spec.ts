import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  AGENCY,
  distribute,
  distribution,
  type Harness,
  issueBody,
  numberFigures,
  runConcurrently,
  seedReferenceData,
  startIssuance,
  waitFor,
} from "./testing/harness.ts";

const CLIENTS = 40;
const RECEIPTS = 600;
const DUPLICATE_SHARE = 0.15;
const POINTS = { "WIN-01": 100_001n, "WIN-02": 200_001n, "WIN-03": 300_001n } as const;

/**
 * Many clients at once, over real HTTP: ~600 receipts over three issuing points, with ~15% of
 * the serial numbers sent twice at the same moment. Every point's numbers must come out as
 * start..start+n-1 (no gap, no duplicate), and every serial number must have one receipt.
 */
describe.each(["cluster", "embedded"] as const)("issuance under concurrency (%s)", (mode) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startIssuance(mode, inject("kafkaBrokers"));
    await seedReferenceData(h.call);
    // WIN-03's numbers come in runs of 30, so its issuers cross from one run to the next under load.
    await distribute(h.probe, [
      distribution("WIN-01", Number(POINTS["WIN-01"]), 1000),
      distribution("WIN-02", Number(POINTS["WIN-02"]), 1000),
      ...Array.from({ length: 10 }, (_, i) => distribution("WIN-03", Number(POINTS["WIN-03"]) + 30 * i, 30)),
    ]);
    await waitFor(
      async () =>
        ((await h.call("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`)).body.items as unknown[])
          .length === 12,
    );
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("uses each point's numbers exactly once and in order, and issues one receipt per serial number", async () => {
    const points = Object.keys(POINTS);
    const tasks: Array<{ serial: string; body: Record<string, unknown> }> = [];
    for (let i = 0; i < RECEIPTS; i++) {
      const serial = `CC-${mode}-${String(i).padStart(4, "0")}`;
      const body = issueBody(serial, points[i % points.length]!);
      tasks.push({ serial, body });
      // The duplicate goes right behind its original, so both are in flight together.
      if (i % Math.round(1 / DUPLICATE_SHARE) === 3) {
        tasks.push({ serial, body });
      }
    }
    const started = Date.now();
    const responses = await runConcurrently(
      tasks.map((t) => async () => ({ serial: t.serial, ...(await h.call("POST", "/v1/receipts", t.body)) })),
      CLIENTS,
    );
    const seconds = (Date.now() - started) / 1000;

    const unexpected = responses.filter((r) => r.status !== 200 && r.status !== 201);
    expect(unexpected.slice(0, 3)).toEqual([]);
    const idsBySerial = new Map<string, Set<string>>();
    for (const r of responses) {
      const ids = idsBySerial.get(r.serial) ?? new Set<string>();
      ids.add(String(r.body.id));
      idsBySerial.set(r.serial, ids);
    }
    expect([...idsBySerial.values()].every((ids) => ids.size === 1)).toBe(true);
    expect(responses.filter((r) => r.status === 201)).toHaveLength(RECEIPTS);

    const rows = await h.db.query<{ point: string; number: string; serials: string }>(
      "SELECT issuing_point_code AS point, number::text AS number, biz_serial_no AS serials FROM receipt WHERE biz_serial_no LIKE $1",
      // Serials are kept in capitals (packages/contracts' rule).
      [`CC-${mode}-%`.toUpperCase()],
    );
    expect(rows).toHaveLength(RECEIPTS);
    expect(new Set(rows.map((r) => r.serials)).size).toBe(RECEIPTS);
    const figures = Object.entries(POINTS).map(([point, start]) => {
      const numbers = rows.filter((r) => r.point === point).map((r) => BigInt(r.number));
      return { point, start, ...numberFigures(numbers, start) };
    });
    for (const f of figures) {
      expect(f).toMatchObject({ duplicates: 0, gaps: 0, contiguousFromStart: true });
    }
    const runs = await h.db.query<{ point: string; next: string; start: string }>(
      "SELECT issuing_point_code AS point, next_number::text AS next, start_number::text AS start FROM number_run WHERE agency_code = $1",
      [AGENCY],
    );
    for (const f of figures) {
      // The point's runs have given out exactly as many numbers as its receipts carry.
      const taken = runs
        .filter((r) => r.point === f.point)
        .reduce((n, r) => n + (BigInt(r.next) - BigInt(r.start)), 0n);
      expect(taken).toBe(BigInt(f.used));
    }
    const exhausted = await h.db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM number_run WHERE agency_code = $1 AND issuing_point_code = 'WIN-03' AND exhausted",
      [AGENCY],
    );
    expect(exhausted[0]!.n).toBe("6"); // 200 numbers: six runs of 30 used up, the seventh part-way

    console.log(
      `[concurrency ${mode}] ${CLIENTS} clients, ${tasks.length} requests (${tasks.length - RECEIPTS} duplicate sends) in ${seconds.toFixed(1)} s: ` +
        `${rows.length} receipts, ${new Set(rows.map((r) => r.serials)).size} serials, ` +
        `201=${responses.filter((r) => r.status === 201).length} 200=${responses.filter((r) => r.status === 200).length}; ` +
        figures
          .map((f) => `${f.point}: ${f.used} numbers, ${f.gaps} gaps, ${f.duplicates} duplicates`)
          .join("; ") +
        ` (WIN-03 across ${exhausted[0]!.n} exhausted runs of 30 and one part-used)`,
    );
  }, 180_000);
});
