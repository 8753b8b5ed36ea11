import { randomUUID } from "node:crypto";
import { createSignedData, Sm2PrivateKey, sm3 } from "@piaoju/gm-crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  AGENCY,
  BILL,
  type ExchangeHarness,
  SECRET,
  startExchangeHarness,
  waitFor,
} from "../../../test/support/finance-exchange.ts";
import { cstDay, previousDay } from "./domain/days.ts";

/**
 * 对账: the day's receipts issued here against those finance supervised, with differences
 * planted on both sides; and the schedules (download for the archive, yesterday's report).
 */
describe("daily reconciliation", () => {
  let h: ExchangeHarness;
  const day = cstDay(new Date());

  beforeAll(async () => {
    h = await startExchangeHarness({
      transport: "http",
      kafkaBrokers: inject("kafkaBrokers"),
      env: { FINANCE_RECONCILE_HOUR: "0", FINANCE_DOWNLOAD_MS: "1500" },
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("reconciles yesterday on schedule and archives today's supervised receipts on schedule", async () => {
    const yesterday = previousDay(day);
    const report = await waitFor(
      async () => {
        const r = await h.test.call(
          "GET",
          `/v1/finance-exchange/reconciliations?agencyCode=${AGENCY}&day=${yesterday}`,
        );
        return r.status === 200 ? r.body : undefined;
      },
      30_000,
      "yesterday's scheduled report",
    );
    expect(report.summary).toMatchObject({ issuedHere: 0, supervisedThere: 0, differences: 0 });
  });

  it("finds and explains a receipt finance never got, one finance has that we do not, and a signature mismatch", async () => {
    const numbers = await h.issueNumbers(10);
    const ids = await h.submit(numbers.slice(0, 5));
    await waitFor(() => ids.every((id) => h.outcomes().has(id)), 60_000, "the five supervisions");
    const db = h.test.platform.databases.get("finance-exchange")!;
    await waitFor(
      async () => ((await db.query(`SELECT 1 FROM archived_receipt`)).length === 5 ? true : undefined),
      30_000,
      "the scheduled download to archive the five",
    );

    // Planted here: a receipt issued and queued for upload whose upload finance never got
    // (held back an hour, as after a long outage's backoff).
    const missingNumber = numbers[5]!;
    const requestId = randomUUID();
    await db.query(
      `INSERT INTO finance_request (id, operation, payload, status, attempts, next_attempt_at, last_error)
       VALUES ($1, 'supervise', '{}'::jsonb, 'PENDING', 9, now() + interval '1 hour', 'finance unreachable')`,
      [requestId],
    );
    await db.query(
      `INSERT INTO supervision_item (receipt_id, agency_code, bill_code, number, kind, issuing_point_code, check_code,
         total_fen, issued_at, document, document_sm3, agency_signature, status, request_id)
       VALUES ($1, $2, $3, $4, 'blue', 'W01', '123456', 12000, now(), 'PGRvYy8+', $5, 'AA==', 'BATCHED', $6)`,
      [randomUUID(), AGENCY, BILL, missingNumber, sm3("<doc/>").toString("hex"), requestId],
    );

    // Planted there: a receipt supervised at finance that this platform never issued (sent by another system).
    const unknownNumber = numbers[6]!;
    const document = Buffer.from(`<EInvoice><EInvoiceNumber>${unknownNumber}</EInvoiceNumber></EInvoice>`);
    const outsider = await h.sim
      .agency(AGENCY, SECRET)
      .post<{ results: Array<{ status: string }> }>("/fin/v1/supervision/batches", {
        batchId: "outside-the-platform",
        receipts: [
          {
            receiptId: randomUUID(),
            billCode: BILL,
            number: unknownNumber,
            checkCode: "654321",
            kind: "blue",
            totalFen: 5000,
            issuedAt: new Date().toISOString(),
            document: document.toString("base64"),
            agencySignature: createSignedData({
              content: document,
              detached: true,
              signerKey: h.agencyKey,
              signerCert: h.agencyCert,
            }).toString("base64"),
          },
        ],
      });
    expect(outsider.body.results[0]?.status).toBe("SUPERVISED");

    // Planted here: the agency signature kept for one receipt is not the one finance holds.
    const stranger = Sm2PrivateKey.generate();
    const [first] = await db.query<{ document: string }>(
      `SELECT document FROM supervision_item WHERE receipt_id = $1`,
      [ids[0]],
    );
    const otherSignature = createSignedData({
      content: Buffer.from(first!.document, "base64"),
      detached: true,
      signerKey: stranger,
      signerCert: h.sim.ca.issue({
        subject: { commonName: "someone else" },
        publicKey: stranger.publicKey,
        usage: "sign",
      }),
    }).toString("base64");
    await db.query(`UPDATE supervision_item SET agency_signature = $2 WHERE receipt_id = $1`, [
      ids[0],
      otherSignature,
    ]);

    const res = await h.test.call("POST", "/v1/finance-exchange/reconciliations", {
      agencyCode: AGENCY,
      day,
    });
    const report = await waitFor(
      async () => {
        const r = await h.test.call(
          "GET",
          `/v1/finance-exchange/reconciliations?agencyCode=${AGENCY}&day=${day}`,
        );
        return r.status === 200 &&
          r.body.createdAt &&
          (r.body.summary as { issuedHere: number }).issuedHere === 6
          ? r.body
          : undefined;
      },
      30_000,
      `the report (${res.body.requestId})`,
    );
    console.log(`sample reconciliation report:\n${report.text}`);
    const differences = report.differences as Array<{ kind: string; number: string; explanation: string }>;
    expect(differences.map((d) => [d.kind, d.number])).toEqual([
      ["AGENCY_SIGNATURE_MISMATCH", numbers[0]],
      ["MISSING_AT_FINANCE", missingNumber],
      ["UNKNOWN_HERE", unknownNumber],
    ]);
    for (const d of differences) expect(d.explanation.length).toBeGreaterThan(40);
    expect(report.summary).toMatchObject({ issuedHere: 6, supervisedThere: 6, matched: 4, differences: 3 });
    // The same report reaches reporting's 对账差异 as one event, from the report's transaction.
    const event = await waitFor(
      () =>
        h.financeEvents.find(
          (e) => e.type === "finance.ReconciliationCompleted" && (e.data as { day: string }).day === day,
        ),
      30_000,
      "finance.ReconciliationCompleted",
    );
    expect(event.data).toMatchObject({
      agencyCode: AGENCY,
      summary: { issuedHere: 6, supervisedThere: 6, matched: 4, differences: 3 },
      differences: differences.map((d) => ({ kind: d.kind, number: d.number, explanation: d.explanation })),
      differencesOmitted: 0,
    });
  });
});
