// pnpm bench:reporting — the read models over a million receipts on this machine's PostgreSQL.
//
//   1. live path: receipts' events applied one transaction per event with its inbox claim, as the
//      consumer does on the bus (its checkpoint trails, written apart; the rate that must keep up
//      with 500 receipts/s);
//   2. rebuild load: a million receipts' events (requested, signed, issued; some voided, some
//      red-flushed) through the same projection, 500 events per transaction: events/s;
//   3. the p99 of every report and of the receipt search over those rows, beside the floor of a
//      plain SQL aggregate over the same receipt rows, in the same run.
//
// Bounded: --receipts (default 1000000), --live (default 20000), --runs per query (default 40).
import { randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { claimEvent, platformMigrationsDir } from "@piaoju/bus";
import type { CatalogEvent } from "@piaoju/contracts";
import { type Database, migrate, openDatabase } from "@piaoju/persistence";
import { createTestDatabase } from "@piaoju/persistence/testing";
import { reportingService } from "@piaoju/reporting";
import {
  PayerProtection,
  projectEvent,
  type ReportDeps,
  reports,
  resolvePeriod,
  searchReceipts,
} from "@piaoju/reporting/testing";
import { Keyring } from "@piaoju/sealing";

const { values } = parseArgs({
  options: {
    receipts: { type: "string", default: "1000000" },
    live: { type: "string", default: "20000" },
    runs: { type: "string", default: "40" },
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
const LOAD = values.load === "sql" ? "sql" : "events";
const AGENCY = "110101";
const BILL = "11010126";
const POINTS = Array.from({ length: 20 }, (_, i) => `WIN-${String(i + 1).padStart(2, "0")}`);
const CLERKS = Array.from({ length: 40 }, (_, i) => `clerk.${i + 1}`);
const YEAR = 2026;
const protection = new PayerProtection(new Keyring(Buffer.alloc(16, 7)));

/** The events of receipt i: spread over the year, 2 % voided before supervision, 3 % red-flushed. */
function eventsOf(i: number): CatalogEvent[] {
  const id = randomUUID();
  const point = POINTS[i % POINTS.length]!;
  const clerk = CLERKS[(i * 7) % CLERKS.length]!;
  const issuedAt = new Date(
    Date.UTC(YEAR, 0, 1) + Math.floor((i / RECEIPTS) * 364 * 86_400_000),
  ).toISOString();
  const number = String(i + 1).padStart(10, "0");
  const books = 1 + (i % 3);
  const total = books * 12000 + (i % 5 === 0 ? 5000 : 0);
  const items =
    `<Item><ItemCode>001</ItemCode><ItemName>护照工本费</ItemName><ItemQuantity>${books}</ItemQuantity>` +
    `<ItemAmount>${(books * 120).toFixed(2)}</ItemAmount></Item>` +
    (i % 5 === 0
      ? "<Item><ItemCode>002</ItemCode><ItemName>加急费</ItemName><ItemQuantity>1</ItemQuantity><ItemAmount>50.00</ItemAmount></Item>"
      : "");
  const payer = {
    type: 1 as const,
    code: `1101051990${String(i % 100000).padStart(7, "0")}X`,
    name: `交款人${i % 50000}`,
  };
  const document = Buffer.from(
    `<EInvoice><PayerParty><PayerPartyType>1</PayerPartyType><PayerPartyCode>${payer.code}</PayerPartyCode>` +
      `<PayerPartyName>${payer.name}</PayerPartyName></PayerParty><HandlingPerson>${clerk}</HandlingPerson>` +
      `<Details>${items}</Details></EInvoice>`,
  ).toString("base64");
  const ref = { receiptId: id, agencyCode: AGENCY, billCode: BILL, number };
  const out: CatalogEvent[] = [
    envelope("issuance.ReceiptRequested", {
      ...ref,
      issuingPointCode: point,
      bizSerialNo: `B-${i}`,
      checkCode: number.slice(-6),
      totalFen: total,
      payerType: 1,
      issuedAt,
      documentSm3: "0".repeat(64),
      document,
      kind: "blue",
    }),
  ];
  if (i % 50 === 7) {
    out.push(
      envelope("issuance.ReceiptVoided", {
        ...ref,
        issuingPointCode: point,
        reason: "作废",
        voidedAt: issuedAt,
      }),
    );
    return out;
  }
  out.push(
    envelope("issuance.ReceiptSubmittedForSupervision", {
      ...ref,
      kind: "blue",
      issuingPointCode: point,
      checkCode: number.slice(-6),
      totalFen: total,
      issuedAt,
      document: "",
      documentSm3: "0".repeat(64),
      agencySignature: "",
    }),
    envelope("issuance.ReceiptIssued", {
      ...ref,
      kind: "blue",
      bizSerialNo: `B-${i}`,
      issuingPointCode: point,
      checkCode: number.slice(-6),
      issuedAt,
      supervisedAt: issuedAt,
      totalFen: total,
      payer,
      items: [{ itemCode: "001", itemName: "护照工本费", quantity: String(books), amountFen: books * 12000 }],
      handlingPerson: clerk,
      document: "",
      documentSm3: "0".repeat(64),
      agencySignature: "",
      financeSignature: "",
    }),
  );
  return out;
}

function envelope(type: string, data: Record<string, unknown>): CatalogEvent {
  return {
    id: randomUUID(),
    type,
    version: 1,
    occurredAt: new Date().toISOString(),
    key: String(data.receiptId ?? AGENCY),
    producer: "bench",
    data,
  } as unknown as CatalogEvent;
}

/** Stock's side of the year: a segment stocked and runs distributed to each point. */
function stockEvents(): CatalogEvent[] {
  const segmentId = randomUUID();
  const at = new Date(Date.UTC(YEAR, 0, 1)).toISOString();
  const out: CatalogEvent[] = [
    envelope("stock.BillKindRegistered", {
      agencyCode: AGENCY,
      billCode: BILL,
      name: "非税收入一般缴款书（电子）",
    }),
    envelope("stock.SegmentStocked", {
      segmentId,
      agencyCode: AGENCY,
      billCode: BILL,
      startNumber: "0000000001",
      endNumber: "0002000000",
      count: 2_000_000,
      confirmedBy: "bench",
      confirmedAt: at,
    }),
  ];
  const perPoint = Math.ceil(RECEIPTS / POINTS.length);
  POINTS.forEach((point, p) => {
    out.push(
      envelope("stock.SegmentDistributed", {
        distributionId: randomUUID(),
        segmentId,
        agencyCode: AGENCY,
        billCode: BILL,
        issuingPointCode: point,
        startNumber: String(p * perPoint + 1).padStart(10, "0"),
        endNumber: String((p + 1) * perPoint).padStart(10, "0"),
        count: perPoint,
        distributedAt: at,
        distributedBy: "rule",
      }),
    );
  });
  return out;
}

async function apply(db: Database, batch: readonly CatalogEvent[]): Promise<void> {
  await db.transaction(async (tx) => {
    for (const e of batch) {
      if (await claimEvent(tx, "bench", e)) await projectEvent(tx, protection, e);
    }
  });
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
    await apply(db, stockEvents());
    console.log(
      `reporting bench: ${RECEIPTS} receipts, PostgreSQL ${server.name}; ${cpus().length} cores, ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(" ")} at start`,
    );

    // 1. The live path: one transaction per event.
    const live: CatalogEvent[] = [];
    for (let i = 0; live.length < LIVE * 3 && i < LIVE; i++) live.push(...eventsOf(RECEIPTS + i));
    const t0 = performance.now();
    for (const e of live) await apply(db, [e]);
    const liveSeconds = (performance.now() - t0) / 1000;
    console.log(
      `live path (1 event per transaction, as the bus consumer): ${live.length} events of ${LIVE} receipts in ` +
        `${liveSeconds.toFixed(1)} s = ${(live.length / liveSeconds).toFixed(0)} events/s, ` +
        `${(LIVE / liveSeconds).toFixed(0)} receipts/s (target: keep up with 500 receipts/s)`,
    );

    // 2. The load: a million receipts.
    if (LOAD === "sql") await loadBySql(db);
    else await loadByEvents(db);
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
    for (const [name, r] of Object.entries(reports)) {
      const period = name === "issued-detail" ? resolvePeriod({ day: `${YEAR}-06-15` }) : year;
      rows.push([
        `${name} (${r.title}), ${name === "issued-detail" ? "a day" : "a year"}`,
        await time(RUNS, () => r.run(deps, { agencyCode: AGENCY, period }, options, "bench")),
      ]);
    }
    rows.push([
      "issued-summary by day and clerk, a month",
      await time(RUNS, () =>
        reports["issued-summary"]!.run(
          deps,
          { agencyCode: AGENCY, period: month },
          { ...options, granularity: "day", groupBy: "clerk" },
          "bench",
        ),
      ),
    ]);
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
        `${label.padEnd(72)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)}${r.p99 < 300 ? "" : "  over 300 ms"}`,
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

async function loadByEvents(db: Database): Promise<void> {
  const t0 = performance.now();
  let events = 0;
  let batch: CatalogEvent[] = [];
  for (let i = 0; i < RECEIPTS; i++) {
    batch.push(...eventsOf(i));
    if (batch.length >= 500) {
      await apply(db, batch);
      events += batch.length;
      batch = [];
    }
    if (i > 0 && i % 100_000 === 0) {
      const s = (performance.now() - t0) / 1000;
      console.log(`  … ${i} receipts, ${(events / s).toFixed(0)} events/s`);
    }
  }
  await apply(db, batch);
  events += batch.length;
  const loadSeconds = (performance.now() - t0) / 1000;
  console.log(
    `rebuild load (500 events per transaction): ${events} events in ${loadSeconds.toFixed(0)} s = ` +
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
