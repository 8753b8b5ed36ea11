import { createEnvelope, ReceiptPaperExchanged, topics } from "@piaoju/contracts";
import { verifySignedData } from "@piaoju/gm-crypto";
import { TEST_SECRETS_KEY } from "@piaoju/runtime/testing";
import { Keyring, Sealer } from "@piaoju/sealing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  AGENCY,
  BILL,
  type ExchangeHarness,
  startExchangeHarness,
  waitFor,
} from "../../../test/support/finance-exchange.ts";
import { archivedContext, queuedContext, resealStale, SealedDocuments } from "./adapters/sealed-documents.ts";
import { cstDay } from "./domain/days.ts";

/** What the service seals with in these tests (the test platform's key). */
const documents = new SealedDocuments(new Sealer(Keyring.parse(TEST_SECRETS_KEY)));
/** A stored document is sealed: its bytes are a sealed value's, and nothing of the XML shows. */
function expectSealed(stored: string): void {
  const bytes = Buffer.from(stored, "base64");
  expect(bytes.subarray(0, 4).toString("latin1")).toBe("PJSL");
  expect(bytes.includes("EInvoice")).toBe(false);
}

/**
 * The whole exchange against the finance simulator, over both transports: direct HTTP and
 * the boundary ferry (sealed files, a mover that delays, reorders and duplicates them).
 */
describe.each(["http", "ferry"] as const)("finance exchange over %s", (transport) => {
  let h: ExchangeHarness;
  let numbers: string[] = [];
  let receiptIds: string[] = [];
  let stranger: string;

  beforeAll(async () => {
    h = await startExchangeHarness({ transport, kafkaBrokers: inject("kafkaBrokers") });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("syncs base data on demand and keeps what finance serves", async () => {
    const res = await h.test.call("POST", "/v1/finance-exchange/base-data/sync", { agencyCode: AGENCY });
    expect(res.status).toBe(202);
    const items = await waitFor(
      async () => {
        const list = await h.test.call("GET", `/v1/finance-exchange/base-data?agencyCode=${AGENCY}`);
        const found = list.body.items as Array<{ kind: string; code: string }>;
        return found.some((i) => i.kind === "billKind" && i.code === BILL) ? found : undefined;
      },
      30_000,
      "base data",
    );
    expect(items.map((i) => i.kind).sort()).toEqual(["agency", "billKind", "incomeItem", "region"]);
    // The agency's registered name goes out for the reports that print it.
    const profile = await waitFor(
      () => h.financeEvents.find((e) => e.type === "finance.AgencyProfileSynced"),
      30_000,
      "finance.AgencyProfileSynced",
    );
    expect(profile.data).toMatchObject({ agencyCode: AGENCY, name: "北京市公安局出入境管理总队" });
  });

  it("sends a stock application and takes the issued segment into stock once (finance.SegmentIssued)", async () => {
    numbers = await h.issueNumbers(12);
    expect(numbers).toHaveLength(12);
    const issued = h.financeEvents.filter((e) => e.type === "finance.SegmentIssued");
    expect(issued).toHaveLength(1);
  });

  it("uploads submitted receipts and emits one outcome per receipt, finance's signature verifying over the document", async () => {
    stranger = "0099999999"; // never issued to the agency: finance must reject it
    receiptIds = await h.submit([...numbers.slice(0, 10), stranger]);
    const outcomes = await waitFor(
      () => {
        const o = h.outcomes();
        return receiptIds.every((id) => o.has(id)) ? o : undefined;
      },
      60_000,
      "supervision outcomes",
    );
    const strangerId = receiptIds.at(-1)!;
    for (const id of receiptIds.slice(0, 10))
      expect(outcomes.get(id)).toMatchObject({ supervised: 1, rejected: 0 });
    expect(outcomes.get(strangerId)).toMatchObject({
      supervised: 0,
      rejected: 1,
      codes: ["NUMBER_NOT_ISSUED"],
    });

    const db = h.test.platform.databases.get("finance-exchange")!;
    const [stored] = await db.query<{ document: string }>(
      `SELECT document FROM supervision_item WHERE receipt_id = $1`,
      [receiptIds[0]],
    );
    // The queued document names the payer: sealed at rest, opened only to be sent.
    expectSealed(stored!.document);
    const row = { document: documents.open(queuedContext(receiptIds[0]!), stored!.document) };
    const event = h.financeEvents.find(
      (e) =>
        e.type === "finance.ReceiptSupervised" &&
        (e.data as { receiptId: string }).receiptId === receiptIds[0],
    )!;
    const signature = Buffer.from((event.data as { financeSignature: string }).financeSignature, "base64");
    const verified = verifySignedData(signature, {
      content: Buffer.from(row!.document, "base64"),
      trusted: [h.sim.ca.certificate],
    });
    expect(verified.valid).toBe(true);
    expect(verified.signer?.equals(h.sim.financeCertificate)).toBe(true);

    // Finance's supervision certificate is published for verifiers, once for all ten receipts.
    const published = h.financeEvents
      .filter((e) => e.type === "finance.FinanceCertificatePublished")
      .map((e) => e.data as { role: string; certificate: { sm3: string; pem: string } });
    expect(published.filter((p) => p.role === "supervision").map((p) => p.certificate.sm3)).toEqual([
      h.sim.financeCertificate.fingerprintSm3(),
    ]);
    expect(published.find((p) => p.role === "supervision")!.certificate.pem).toBe(
      h.sim.financeCertificate.toPem(),
    );
    // Finance's CA: over HTTP as finance serves it beside its certificate. Over the ferry none: the
    // ferry's CA also issued this end's own ferry certificate, which must not pass for finance.
    const cas = published.filter((p) => p.role === "ca").map((p) => p.certificate.sm3);
    expect(cas).toEqual(transport === "http" ? [h.sim.ca.certificate.fingerprintSm3()] : []);
  });

  it("tells finance when a supervised receipt is exchanged for paper, so a payer's check says so", async () => {
    const number = numbers[1]!;
    await h.test.probe.publish([
      {
        topic: topics.issuance,
        envelope: createEnvelope(
          ReceiptPaperExchanged,
          {
            receiptId: receiptIds[1]!,
            agencyCode: AGENCY,
            billCode: BILL,
            number,
            paperBillCode: "11010199",
            paperNumber: "0000000001",
            returned: false,
            at: new Date().toISOString(),
          },
          { producer: "issuance" },
        ),
      },
    ]);
    const verified = await waitFor(
      async () => {
        const res = await fetch(
          `${h.sim.url}/fin/v1/public/verify?billCode=${BILL}&number=${number}&checkCode=${number.slice(-6)}`,
        );
        const body = (await res.json()) as { exchanged?: boolean; status?: string };
        return body.exchanged ? body : undefined;
      },
      30_000,
      "finance to know of the exchange",
    );
    expect(verified.status).toBe("EXCHANGED");
  });

  it("downloads supervised receipts, archives them immutably by content hash, and they verify later", async () => {
    const day = cstDay(new Date());
    expect(
      (await h.test.call("POST", "/v1/finance-exchange/reconciliations", { agencyCode: AGENCY, day })).status,
    ).toBe(202);
    const report = await waitFor(
      async () => {
        const r = await h.test.call(
          "GET",
          `/v1/finance-exchange/reconciliations?agencyCode=${AGENCY}&day=${day}`,
        );
        return r.status === 200 ? r.body : undefined;
      },
      60_000,
      "the reconciliation report",
    );
    expect(report.summary).toMatchObject({
      issuedHere: 11,
      supervisedThere: 10,
      matched: 10,
      differences: 0,
    });

    const db = h.test.platform.databases.get("finance-exchange")!;
    const archived = await db.query<{ content_sm3: string }>(`SELECT content_sm3 FROM archived_receipt`);
    expect(archived).toHaveLength(10);
    const proof = await h.test.call(
      "GET",
      `/v1/finance-exchange/archive/${archived[0]!.content_sm3}/verification`,
    );
    expect(proof.body).toMatchObject({ intact: true, signaturesValid: true });
    await expect(db.query(`UPDATE archived_receipt SET document = 'x'`)).rejects.toThrow(/immutable/);
    await expect(db.query(`DELETE FROM archived_receipt`)).rejects.toThrow(/immutable/);

    // Archived documents are sealed too; the archive still refuses any change but the stored form
    // of its document (a sealed value in place of another, every other column unchanged).
    const rows = await db.query<{ content_sm3: string; document: string }>(
      `SELECT content_sm3, document FROM archived_receipt`,
    );
    for (const r of rows) expectSealed(r.document);
    const first = rows[0]!;
    const resealed = documents.seal(
      archivedContext(first.content_sm3),
      documents.open(archivedContext(first.content_sm3), first.document),
    );
    await expect(
      db.query(`UPDATE archived_receipt SET document = $2, number = '0000000000' WHERE content_sm3 = $1`, [
        first.content_sm3,
        resealed,
      ]),
    ).rejects.toThrow(/immutable/);
    await db.query(`UPDATE archived_receipt SET document = $2 WHERE content_sm3 = $1`, [
      first.content_sm3,
      resealed,
    ]);
    expect(
      (await h.test.call("GET", `/v1/finance-exchange/archive/${first.content_sm3}/verification`)).body,
    ).toMatchObject({ intact: true, signaturesValid: true });

    // Rows from before sealing (documents in clear) are sealed on start, and open as they were.
    const [queued] = await db.query<{ receipt_id: string; document: string }>(
      `SELECT receipt_id::text, document FROM supervision_item LIMIT 1`,
    );
    const clear = documents.open(queuedContext(queued!.receipt_id), queued!.document);
    await db.query(`UPDATE supervision_item SET document = $2 WHERE receipt_id = $1`, [
      queued!.receipt_id,
      clear,
    ]);
    const oldArchive = { ...first, content_sm3: "f".repeat(64) };
    await db.query(
      `INSERT INTO archived_receipt (content_sm3, receipt_id, agency_code, bill_code, number, finance_ref, supervised_at,
         document, agency_signature, finance_signature, finance_certificate, archived_at)
       SELECT $1, receipt_id, agency_code, bill_code, number, finance_ref, supervised_at, $2, agency_signature,
         finance_signature, finance_certificate, archived_at FROM archived_receipt WHERE content_sm3 = $3`,
      [oldArchive.content_sm3, clear, first.content_sm3],
    );
    expect(await resealStale(db, documents)).toBe(2);
    expect(await resealStale(db, documents)).toBe(0);
    const [sealedAgain] = await db.query<{ document: string }>(
      `SELECT document FROM supervision_item WHERE receipt_id = $1`,
      [queued!.receipt_id],
    );
    expectSealed(sealedAgain!.document);
    expect(documents.open(queuedContext(queued!.receipt_id), sealedAgain!.document)).toBe(clear);
    const [archivedAgain] = await db.query<{ document: string }>(
      `SELECT document FROM archived_receipt WHERE content_sm3 = $1`,
      [oldArchive.content_sm3],
    );
    expectSealed(archivedAgain!.document);
  });

  it("submits an audit report (审验) of the numbers used and voided, and records finance's answer", async () => {
    const day = cstDay(new Date());
    const res = await h.test.call("POST", "/v1/finance-exchange/audit-reports", {
      agencyCode: AGENCY,
      billCode: BILL,
      periodStart: day,
      periodEnd: day,
    });
    expect(res.status).toBe(202);
    const answered = await waitFor(
      async () => {
        const r = await h.test.call("GET", `/v1/finance-exchange/audit-reports/${res.body.reportId}`);
        return r.body.status !== "SUBMITTED" ? r.body : undefined;
      },
      60_000,
      "the audit answer",
    );
    // The rejected stranger number is reported voided, and finance notes it was never issued here.
    expect(answered.status).toBe("FINDINGS");
    expect((answered.answer as { findings: Array<{ code: string; number: string }> }).findings).toEqual([
      expect.objectContaining({ code: "NOT_ISSUED", number: stranger }),
    ]);
  });
});
