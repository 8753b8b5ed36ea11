import { randomBytes, randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { EmbeddedBus, installEventSealing, platformMigrationsDir } from "@piaoju/bus";
import type { CatalogEvent } from "@piaoju/contracts";
import { loadCjkFont } from "@piaoju/locale";
import { type Database, migrate, openDatabase } from "@piaoju/persistence";
import { createTestDatabase } from "@piaoju/persistence/testing";
import { reportingService } from "@piaoju/reporting";
import {
  applyBatch,
  boundedDeps,
  EXPORT_ROW_LIMIT,
  ensureProjectionState,
  PayerProtection,
  pageOf,
  projectionGroup,
  projectionLag,
  projectionTopics,
  type ReportDeps,
  reports,
  reportTooLarge,
  reportToPdf,
  reportToXlsx,
  resolvePeriod,
  searchReceipts,
  startProjection,
  VIEW_PAGE_LIMIT,
  VIEW_ROW_LIMIT,
  workload,
  eventsOf as workloadEvents,
  stockEvents as workloadStock,
} from "@piaoju/reporting/testing";
import { Keyring } from "@piaoju/sealing";

const { values } = parseArgs({
  options: {
    receipts: { type: "string", default: "1000000" },
    live: { type: "string", default: "20000" },
    runs: { type: "string", default: "40" },
    steady: { type: "string", default: "20" },
    /**
     * events: the million receipts' events through the projection (the rebuild rate);
     * sql: the same rows written set-wise in the projection's shape, for the read side alone
     * on a machine where a million events would take hours (the projection is still timed on --live).
     */
    load: { type: "string", default: "events" },
  },
});
const RECEIPTS = Number(values.receipts);
const LIVE = Number(values.live);
const RUNS = Number(values.runs);
const STEADY = Number(values.steady);
const LOAD = values.load === "sql" ? "sql" : "events";
const AGENCY = "110101";
const BILL = "11010126";
const POINTS = Array.from({ length: 20 }, (_, i) => `WIN-${String(i + 1).padStart(2, "0")}`);
const CLERKS = Array.from({ length: 40 }, (_, i) => `clerk.${i + 1}`);
const YEAR = 2026;
const protection = new PayerProtection(new Keyring(Buffer.alloc(16, 7)));

const W = workload(RECEIPTS);
const eventsOf = (i: number): CatalogEvent[] => workloadEvents(W, i);
const stockEvents = (): CatalogEvent[] => workloadStock(W);
const topicOf = (e: CatalogEvent): string => `piaoju.${e.type.split(".")[0]}.events`;
const GROUP = projectionGroup(1);

/** Events straight into the consumer's batch code (the set-up's stock, and nothing timed). */
async function apply(db: Database, batch: readonly CatalogEvent[]): Promise<void> {
  await applyBatch(
    db,
    protection,
    1,
    GROUP,
    batch.map((envelope, i) => ({
      topic: topicOf(envelope),
      partition: 0,
      offset: String(i),
      envelope,
      attempt: 1,
    })),
  );
}

function p(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function time(
  runs: number,
  call: (i: number) => Promise<unknown>,
): Promise<{ p50: number; p99: number }> {
  await call(0);
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await call(i + 1);
    samples.push(performance.now() - t0);
  }
  return { p50: p(samples, 0.5), p99: p(samples, 0.99) };
}

async function main(): Promise<void> {
  const server = await createTestDatabase({ prefix: "reporting_bench" });
  const db = await openDatabase({ kind: "postgres", url: server.url, poolSize: 4 });
  // Interrupted: still drop the bench's database.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void db
        .close()
        .then(() => server.drop())
        .finally(() => process.exit(130));
    });
  }
  try {
    await migrate(db, [platformMigrationsDir, reportingService.migrationsDir]);
    await ensureProjectionState(db);
    await apply(db, stockEvents());
    console.log(
      `reporting bench: ${RECEIPTS} receipts, PostgreSQL ${server.name}; ${cpus().length} cores, ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(" ")} at start`,
    );

    // 1. The floor: a plain INSERT of a row of about a receipt's size, on the same database.
    await db.exec(
      `CREATE TABLE bench_floor (id uuid PRIMARY KEY, at timestamptz NOT NULL, payload text NOT NULL)`,
    );
    const payload = "x".repeat(400);
    const FLOOR = Math.min(LIVE, 3000);
    let t0 = performance.now();
    for (let i = 0; i < FLOOR; i++)
      await db.query(`INSERT INTO bench_floor VALUES ($1, now(), $2)`, [randomUUID(), payload]);
    const floorOne = FLOOR / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    for (let i = 0; i < LIVE; i += 500) {
      const ids = Array.from({ length: Math.min(500, LIVE - i) }, () => randomUUID());
      await db.query(`INSERT INTO bench_floor SELECT id, now(), $2 FROM unnest($1::uuid[]) AS id`, [
        ids,
        payload,
      ]);
    }
    const floorBatch = LIVE / ((performance.now() - t0) / 1000);
    console.log(
      `floor (plain INSERT, same database): one row per transaction ${floorOne.toFixed(0)} rows/s; ` +
        `500 rows per statement ${floorBatch.toFixed(0)} rows/s`,
    );

    // 2. The live path: events on the bus, applied by the reporting service's consumer.
    // Personal fields sealed at publish and opened before the consumer, as in a platform's process.
    installEventSealing(new Keyring(randomBytes(16)));
    const bus = await EmbeddedBus.open({ retentionMs: 0, compactEveryMs: 3_600_000 });
    const projection = await startProjection({
      bus,
      db,
      protection,
      pollMs: 60_000,
      checkpointMs: 20,
      onError: (e) => console.error("projection:", e),
    });
    const behind = async () =>
      (await projectionLag({ bus, db }, 1, projectionTopics)).reduce((n, l) => n + l.behind, 0);
    const drained = async () => {
      while ((await behind()) > 0) await sleep(25);
    };
    const publish = (events: readonly CatalogEvent[]) =>
      bus.publish(events.map((envelope) => ({ topic: topicOf(envelope), envelope })));
    let next = RECEIPTS;
    const take = (n: number) => {
      const out: CatalogEvent[] = [];
      for (let k = 0; k < n; k++) out.push(...eventsOf(next++));
      return out;
    };
    const live = take(LIVE);
    t0 = performance.now();
    await publish(live);
    await drained();
    const liveSeconds = (performance.now() - t0) / 1000;
    console.log(
      `live path (published on the embedded bus, applied by the consumer: a partition's waiting events per transaction, ` +
        `up to 500): ${live.length} events of ${LIVE} receipts in ${liveSeconds.toFixed(1)} s = ` +
        `${(live.length / liveSeconds).toFixed(0)} events/s, ${(LIVE / liveSeconds).toFixed(0)} receipts/s ` +
        `(target: keep up with 500 receipts/s)`,
    );
    if (STEADY > 0) {
      // 500 receipts/s offered for STEADY seconds, 50 every 100 ms: the lag it leaves.
      const samples: number[] = [];
      const start = performance.now();
      for (let tick = 0; tick < STEADY * 10; tick++) {
        await publish(take(50));
        // Sampled once a second: the lag itself costs statements.
        if (tick % 10 === 9) samples.push(await behind());
        const due = start + (tick + 1) * 100;
        if (due > performance.now()) await sleep(due - performance.now());
      }
      const offered = (STEADY * 500) / ((performance.now() - start) / 1000);
      const t1 = performance.now();
      await drained();
      console.log(
        `steady: ${STEADY * 500} receipts offered at ${offered.toFixed(0)}/s for ${STEADY} s; events behind, sampled ` +
          `each second: median ${p(samples, 0.5)}, max ${Math.max(...samples)}, at the end ${samples.at(-1)}; ` +
          `caught up ${((performance.now() - t1) / 1000).toFixed(1)} s after the last`,
      );
    }
    await bus.compact();

    // 3. The load: a million receipts.
    if (LOAD === "sql") await loadBySql(db);
    else await loadByEvents(publish, drained, () => bus.compact());
    await projection.stop();
    await bus.close();
    await db.exec("VACUUM ANALYZE");

    // 3. Reports and search, beside the plain SQL aggregate over the same rows.
    const deps: ReportDeps = { db, protection, clock: () => new Date(), lagEvents: async () => 0 };
    const year = resolvePeriod({ year: String(YEAR) });
    const month = resolvePeriod({ month: `${YEAR}-06` });
    const baseline = await time(RUNS, () =>
      db.query(
        `SELECT issuing_point_code, kind, count(*), sum(total_fen) FROM receipt
          WHERE agency_code = $1 AND issue_day BETWEEN $2 AND $3 AND tally = 'FORMAL' GROUP BY 1, 2`,
        [AGENCY, year.from, year.to],
      ),
    );
    const rows: Array<[string, { p50: number; p99: number }]> = [
      ["plain SQL aggregate over the receipts (a year, per point): the floor", baseline],
    ];
    const options = {
      granularity: "month" as const,
      groupBy: "point" as const,
      search: {},
    };
    type Options = Parameters<(typeof reports)[string]["run"]>[2];
    const refusedNames = new Set<string>();
    /** A report view as the route builds it: statements capped, a page of 500 rows, totals over all. */
    const view = (name: string, period: ReturnType<typeof resolvePeriod>, o: Options, label: string) =>
      reports[name]!.run(
        boundedDeps(deps, VIEW_ROW_LIMIT, () => reportTooLarge(name, VIEW_ROW_LIMIT, "view")),
        { agencyCode: AGENCY, period },
        { ...o, page: { number: 1, size: VIEW_PAGE_LIMIT } },
        "bench",
      )
        .then((t) => pageOf(t, 1, VIEW_PAGE_LIMIT))
        .catch((e: unknown) => {
          if ((e as { code?: string }).code !== "REPORT_TOO_LARGE") throw e;
          refusedNames.add(label);
        });
    const day = resolvePeriod({ day: `${YEAR}-06-15` });
    for (const [name, r] of Object.entries(reports)) {
      const label = `${name} (${r.title}), a year`;
      rows.push([label, await time(RUNS, () => view(name, year, options, label))]);
    }
    for (const [label, period, o] of [
      ["issued-detail (开票明细查询), a day", day, options],
      [
        "issued-summary by day and clerk, a month",
        month,
        { ...options, granularity: "day", groupBy: "clerk" },
      ],
    ] as const) {
      rows.push([label, await time(RUNS, () => view(label.split(" ")[0]!, period, o as Options, label))]);
    }
    const searches: Array<[string, (i: number) => Record<string, unknown>]> = [
      ["search: newest 50", () => ({})],
      ["search: a payer by name (keyed hash)", (i) => ({ payerName: `交款人${(i * 7919) % 50000}` })],
      [
        "search: number range",
        (i) => ({
          billCode: BILL,
          numberFrom: String(i * 9000 + 1).padStart(10, "0"),
          numberTo: String(i * 9000 + 500).padStart(10, "0"),
        }),
      ],
      [
        "search: a point over a month",
        (i) => ({ issuingPointCode: POINTS[i % POINTS.length], from: month.from, to: month.to }),
      ],
      ["search: voided, a year", () => ({ statuses: ["VOIDED"], from: year.from, to: year.to })],
      ["search: amount 410.00 and up", () => ({ amountMinFen: 41000 })],
      ["search: business serial", (i) => ({ bizSerialNo: `B-${(i * 104729) % RECEIPTS}` })],
    ];
    for (const [label, q] of searches) {
      rows.push([
        label,
        await time(RUNS, (i) => searchReceipts(deps, { agencyCode: AGENCY, limit: 50, ...q(i) })),
      ]);
    }
    // Page 200 costs what page 1 costs: keyset.
    let cursor: string | null = null;
    for (let i = 0; i < 200; i++)
      cursor = (await searchReceipts(deps, { agencyCode: AGENCY, limit: 50, cursor: cursor ?? undefined }))
        .nextCursor;
    rows.push([
      "search: page 201 (keyset)",
      await time(RUNS, () =>
        searchReceipts(deps, { agencyCode: AGENCY, limit: 50, cursor: cursor ?? undefined }),
      ),
    ]);
    console.log(`\n${"query".padEnd(72)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)}`);
    for (const [label, r] of rows) {
      console.log(
        `${label.padEnd(72)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)}${r.p99 < 300 ? "" : "  over 300 ms"}${refusedNames.has(label) ? "  (refused: REPORT_TOO_LARGE)" : ""}`,
      );
    }
    // 4. Exports as the route makes them (statements capped at 20,000 rows; beyond, refused).
    const font = loadCjkFont(process.env.PIAOJU_CJK_FONT);
    console.log(
      `\n${"export (median of 3)".padEnd(56)} ${"rows".padStart(7)} ${"build".padStart(8)} ${"xlsx".padStart(8)} ${"pdf".padStart(8)}  ms`,
    );
    const exports: Array<[string, string, ReturnType<typeof resolvePeriod>, Options]> = [
      ...Object.entries(reports).map(
        ([name, r]) =>
          [`${name} (${r.title}), a year`, name, year, options] as [string, string, typeof year, Options],
      ),
      ["issued-detail (开票明细查询), a day", "issued-detail", day, options],
      ["issued-detail (开票明细查询), a month", "issued-detail", month, options],
    ];
    for (const [label, name, period, o] of exports) {
      const build: number[] = [];
      const xlsx: number[] = [];
      const pdf: number[] = [];
      let rowsOut = 0;
      let refused = "";
      for (let k = 0; k < 3 && !refused; k++) {
        const t1 = performance.now();
        try {
          const t = await reports[name]!.run(
            boundedDeps(deps, EXPORT_ROW_LIMIT, () => reportTooLarge(name, EXPORT_ROW_LIMIT, "export")),
            { agencyCode: AGENCY, period },
            o,
            "bench",
          );
          if (t.rows.length > EXPORT_ROW_LIMIT) throw reportTooLarge(name, EXPORT_ROW_LIMIT, "export");
          build.push(performance.now() - t1);
          rowsOut = t.rows.length;
          const t2 = performance.now();
          await reportToXlsx(t);
          xlsx.push(performance.now() - t2);
          const t3 = performance.now();
          await reportToPdf(t, font);
          pdf.push(performance.now() - t3);
        } catch (e) {
          if ((e as { code?: string }).code !== "REPORT_TOO_LARGE") throw e;
          refused = `refused (400 REPORT_TOO_LARGE, over ${EXPORT_ROW_LIMIT} rows) in ${(performance.now() - t1).toFixed(0)} ms`;
        }
      }
      const med = (v: number[]) => p(v, 0.5).toFixed(0).padStart(8);
      console.log(
        refused
          ? `${label.padEnd(56)} ${refused}`
          : `${label.padEnd(56)} ${String(rowsOut).padStart(7)} ${med(build)} ${med(xlsx)} ${med(pdf)}`,
      );
    }
    console.log(
      `\n(${RUNS} runs each after one warm-up; target: every report and search under 300 ms p99; ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(" ")} at the end)`,
    );
  } finally {
    await db.close();
    await server.drop();
  }
}

/** The million receipts' events through the bus and the consumer, in chunks the bus drops once applied. */
async function loadByEvents(
  publish: (events: readonly CatalogEvent[]) => Promise<void>,
  drained: () => Promise<void>,
  compact: () => Promise<void>,
): Promise<void> {
  const t0 = performance.now();
  let events = 0;
  const CHUNK = 10_000;
  for (let i = 0; i < RECEIPTS; i += CHUNK) {
    const chunk: CatalogEvent[] = [];
    for (let k = i; k < Math.min(RECEIPTS, i + CHUNK); k++) chunk.push(...eventsOf(k));
    await publish(chunk);
    await drained();
    await compact();
    events += chunk.length;
    if ((i + CHUNK) % 100_000 === 0) {
      const s = (performance.now() - t0) / 1000;
      console.log(
        `  … ${i + CHUNK} receipts, ${(events / s).toFixed(0)} events/s, ${((i + CHUNK) / s).toFixed(0)} receipts/s`,
      );
    }
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  console.log(
    `load through the bus and the consumer: ${events} events in ${loadSeconds.toFixed(0)} s = ` +
      `${(events / loadSeconds).toFixed(0)} events/s (${(RECEIPTS / loadSeconds).toFixed(0)} receipts/s)`,
  );
}

/**
 * The same receipts as eventsOf() would make, written set-wise: receipts (payers sealed and
 * hashed as the projection does, 50,000 of them), their lines, the daily tallies and the
 * stock movements summed from them, and the checkpoints' absence (lag is not measured here).
 */
async function loadBySql(db: Database): Promise<void> {
  const t0 = performance.now();
  const payers = Array.from({ length: 50_000 }, (_, k) => {
    const payer = { name: `交款人${k}`, code: `1101051990${String(k).padStart(7, "0")}X` };
    return {
      sealed: `\\x${protection.seal(payer).toString("hex")}`,
      name: protection.digest("name", payer.name),
      code: protection.digest("code", payer.code),
    };
  });
  await db.exec(
    `CREATE TEMP TABLE bench_payer (k int PRIMARY KEY, sealed bytea, name_digest text, code_digest text)`,
  );
  for (let k = 0; k < payers.length; k += 5000) {
    const part = payers.slice(k, k + 5000);
    await db.query(
      `INSERT INTO bench_payer SELECT $1::int + o - 1, s::bytea, n, c FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(s, n, c, o)`,
      [k, part.map((x) => x.sealed), part.map((x) => x.name), part.map((x) => x.code)],
    );
  }
  const points = POINTS.map((p) => `'${p}'`).join(",");
  const clerks = CLERKS.map((c) => `'${c}'`).join(",");
  await db.query(
    `INSERT INTO receipt (id, agency_code, issuing_point_code, bill_code, number, check_code, kind, biz_serial_no,
       total_fen, payer_type, payer_sealed, payer_name_digest, payer_code_digest, handling_person, issued_at, issue_day,
       status, tally, supervised_at, voided_at, void_day, void_reason)
     SELECT gen_random_uuid(), $1, (ARRAY[${points}])[i % ${POINTS.length} + 1], $2, i + 1, lpad(((i + 1) % 1000000)::text, 6, '0'),
            'blue', 'B-' || i, (1 + i % 3) * 12000 + CASE WHEN i % 5 = 0 THEN 5000 ELSE 0 END, 1,
            p.sealed, p.name_digest, p.code_digest, (ARRAY[${clerks}])[(i * 7) % ${CLERKS.length} + 1], at,
            (at AT TIME ZONE 'Asia/Shanghai')::date,
            CASE WHEN i % 50 = 7 THEN 'VOIDED' ELSE 'ISSUED' END, CASE WHEN i % 50 = 7 THEN 'VOIDED' ELSE 'FORMAL' END,
            CASE WHEN i % 50 = 7 THEN NULL ELSE at END, CASE WHEN i % 50 = 7 THEN at END,
            CASE WHEN i % 50 = 7 THEN (at AT TIME ZONE 'Asia/Shanghai')::date END, CASE WHEN i % 50 = 7 THEN '作废' END
       FROM generate_series(0, $3::int - 1) AS i
       CROSS JOIN LATERAL (SELECT timestamptz '${YEAR}-01-01 00:00:00+00' + (i::float8 / $3 * 364) * interval '1 day' AS at) t
       JOIN bench_payer p ON p.k = i % 50000`,
    [AGENCY, BILL, RECEIPTS],
  );
  await db.exec(
    `INSERT INTO receipt_line (receipt_id, line_no, item_code, item_name, quantity, amount_fen)
       SELECT id, 1, '001', '护照工本费', ((total_fen / 12000))::text, (total_fen / 12000) * 12000 FROM receipt WHERE number <= ${RECEIPTS};
     INSERT INTO receipt_line (receipt_id, line_no, item_code, item_name, quantity, amount_fen)
       SELECT id, 2, '002', '加急费', '1', 5000 FROM receipt WHERE total_fen % 12000 = 5000 AND number <= ${RECEIPTS};
     INSERT INTO issued_daily SELECT agency_code, issue_day, issuing_point_code, bill_code, handling_person, kind, tally,
       count(*), sum(total_fen) FROM receipt WHERE number <= ${RECEIPTS} GROUP BY 1, 2, 3, 4, 5, 6, 7
       ON CONFLICT (agency_code, day, issuing_point_code, bill_code, handling_person, kind, tally) DO UPDATE
         SET receipts = issued_daily.receipts + EXCLUDED.receipts, amount_fen = issued_daily.amount_fen + EXCLUDED.amount_fen;
     INSERT INTO issued_item_daily SELECT r.agency_code, r.issue_day, r.issuing_point_code, r.bill_code, r.handling_person,
       l.item_code, r.kind, r.tally, count(*), sum(l.amount_fen)
       FROM receipt r JOIN receipt_line l ON l.receipt_id = r.id WHERE r.number <= ${RECEIPTS} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
       ON CONFLICT (agency_code, day, item_code, issuing_point_code, bill_code, handling_person, kind, tally) DO UPDATE
         SET receipts = issued_item_daily.receipts + EXCLUDED.receipts,
             amount_fen = issued_item_daily.amount_fen + EXCLUDED.amount_fen;
     INSERT INTO stock_daily SELECT agency_code, bill_code, issuing_point_code, issue_day, 'USED', count(*) FROM receipt
       WHERE number <= ${RECEIPTS} GROUP BY 1, 2, 3, 4
       ON CONFLICT (agency_code, bill_code, holder, day, movement) DO UPDATE SET quantity = stock_daily.quantity + EXCLUDED.quantity;
     INSERT INTO stock_daily SELECT agency_code, bill_code, issuing_point_code, void_day, 'VOIDED', count(*) FROM receipt
       WHERE void_day IS NOT NULL AND number <= ${RECEIPTS} GROUP BY 1, 2, 3, 4
       ON CONFLICT (agency_code, bill_code, holder, day, movement) DO UPDATE SET quantity = stock_daily.quantity + EXCLUDED.quantity;`,
  );
  console.log(
    `sql load (the read side alone: rows in the projection's shape, set-wise): ${RECEIPTS} receipts in ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
