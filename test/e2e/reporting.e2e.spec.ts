import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AgencyProfileSynced,
  createEnvelope,
  type Envelope,
  ReceiptSigned,
  ReceiptSupervised,
  ReconciliationCompleted,
  topics,
} from "@piaoju/contracts";
import { issuanceService } from "@piaoju/issuance";
import { businessDay, lastDayOfMonth } from "@piaoju/locale";
import { reportingService } from "@piaoju/reporting";
import { callerHeaders, startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { stockService } from "@piaoju/stock";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { succeeding } from "../support/agency.ts";

const AGENCY = "110105";
const BILL = "11010126";
const POINTS = ["WIN-01", "WIN-02", "SELF-01"] as const;
const CLERKS = ["li.si", "wang.wu"] as const;
const SEED = 20261201;

type Body = Record<string, unknown>;
interface Figures {
  opening: number;
  received: number;
  used: number;
  voided: number;
  returned: number;
  closing: number;
}
const FIGURES = ["opening", "received", "used", "voided", "returned", "closing"] as const;

/** mulberry32: the workload is random but the same for a seed, so a failure can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** An 18-character resident ID number with its check character (GB 11643). */
function idNumber(body17: string): string {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body17].reduce((n, d, i) => n + Number(d) * weights[i]!, 0);
  return body17 + "10X98765432"[sum % 11]!;
}

const PAYERS = [
  { type: 1, code: idNumber("11010519491231002"), name: "张三" },
  { type: 1, code: idNumber("11010119800101123"), name: "李 四" },
  { type: 1, code: idNumber("31010419900315456"), name: "王五" },
] as const;

/**
 * The reports equal the sources. A seeded random workload runs through stock and issuance
 * (issue, sign and supervise as the signing gateway and finance would answer over the bus,
 * red-flush, paper exchange and return, book, void, distribute by hand, return and void stock,
 * write-off); then every report's figures are checked against figures computed here from the
 * owning services' own APIs, never from reporting's. Then the read models are dropped and
 * rebuilt by replaying the topics from the start, and every report comes out the same.
 * Embedded (PGlite, embedded bus) and cluster (PostgreSQL, Kafka).
 */
describe.each(
  (process.env.REPORTING_MODES ?? "embedded,cluster").split(",") as Array<"embedded" | "cluster">,
)("reports equal the sources (%s)", (mode) => {
  let t: TestPlatform;
  let ok: ReturnType<typeof succeeding>;
  const receiptIds: string[] = [];
  const today = businessDay(new Date());
  const month = today.slice(0, 7);

  beforeAll(async () => {
    t = await startTestPlatform({
      mode,
      services: [stockService, issuanceService, reportingService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": "*" },
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_CHECK_CODE_KEY: randomBytes(16).toString("hex"),
        PIAOJU_REPORTING_GENERATION_POLL_MS: "200",
      },
    });
    ok = succeeding(t);
    await runWorkload();
    await caughtUp();
  }, 300_000);
  afterAll(async () => {
    await t?.stop();
  });

  const waitFor = async (what: string, done: () => Promise<boolean>) => {
    const deadline = Date.now() + 60_000;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const statusOf = async (id: string) => String((await ok("GET", `/v1/receipts/${id}`)).status);
  const publish = (topic: string, envelope: Envelope) => t.probe.publish([{ topic, envelope }]);

  /** Plays the signing gateway and then finance for a requested receipt. */
  const signAndSupervise = async (r: Body) => {
    const id = String(r.id);
    await publish(
      topics.signing,
      createEnvelope(
        ReceiptSigned,
        {
          receiptId: id,
          agencyCode: AGENCY,
          documentSm3: String(r.documentSm3),
          signature: randomBytes(96).toString("base64"),
          certificateSm3: "a".repeat(64),
          keyId: `agency-${AGENCY}`,
          signedAt: new Date().toISOString(),
        },
        { producer: "signing-gateway" },
      ),
    );
    await waitFor(`${id} signed`, async () => (await statusOf(id)) === "AGENCY_SIGNED");
    await publish(
      topics.finance,
      createEnvelope(
        ReceiptSupervised,
        {
          receiptId: id,
          agencyCode: AGENCY,
          billCode: BILL,
          number: String(r.number),
          financeSignature: randomBytes(96).toString("base64"),
          financeCertificateSm3: "f".repeat(64),
          financeRef: `FIN-${String(r.number)}`,
          supervisedAt: new Date().toISOString(),
        },
        { producer: "finance-exchange" },
      ),
    );
    await waitFor(`${id} issued`, async () => (await statusOf(id)) === "ISSUED");
  };

  async function runWorkload(): Promise<void> {
    const random = prng(SEED);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    await ok("POST", "/v1/stock/bill-kinds", {
      agencyCode: AGENCY,
      billCode: BILL,
      name: "非税收入一般缴款书（电子）",
    });
    const segment = await ok("POST", "/v1/stock/segments", {
      agencyCode: AGENCY,
      billCode: BILL,
      startNumber: "0000300001",
      endNumber: "0000301000",
    });
    await ok("POST", `/v1/stock/segments/${String(segment.id)}/confirm`);
    for (const code of POINTS) {
      await ok("POST", "/v1/issuance/issuing-points", { agencyCode: AGENCY, code, name: `窗口 ${code}` });
      if (code !== "SELF-01") {
        await ok("PUT", `/v1/stock/distribution-rules/${AGENCY}/${BILL}/${code}`, {
          threshold: 8,
          batchSize: 15,
        });
      }
    }
    // SELF-01 gets its numbers by hand (分发 by a ticket manager).
    await ok("POST", "/v1/stock/distributions", {
      agencyCode: AGENCY,
      billCode: BILL,
      issuingPointCode: "SELF-01",
      count: 25,
    });
    const items = [
      { code: "001", name: "护照工本费", unit: "本", standardFen: 12000 },
      { code: "002", name: "加急费", unit: "次", standardFen: null },
    ];
    for (const item of items) await ok("POST", "/v1/issuance/items", { agencyCode: AGENCY, ...item });
    await waitFor("runs at every point", async () => {
      const runs = (await ok("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`)).items as Body[];
      return new Set(runs.map((r) => r.issuingPointCode)).size === POINTS.length;
    });

    const issued: Body[] = [];
    for (let i = 0; i < 26; i++) {
      const books = 1 + Math.floor(random() * 2);
      const urgent = random() < 0.4 ? 1000 + Math.floor(random() * 5000) : 0;
      const lines = [{ itemCode: "001", quantity: String(books), amountFen: books * 12000 }];
      if (urgent) lines.push({ itemCode: "002", quantity: "1", amountFen: urgent });
      const payer = pick(PAYERS);
      const r = await ok("POST", "/v1/receipts", {
        agencyCode: AGENCY,
        issuingPointCode: pick(POINTS),
        billCode: BILL,
        bizSerialNo: `RPT-${mode}-${i}`,
        payer,
        items: lines,
        totalFen: lines.reduce((n, l) => n + l.amountFen, 0),
        handlingPerson: pick(CLERKS),
      });
      receiptIds.push(String(r.id));
      const fate = random();
      if (fate < 0.12) continue; // stays pending (not yet supervised)
      if (fate < 0.24) {
        await ok("POST", `/v1/receipts/${String(r.id)}/void`, { reason: "开错了项目" });
        continue;
      }
      await signAndSupervise(r);
      issued.push(r);
    }
    for (const r of issued) {
      const next = random();
      const id = String(r.id);
      if (next < 0.25) {
        const red = await ok("POST", `/v1/receipts/${id}/red-flush`, {
          reason: "退费",
          handlingPerson: pick(CLERKS),
        });
        receiptIds.push(String(red.id));
        await signAndSupervise(red);
        await waitFor(`${id} red-flushed`, async () => (await statusOf(id)) === "RED_FLUSHED");
      } else if (next < 0.4) {
        await ok("POST", `/v1/receipts/${id}/paper-exchange`, {
          paperBillCode: "11010201",
          paperNumber: String(Math.floor(random() * 1e9)).padStart(10, "0"),
        });
        if (random() < 0.5)
          await ok("POST", `/v1/receipts/${id}/paper-return`, { reason: "交款人退回纸质票据" });
      } else if (next < 0.5) {
        await ok("POST", `/v1/receipts/${id}/book`, { bookedBy: "某某公司财务" });
      }
    }
    await ok("POST", "/v1/stock/distributions", {
      agencyCode: AGENCY,
      billCode: BILL,
      issuingPointCode: "SELF-01",
      count: 10,
    });
    // 申退 and 库存作废 of numbers still undistributed at the segment's end.
    await ok("POST", "/v1/stock/returns", {
      agencyCode: AGENCY,
      billCode: BILL,
      startNumber: "0000300951",
      endNumber: "0000301000",
    });
    await ok("POST", "/v1/stock/voids", {
      agencyCode: AGENCY,
      billCode: BILL,
      startNumber: "0000300901",
      endNumber: "0000300920",
      reason: "票据受潮损毁",
    });
    // Issuance's number intake, stock's usage intake: everything the workload caused, settled.
    await waitFor("stock to count every receipt", async () => {
      const ledger = await ok(
        "GET",
        `/v1/stock/ledger?agencyCode=${AGENCY}&billCode=${BILL}&from=${month}-01&to=${today}`,
      );
      return Number(ledger.used) + Number(ledger.voided) - 20 === receiptIds.length;
    });
    await ok("POST", "/v1/stock/write-offs", { agencyCode: AGENCY, billCode: BILL, period: month });
    // finance-exchange's side, as it publishes after a base-data sync and a day's reconciliation.
    await publish(
      topics.finance,
      createEnvelope(
        AgencyProfileSynced,
        {
          agencyCode: AGENCY,
          name: "北京市公安局出入境管理总队朝阳分局",
          syncedAt: new Date().toISOString(),
        },
        { producer: "finance-exchange" },
      ),
    );
    const first = (await ok("GET", `/v1/receipts/${receiptIds[0]}`)) as Body;
    await publish(
      topics.finance,
      createEnvelope(
        ReconciliationCompleted,
        {
          reportId: randomUUID(),
          agencyCode: AGENCY,
          day: today,
          reconciledAt: new Date().toISOString(),
          summary: {
            issuedHere: receiptIds.length,
            supervisedHere: receiptIds.length - 1,
            rejectedHere: 0,
            pendingHere: 1,
            supervisedThere: receiptIds.length - 1,
            matched: receiptIds.length - 2,
            differences: 2,
          },
          differences: [
            {
              kind: "MISSING_AT_FINANCE",
              billCode: BILL,
              number: String(first.number),
              receiptId: String(first.id),
              explanation:
                "issued here but finance never got it (still queued for upload); it is sent again automatically",
            },
            {
              kind: "UNKNOWN_HERE",
              billCode: BILL,
              number: "0000300999",
              financeRef: "FIN-X-1",
              explanation:
                "finance supervised 0000300999 but this platform never submitted it: check who issued it",
            },
          ],
          differencesOmitted: 0,
        },
        { producer: "finance-exchange" },
      ),
    );
  }

  /** Until the read models have applied every event on their topics. */
  async function caughtUp(): Promise<void> {
    // Give the last commits a moment to reach the topics (outbox relays), then wait for lag 0.
    await new Promise((r) => setTimeout(r, 500));
    await waitFor("reporting to catch up", async () => {
      const lag = (await ok("GET", "/v1/reporting/lag")).topics as Array<{ behind: number }>;
      return lag.every((l) => l.behind === 0);
    }).catch(async (error: unknown) => {
      const dead = await t.probe.readDeadLetters("reporting.projection.g1");
      throw new Error(
        `${String(error)}; lag ${JSON.stringify((await ok("GET", "/v1/reporting/lag")).topics)}; dead letters: ${JSON.stringify(dead.slice(0, 3).map((d) => [d.envelope.type, d.error]))}`,
      );
    });
  }

  const report = async (name: string, query = "") =>
    (await ok("GET", `/v1/reporting/reports/${name}?agencyCode=${AGENCY}&month=${month}${query}`)) as {
      rows: Array<{ type: string; values: Body }>;
      totals: Body;
      agency: Body;
      notes: string[];
    };
  const stockLedger = async (point?: string) =>
    (await ok(
      "GET",
      `/v1/stock/ledger?agencyCode=${AGENCY}&billCode=${BILL}&from=${month}-01&to=${lastDayOfMonth(month)}${
        point ? `&issuingPointCode=${point}` : ""
      }`,
    )) as unknown as Figures;
  const receipts = async () =>
    Promise.all(receiptIds.map(async (id) => (await ok("GET", `/v1/receipts/${id}`)) as Body));
  const FORMAL = new Set(["ISSUED", "RED_FLUSHED", "PAPER_EXCHANGED", "BOOKED"]);

  it("领用存: the agency's and every point's figures equal stock's ledger, and opening + received − used − voided − returned = closing", async () => {
    const ledger = await report("ledger");
    const rowOf = (holder: string) =>
      ledger.rows.find((r) => r.type === "detail" && String(r.values.holder).startsWith(holder));
    const pick = (v: Body) => Object.fromEntries(FIGURES.map((k) => [k, Number(v[k])]));
    expect(pick(rowOf("本单位")!.values)).toEqual(pick((await stockLedger()) as unknown as Body));
    for (const point of POINTS)
      expect(pick(rowOf(point)!.values)).toEqual(pick((await stockLedger(point)) as unknown as Body));
    for (const row of ledger.rows.filter((r) => r.type === "detail")) {
      const v = row.values as unknown as Figures;
      expect(v.opening + v.received - v.used - v.voided - v.returned).toBe(v.closing);
    }
    expect(ledger.notes).toEqual([]);
    expect(ledger.agency).toEqual({ code: AGENCY, name: "北京市公安局出入境管理总队朝阳分局" });
  });

  it("库存结余表: each point's balance and ranges are what issuance has left in its runs; the agency's is stock's undistributed", async () => {
    const balance = await report("stock-balance");
    const runs = (await ok("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`)).items as Body[];
    for (const point of POINTS) {
      const left = runs
        .filter((r) => r.issuingPointCode === point && Number(r.remaining) > 0)
        .map((r) => ({ startNumber: r.nextNumber, endNumber: r.endNumber, quantity: Number(r.remaining) }));
      const shown = balance.rows
        .filter(
          (r) =>
            r.type === "detail" && String(r.values.holder).startsWith(point) && Number(r.values.quantity) > 0,
        )
        .map((r) => ({
          startNumber: r.values.startNumber,
          endNumber: r.values.endNumber,
          quantity: r.values.quantity,
        }));
      expect(shown).toEqual(left);
    }
    const agency = await stockLedger();
    expect(balance.totals.quantity).toBe(agency.closing);
  });

  it("开票汇总: issued totals equal the sum of the receipts issuance holds, blue and red apart; voided and pending counted apart", async () => {
    const all = await receipts();
    const formal = all.filter(
      (r) => FORMAL.has(String(r.status)) || (r.kind === "red" && r.status === "ISSUED"),
    );
    const sum = (list: Body[]) => list.reduce((n, r) => n + Number(r.totalFen), 0);
    const blue = formal.filter((r) => r.kind === "blue");
    const red = formal.filter((r) => r.kind === "red");
    const summary = await report("issued-summary", "&granularity=month&groupBy=point");
    expect(summary.totals).toMatchObject({
      blueReceipts: blue.length,
      blueFen: sum(blue),
      redReceipts: red.length,
      redFen: sum(red),
      netFen: sum(formal),
      voidedReceipts: all.filter((r) => r.status === "VOIDED").length,
      pendingReceipts: all.filter((r) => r.status === "REQUESTED" || r.status === "AGENCY_SIGNED").length,
    });
    for (const point of POINTS) {
      const mine = formal.filter((r) => r.issuingPointCode === point);
      const row = summary.rows.find((r) => r.type === "detail" && String(r.values.group).startsWith(point));
      expect(Number(row?.values.netFen ?? 0)).toBe(sum(mine));
    }
    const byItem = await report("issued-summary", "&groupBy=item&granularity=year");
    const itemTotal = (code: string) =>
      formal.reduce(
        (n, r) =>
          n +
          (r.items as Body[])
            .filter((i) => i.itemCode === code)
            // A red receipt's lines are its original's, negated.
            .reduce((m, i) => m + Math.sign(Number(r.totalFen)) * Math.abs(Number(i.amountFen)), 0),
        0,
      );
    for (const code of ["001", "002"]) {
      const row = byItem.rows.find((r) => r.type === "detail" && String(r.values.group).startsWith(code));
      expect(Number(row?.values.netFen ?? 0)).toBe(itemTotal(code));
    }
  });

  it("冲红明细: the red-flush totals equal the negative receipts, each beside its original and its reason", async () => {
    const all = await receipts();
    const reds = all.filter((r) => r.kind === "red");
    const flush = await report("red-flush");
    expect(flush.totals).toMatchObject({
      receipts: reds.length,
      amountFen: reds.reduce((n, r) => n + Number(r.totalFen), 0),
    });
    expect(reds.length).toBeGreaterThan(0);
    const details = flush.rows.filter((r) => r.type === "detail");
    for (const red of reds) {
      const original = all.find((r) => r.id === red.originalReceiptId)!;
      expect(details.find((d) => d.values.redNumber === red.number)?.values).toMatchObject({
        originalNumber: original.number,
        reason: "退费",
        amountFen: -Number(original.totalFen),
      });
    }
  });

  it("作废, 入库, 分发: the voided receipts and stock, the segments stocked and the runs distributed are stock's and issuance's own", async () => {
    const all = await receipts();
    const voids = await report("voids");
    const voidedHere = all.filter((r) => r.status === "VOIDED");
    const removals = (await ok("GET", `/v1/stock/removals?agencyCode=${AGENCY}&kind=VOIDED`)).items as Body[];
    expect(voids.totals.quantity).toBe(voidedHere.length + removals.reduce((n, r) => n + Number(r.count), 0));
    const inbound = await report("inbound");
    const segments = (await ok("GET", `/v1/stock/segments?agencyCode=${AGENCY}&status=STOCKED`))
      .items as Body[];
    expect(inbound.totals.quantity).toBe(segments.reduce((n, s) => n + Number(s.count), 0));
    const distribution = await report("distribution");
    const runs = (await ok("GET", `/v1/stock/distributions?agencyCode=${AGENCY}`)).items as Body[];
    expect(distribution.totals.quantity).toBe(runs.reduce((n, r) => n + Number(r.count), 0));
    expect(distribution.rows.some((r) => r.values.distributedBy === "自动分发")).toBe(true);
    expect(distribution.rows.some((r) => r.values.distributedBy === "zhang.san")).toBe(true);
  });

  it("核销: the write-off stock submitted shows the same 领用存 as the report for its month", async () => {
    const [writeOff] = (await ok("GET", `/v1/stock/write-offs?agencyCode=${AGENCY}`)).items as Array<{
      record: { agency: Figures };
    }>;
    const ledger = await report("ledger");
    const agencyRow = ledger.rows.find((r) => String(r.values.holder).startsWith("本单位"))!;
    for (const k of FIGURES) expect(Number(agencyRow.values[k])).toBe(writeOff!.record.agency[k]);
  });

  it("开票明细查询: every receipt is found with issuance's status; by payer (keyed hash), by number range, by amount; keyset pages cover all once", async () => {
    const all = await receipts();
    const seen: Body[] = [];
    let cursor: string | null = null;
    do {
      const page = await ok(
        "GET",
        `/v1/reporting/receipts?agencyCode=${AGENCY}&limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      seen.push(...(page.items as Body[]));
      cursor = page.nextCursor as string | null;
    } while (cursor);
    expect(seen.map((s) => s.id).sort()).toEqual(all.map((r) => r.id).sort());
    for (const r of all) expect(seen.find((s) => s.id === r.id)?.status).toBe(r.status);
    const payer = PAYERS[1];
    const byName = await ok(
      "GET",
      `/v1/reporting/receipts?agencyCode=${AGENCY}&limit=200&payerName=${encodeURIComponent("李四")}`,
    );
    const byCode = await ok(
      "GET",
      `/v1/reporting/receipts?agencyCode=${AGENCY}&limit=200&payerCode=${payer.code.toLowerCase()}`,
    );
    const hers = all.filter(
      (r) => (r.payer as Body | undefined)?.code === payer.code || r.payerCode === payer.code,
    );
    expect((byName.items as Body[]).map((i) => i.id).sort()).toEqual(
      (byCode.items as Body[]).map((i) => i.id).sort(),
    );
    if (hers.length > 0) expect((byName.items as Body[]).length).toBe(hers.length);
    expect((byName.items as Body[]).every((i) => i.payerName === payer.name)).toBe(true);
    const numbers = all.map((r) => String(r.number)).sort();
    const range = await ok(
      "GET",
      `/v1/reporting/receipts?agencyCode=${AGENCY}&limit=200&billCode=${BILL}&numberFrom=${numbers[2]}&numberTo=${numbers[5]}`,
    );
    expect((range.items as Body[]).map((i) => i.number).sort()).toEqual(numbers.slice(2, 6));
    const big = await ok("GET", `/v1/reporting/receipts?agencyCode=${AGENCY}&limit=200&amountMinFen=24000`);
    expect((big.items as Body[]).length).toBe(all.filter((r) => Number(r.totalFen) >= 24000).length);
  });

  it("对账差异: the day finance-exchange reconciled, its figures and each difference explained", async () => {
    const rec = await report("reconciliation");
    expect(rec.rows.filter((r) => r.type === "detail").map((r) => r.values.kind)).toEqual([
      "财政无此票",
      "本平台无此票",
    ]);
    expect(rec.totals).toMatchObject({ issuedHere: receiptIds.length, differences: 2 });
  });

  it("refuses a report outside the caller's scope (403), an unknown report (400), a period given twice (400)", async () => {
    const scoped = { "x-piaoju-actor": "zhao.liu", "x-piaoju-agencies": "999999" };
    expect(
      (
        await t.call(
          "GET",
          `/v1/reporting/reports/ledger?agencyCode=${AGENCY}&month=${month}`,
          undefined,
          scoped,
        )
      ).status,
    ).toBe(403);
    expect(
      (await t.call("GET", `/v1/reporting/reports/nothing?agencyCode=${AGENCY}&month=${month}`)).status,
    ).toBe(400);
    const twice = await t.call(
      "GET",
      `/v1/reporting/reports/ledger?agencyCode=${AGENCY}&month=${month}&day=${today}`,
    );
    expect(twice).toMatchObject({ status: 400, body: { issues: [{ field: "query.period" }] } });
    expect((await t.call("POST", "/v1/reporting/rebuild", undefined, scoped)).status).toBe(403);
  });

  it("pages a view (at most 500 rows a page) with totals over all its rows; a bigger page is a 400 naming pageSize", async () => {
    for (const name of ["issued-detail", "issued-summary", "ledger", "voids"]) {
      const whole = (await ok(
        "GET",
        `/v1/reporting/reports/${name}?agencyCode=${AGENCY}&month=${month}&groupBy=clerk`,
      )) as { rows: Body[]; totals: Body; page: Body };
      const n = Number(whole.page.rows);
      expect(n).toBeGreaterThan(1);
      expect(whole.page).toMatchObject({ number: 1, size: 500, pages: Math.ceil(n / 500) });
      const pages: Body[] = [];
      for (let page = 1; page <= Math.ceil(n / 3); page++) {
        const part = (await ok(
          "GET",
          `/v1/reporting/reports/${name}?agencyCode=${AGENCY}&month=${month}&groupBy=clerk&page=${page}&pageSize=3`,
        )) as { rows: Body[]; totals: Body; page: Body };
        expect(part.rows.length).toBeLessThanOrEqual(3);
        expect(part.totals).toEqual(whole.totals);
        expect(part.page).toMatchObject({ number: page, size: 3, rows: n });
        pages.push(...part.rows);
      }
      expect(pages).toEqual(whole.rows.slice(0, n));
    }
    const big = await t.call(
      "GET",
      `/v1/reporting/reports/ledger?agencyCode=${AGENCY}&month=${month}&pageSize=501`,
    );
    expect(big).toMatchObject({ status: 400, body: { issues: [{ field: "query.pageSize" }] } });
  });

  it("exports each report as xlsx and as PDF, with the period and who made it", async () => {
    for (const name of ["ledger", "issued-detail"]) {
      for (const format of ["xlsx", "pdf"]) {
        const res = await fetch(
          `${t.platform.url}/v1/reporting/reports/${name}?agencyCode=${AGENCY}&month=${month}&format=${format}`,
          {
            headers: {
              authorization: `Bearer ${"t".repeat(40)}`,
              ...callerHeaders(
                { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
                "GET",
                `${t.platform.url}/v1/reporting/reports/${name}?agencyCode=${AGENCY}&month=${month}&format=${format}`,
              ),
            },
          },
        );
        expect(res.status).toBe(200);
        const bytes = Buffer.from(await res.arrayBuffer());
        expect(bytes.subarray(0, format === "pdf" ? 4 : 2).toString("latin1")).toBe(
          format === "pdf" ? "%PDF" : "PK",
        );
      }
    }
  });

  // REPORTING_SAMPLES_DIR=docs/samples/reporting: the committed samples are this workload's reports.
  it.runIf(process.env.REPORTING_SAMPLES_DIR && mode === "embedded")(
    "writes a sample of every report",
    async () => {
      const dir = process.env.REPORTING_SAMPLES_DIR!;
      await mkdir(dir, { recursive: true });
      const options: Record<string, string> = {
        "issued-summary": "&granularity=day&groupBy=point",
      };
      for (const name of [
        "stock-balance",
        "inbound",
        "distribution",
        "voids",
        "ledger",
        "issued-detail",
        "issued-summary",
        "red-flush",
        "reconciliation",
      ]) {
        for (const format of ["xlsx", "pdf"]) {
          const res = await fetch(
            `${t.platform.url}/v1/reporting/reports/${name}?agencyCode=${AGENCY}&month=${month}&format=${format}${options[name] ?? ""}`,
            {
              headers: {
                authorization: `Bearer ${"t".repeat(40)}`,
                ...callerHeaders(
                  { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
                  "GET",
                  `${t.platform.url}/v1/reporting/reports/${name}?agencyCode=${AGENCY}&month=${month}&format=${format}${options[name] ?? ""}`,
                ),
              },
            },
          );
          expect(res.status).toBe(200);
          await writeFile(join(dir, `${name}.${format}`), Buffer.from(await res.arrayBuffer()));
        }
      }
    },
  );

  it("drops the read models and rebuilds them by replaying the topics from the start: the same reports", async () => {
    const names = [
      "ledger",
      "stock-balance",
      "inbound",
      "distribution",
      "voids",
      "issued-detail",
      "issued-summary",
      "red-flush",
    ];
    const strip = (r: Body) => ({ rows: r.rows, totals: r.totals, charts: r.charts });
    const before = await Promise.all(names.map(async (n) => strip(await report(n))));
    const rebuilt = await t.call("POST", "/v1/reporting/rebuild");
    expect(rebuilt).toMatchObject({ status: 202, body: { generation: 2 } });
    await caughtUp();
    const after = await Promise.all(names.map(async (n) => strip(await report(n))));
    expect(after).toEqual(before);
  });
});
