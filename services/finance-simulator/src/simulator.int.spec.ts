import { randomUUID } from "node:crypto";
import {
  Certificate,
  createSignedData,
  DevCa,
  Sm2PrivateKey,
  sm3,
  verifySignedData,
} from "@piaoju/gm-crypto";
import { createTestDatabase, type TestDatabase } from "@piaoju/persistence/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  AuditReportResponse,
  BaseDataResponse,
  Segment,
  StockApplicationResponse,
  SupervisedReceipt,
  SupervisionBatchResponse,
  SupervisionReceipt,
  SupervisionResult,
} from "./api.ts";
import type { AgencyClient } from "./client.ts";
import { type FinanceSimulator, startFinanceSimulator } from "./simulator.ts";

const AGENCY = "110101";
const OTHER = "110102";
const BILL = "11010126";
const SECRET = "agency-110101-secret-for-tests";
const OTHER_SECRET = "agency-110102-secret-for-tests";

interface Signer {
  key: Sm2PrivateKey;
  cert: Certificate;
}

/**
 * The finance simulator over real HTTP on 127.0.0.1 with its own PostgreSQL database: each API
 * rule as a named test. Receipts are signed as an agency's signing device would sign them
 * (detached PKCS#7 SignedData over the document bytes).
 */
describe("finance simulator", () => {
  let database: TestDatabase;
  let sim: FinanceSimulator;
  let agency: AgencyClient;
  let other: AgencyClient;
  let signer: Signer;
  let otherSigner: Signer;
  let segment: Segment;
  let nextNumber: bigint;

  const takeNumber = () => (nextNumber++).toString().padStart(10, "0");
  const documentFor = (number: string, extra = "") =>
    Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?><EInvoice><BillCode>${BILL}</BillCode><Number>${number}</Number>` +
        `<Agency>${AGENCY}</Agency>${extra}</EInvoice>`,
    );
  const sign = (document: Uint8Array, by: Signer = signer) =>
    createSignedData({ content: document, detached: true, signerKey: by.key, signerCert: by.cert }).toString(
      "base64",
    );
  const receipt = (overrides: Partial<SupervisionReceipt> & { documentBytes?: Buffer; by?: Signer } = {}) => {
    const number = overrides.number ?? takeNumber();
    const document = overrides.documentBytes ?? documentFor(number);
    const { documentBytes: _d, by, ...rest } = overrides;
    return {
      receiptId: randomUUID(),
      billCode: BILL,
      number,
      checkCode: "123456",
      kind: "blue" as const,
      totalFen: 12_000,
      issuedAt: new Date().toISOString(),
      document: document.toString("base64"),
      documentSm3: sm3(document).toString("hex"),
      agencySignature: sign(document, by),
      ...rest,
    } satisfies SupervisionReceipt;
  };
  const supervise = async (receipts: SupervisionReceipt[], client = agency) => {
    const reply = await client.post<SupervisionBatchResponse>("/fin/v1/supervision/batches", {
      batchId: `b-${randomUUID()}`,
      receipts,
    });
    expect(reply.status).toBe(200);
    return reply.body.results;
  };
  const one = async (r: SupervisionReceipt, client = agency): Promise<SupervisionResult> => {
    const [result] = await supervise([r], client);
    return result!;
  };
  const chinaToday = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);

  async function newSigner(agencyCode: string): Promise<Signer> {
    const key = Sm2PrivateKey.generate();
    const bound = await sim.admin.issueAgencyCertificate(agencyCode, key.publicKey.toPem());
    return { key, cert: Certificate.fromPem(bound.certificatePem) };
  }

  beforeAll(async () => {
    database = await createTestDatabase({ prefix: "finsim" });
    sim = await startFinanceSimulator({ databaseUrl: database.url });
    for (const [code, secret] of [
      [AGENCY, SECRET],
      [OTHER, OTHER_SECRET],
    ] as const) {
      await sim.admin.registerAgency(code, { name: `出入境管理 ${code}`, secret, regionCode: "110100" });
      await sim.admin.putBaseData(code, {
        billKinds: [{ billCode: BILL, name: "非税收入一般缴款书(电子)" }],
        incomeItems: [
          { itemCode: "103040101", name: "护照工本费", billCode: BILL, unit: "本", standardFen: 12_000 },
        ],
        regions: [{ regionCode: "110101", name: "东城区" }],
      });
    }
    agency = sim.agency(AGENCY, SECRET);
    other = sim.agency(OTHER, OTHER_SECRET);
    signer = await newSigner(AGENCY);
    otherSigner = await newSigner(OTHER);
    const applied = await agency.post<StockApplicationResponse>("/fin/v1/stock-applications", {
      applicationId: "app-1",
      billCode: BILL,
      quantity: 1000,
    });
    segment = applied.body.segments[0]!;
    nextNumber = BigInt(segment.startNumber);
  });
  afterAll(async () => {
    await sim?.close();
    await database?.drop();
  });

  describe("agency authentication", () => {
    it("refuses a request without the signature headers", async () => {
      const res = await fetch(`${sim.url}/fin/v1/base-data`);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe("SIGNATURE_HEADERS");
    });
    it("refuses a request signed with the wrong secret", async () => {
      const reply = await agency.request("GET", "/fin/v1/base-data", undefined, {
        secret: "not-the-agency-secret",
      });
      expect([reply.status, reply.body.code]).toEqual([401, "BAD_SIGNATURE"]);
    });
    it("refuses an agency finance does not know", async () => {
      const reply = await agency.request("GET", "/fin/v1/base-data", undefined, { agencyCode: "999999" });
      expect([reply.status, reply.body.code]).toEqual([401, "UNKNOWN_AGENCY"]);
    });
    it("refuses a stale timestamp", async () => {
      const reply = await agency.request("GET", "/fin/v1/base-data", undefined, {
        timestamp: Date.now() - 3_600_000,
      });
      expect([reply.status, reply.body.code]).toEqual([401, "STALE_REQUEST"]);
    });
    it("refuses a replayed nonce", async () => {
      const nonce = randomUUID().replaceAll("-", "");
      expect((await agency.request("GET", "/fin/v1/base-data", undefined, { nonce })).status).toBe(200);
      const replay = await agency.request("GET", "/fin/v1/base-data", undefined, { nonce });
      expect([replay.status, replay.body.code]).toEqual([401, "NONCE_REUSED"]);
    });
    it("refuses admin calls without the admin token", async () => {
      const res = await fetch(`${sim.adminUrl}/admin/v1/stats`, {
        headers: { authorization: "Bearer wrong-token-xxxxxxxx" },
      });
      expect(res.status).toBe(401);
    });
  });

  describe("base data", () => {
    it("serves the agency, bill kinds, income items and regions with a version", async () => {
      const { status, body } = await agency.get<BaseDataResponse>("/fin/v1/base-data");
      expect(status).toBe(200);
      expect(body.agency).toMatchObject({ agencyCode: AGENCY, regionCode: "110100" });
      expect(body.billKinds.map((k) => k.billCode)).toEqual([BILL]);
      expect(body.incomeItems).toMatchObject([
        { itemCode: "103040101", billCode: BILL, standardFen: 12_000 },
      ]);
      expect(body.regions).toMatchObject([{ regionCode: "110101" }]);
      expect(body.version).toBeGreaterThan(0);
    });
    it("since=<version> returns only what changed after it", async () => {
      const first = (await agency.get<BaseDataResponse>("/fin/v1/base-data")).body;
      const unchanged = (await agency.get<BaseDataResponse>(`/fin/v1/base-data?since=${first.version}`)).body;
      expect(unchanged).toMatchObject({
        version: first.version,
        agency: null,
        billKinds: [],
        incomeItems: [],
        regions: [],
      });
      await sim.admin.putBaseData(AGENCY, {
        incomeItems: [{ itemCode: "103040102", name: "往来港澳通行证工本费" }],
      });
      const changed = (await agency.get<BaseDataResponse>(`/fin/v1/base-data?since=${first.version}`)).body;
      expect(changed.incomeItems.map((i) => i.itemCode)).toEqual(["103040102"]);
      expect(changed.billKinds).toEqual([]);
      expect(changed.version).toBeGreaterThan(first.version);
    });
    it("an agency sees only its own base data", async () => {
      const { body } = await other.get<BaseDataResponse>("/fin/v1/base-data");
      expect(body.agencyCode).toBe(OTHER);
      expect(body.incomeItems.map((i) => i.itemCode)).not.toContain("103040102");
    });
  });

  describe("stock applications and segments", () => {
    it("auto-approval issues a segment of the quantity applied for", async () => {
      expect(segment).toMatchObject({ agencyCode: AGENCY, billCode: BILL, applicationId: "app-1" });
      expect(BigInt(segment.endNumber) - BigInt(segment.startNumber) + 1n).toBe(1000n);
    });
    it("the same application again returns it unchanged (idempotent by applicationId)", async () => {
      const again = await agency.post<StockApplicationResponse>("/fin/v1/stock-applications", {
        applicationId: "app-1",
        billCode: BILL,
        quantity: 1000,
      });
      expect(again.status).toBe(200);
      expect(again.body.segments).toEqual([segment]);
    });
    it("the same applicationId with another quantity is refused", async () => {
      const reply = await agency.post("/fin/v1/stock-applications", {
        applicationId: "app-1",
        billCode: BILL,
        quantity: 5,
      });
      expect([reply.status, reply.body.code]).toEqual([409, "APPLICATION_CONFLICT"]);
    });
    it("a bill code outside the agency's base data is refused", async () => {
      const reply = await agency.post("/fin/v1/stock-applications", {
        applicationId: "app-x",
        billCode: "99999999",
        quantity: 5,
      });
      expect([reply.status, reply.body.code]).toEqual([400, "UNKNOWN_BILL_KIND"]);
    });
    it("segments of one bill code never overlap, across agencies and applications", async () => {
      const issued: Segment[] = [segment];
      for (const [client, id] of [
        [other, "o-1"],
        [agency, "app-2"],
        [other, "o-2"],
      ] as const) {
        const reply = await client.post<StockApplicationResponse>("/fin/v1/stock-applications", {
          applicationId: id,
          billCode: BILL,
          quantity: 50,
        });
        expect(reply.status).toBe(201);
        issued.push(reply.body.segments[0]!);
      }
      const sorted = [...issued].sort((a, b) => (a.startNumber < b.startNumber ? -1 : 1));
      for (let i = 1; i < sorted.length; i++)
        expect(sorted[i]!.startNumber > sorted[i - 1]!.endNumber).toBe(true);
    });
    it("concurrent applications from two agencies get disjoint segments", async () => {
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? other : agency).post<StockApplicationResponse>("/fin/v1/stock-applications", {
            applicationId: `race-${i}`,
            billCode: BILL,
            quantity: 7,
          }),
        ),
      );
      const ranges = replies
        .map((r) => r.body.segments[0]!)
        .map((s) => [BigInt(s.startNumber), BigInt(s.endNumber)] as const)
        .sort((a, b) => (a[0] < b[0] ? -1 : 1));
      expect(ranges).toHaveLength(10);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0] > ranges[i - 1]![1]).toBe(true);
    });
    it("without auto-approval an application waits, then an admin approves or rejects it", async () => {
      await sim.admin.setAutoApprove(false);
      try {
        const pending = await agency.post<StockApplicationResponse>("/fin/v1/stock-applications", {
          applicationId: "app-manual",
          billCode: BILL,
          quantity: 20,
        });
        expect(pending.body).toMatchObject({ status: "PENDING", segments: [] });
        const listed = await sim.admin.listApplications("PENDING");
        expect(listed.items.map((a) => a.financeRef)).toContain(pending.body.financeRef);
        await sim.admin.approve(pending.body.financeRef, 10);
        const approved = await agency.get<StockApplicationResponse>("/fin/v1/stock-applications/app-manual");
        expect(approved.body.status).toBe("APPROVED");
        expect(
          BigInt(approved.body.segments[0]!.endNumber) - BigInt(approved.body.segments[0]!.startNumber),
        ).toBe(9n);
        await expect(sim.admin.approve(pending.body.financeRef)).rejects.toThrow(/409/);

        const refused = await agency.post<StockApplicationResponse>("/fin/v1/stock-applications", {
          applicationId: "app-refused",
          billCode: BILL,
          quantity: 20,
        });
        await sim.admin.reject(refused.body.financeRef, "用票量超出核定额度");
        const read = await agency.get<StockApplicationResponse>("/fin/v1/stock-applications/app-refused");
        expect(read.body).toMatchObject({
          status: "REJECTED",
          decisionReason: "用票量超出核定额度",
          segments: [],
        });
      } finally {
        await sim.admin.setAutoApprove(true);
      }
    });
    it("GET /fin/v1/segments lists the agency's segments in issue order after a seq", async () => {
      const all = (await agency.get<{ items: Segment[]; lastSeq: number }>("/fin/v1/segments")).body;
      expect(all.items.every((s) => s.agencyCode === AGENCY)).toBe(true);
      expect(all.items[0]).toEqual(segment);
      const rest = (await agency.get<{ items: Segment[] }>(`/fin/v1/segments?since=${all.items[0]!.seq}`))
        .body;
      expect(rest.items).toEqual(all.items.slice(1));
    });
  });

  describe("supervision (监制)", () => {
    it("supervises a properly signed receipt with a finance signature over the same document", async () => {
      const r = receipt();
      const result = await one(r);
      expect(result).toMatchObject({ status: "SUPERVISED", receiptId: r.receiptId, number: r.number });
      if (result.status !== "SUPERVISED") throw new Error("not supervised");
      const check = verifySignedData(Buffer.from(result.financeSignature, "base64"), {
        content: Buffer.from(r.document, "base64"),
        trusted: [sim.ca.certificate],
      });
      expect(check.valid).toBe(true);
      expect(check.signer?.fingerprintSm3()).toBe(sim.financeCertificate.fingerprintSm3());
      expect(result.financeCertificateSm3).toBe(sim.financeCertificate.fingerprintSm3());
    });
    it("a resubmitted receipt gets the same result (idempotent by receiptId)", async () => {
      const r = receipt();
      const first = await one(r);
      const again = await one(r);
      expect(again).toEqual(first);
    });
    it("the same receiptId with a different document is rejected as a duplicate number, the stored result unchanged", async () => {
      const r = receipt();
      const first = await one(r);
      const altered = documentFor(r.number, "<Remark>changed</Remark>");
      const second = await one({
        ...r,
        document: altered.toString("base64"),
        documentSm3: sm3(altered).toString("hex"),
        agencySignature: sign(altered),
      });
      expect(second).toMatchObject({ status: "REJECTED", code: "DUPLICATE_NUMBER" });
      expect(await one(r)).toEqual(first);
    });
    it("rejects a number already supervised for another receipt", async () => {
      const r = receipt();
      await one(r);
      const reused = receipt({
        number: r.number,
        documentBytes: documentFor(r.number, "<Payer>other</Payer>"),
      });
      expect(await one(reused)).toMatchObject({ status: "REJECTED", code: "DUPLICATE_NUMBER" });
    });
    it("rejects a signature that does not verify over the document", async () => {
      const number = takeNumber();
      const signedOther = sign(documentFor(number, "<Amount>1</Amount>"));
      expect(await one(receipt({ number, agencySignature: signedOther }))).toMatchObject({
        status: "REJECTED",
        code: "BAD_AGENCY_SIGNATURE",
      });
    });
    it("rejects bytes that are not a PKCS#7 SignedData", async () => {
      expect(
        await one(receipt({ agencySignature: Buffer.from("not pkcs7").toString("base64") })),
      ).toMatchObject({
        code: "BAD_SIGNATURE_FORMAT",
      });
    });
    it("rejects a certificate from a CA finance does not trust", async () => {
      const rogueCa = await DevCa.create({ name: "Rogue CA" });
      const key = Sm2PrivateKey.generate();
      const cert = rogueCa.issue({
        subject: { commonName: "agency", organizationalUnit: AGENCY },
        publicKey: key.publicKey,
        usage: "sign",
      });
      expect(await one(receipt({ by: { key, cert } }))).toMatchObject({
        status: "REJECTED",
        code: "CERTIFICATE_UNTRUSTED",
      });
    });
    it("rejects another agency's certificate (wrong certificate binding)", async () => {
      expect(await one(receipt({ by: otherSigner }))).toMatchObject({
        status: "REJECTED",
        code: "CERTIFICATE_NOT_AGENCY",
      });
    });
    it("accepts a trusted certificate whose subject OU is the agency code, without an explicit binding", async () => {
      const key = Sm2PrivateKey.generate();
      const cert = sim.ca.issue({
        subject: { commonName: "device 2", organizationalUnit: AGENCY },
        publicKey: key.publicKey,
        usage: "sign",
      });
      expect(await one(receipt({ by: { key, cert } }))).toMatchObject({ status: "SUPERVISED" });
    });
    it("rejects a document whose number, check code or total differ from the declared receipt", async () => {
      const number = takeNumber();
      const standard = (declaredNumber: string) =>
        Buffer.from(
          `<EInvoice><Header/><EInvoiceData><EInvoiceCode>${BILL}</EInvoiceCode><EInvoiceNumber>${declaredNumber}</EInvoiceNumber>` +
            `<RandomNumber>123456</RandomNumber><TotalAmount>120.00</TotalAmount>` +
            `<InvoicingParty><InvoicingPartyCode>${AGENCY}</InvoicingPartyCode></InvoicingParty></EInvoiceData></EInvoice>`,
        );
      expect(await one(receipt({ number, documentBytes: standard("0000000001") }))).toMatchObject({
        status: "REJECTED",
        code: "DOCUMENT_MISMATCH",
      });
      expect(
        await one(receipt({ number: takeNumber(), documentBytes: standard(number), totalFen: 12_000 })),
      ).toMatchObject({
        code: "DOCUMENT_MISMATCH",
      });
      const fine = takeNumber();
      expect(await one(receipt({ number: fine, documentBytes: standard(fine) }))).toMatchObject({
        status: "SUPERVISED",
      });
    });
    it("rejects a bill code that is not one of the agency's enabled bill kinds", async () => {
      expect(await one(receipt({ billCode: "11010127" }))).toMatchObject({
        status: "REJECTED",
        code: "UNKNOWN_BILL_KIND",
      });
    });
    it("rejects receipts signed with a certificate after the admin revoked it", async () => {
      const rotated = await newSigner(AGENCY);
      expect(await one(receipt({ by: rotated }))).toMatchObject({ status: "SUPERVISED" });
      await sim.admin.revokeCertificate(AGENCY, rotated.cert.fingerprintSm3());
      expect(await one(receipt({ by: rotated }))).toMatchObject({
        status: "REJECTED",
        code: "CERTIFICATE_REVOKED",
      });
      await expect(sim.admin.bindCertificate(AGENCY, rotated.cert.toPem())).rejects.toThrow(/409/);
      expect(await one(receipt())).toMatchObject({ status: "SUPERVISED" });
    });
    it("rejects a number not in the agency's issued stock", async () => {
      expect(await one(receipt({ number: "9999999990" }))).toMatchObject({
        status: "REJECTED",
        code: "NUMBER_NOT_ISSUED",
      });
    });
    it("rejects a number issued to another agency", async () => {
      const others = (await other.get<{ items: Segment[] }>("/fin/v1/segments")).body.items;
      const foreign = others[0]!.startNumber;
      expect(await one(receipt({ number: foreign }))).toMatchObject({
        status: "REJECTED",
        code: "NUMBER_NOT_ISSUED",
      });
    });
    it("rejects a damaged document (documentSm3 mismatch) without storing anything", async () => {
      const r = receipt();
      const damaged = await one({ ...r, documentSm3: "0".repeat(64) });
      expect(damaged).toMatchObject({ status: "REJECTED", code: "BAD_DOCUMENT_DIGEST" });
      expect(await one(r)).toMatchObject({ status: "SUPERVISED" });
    });
    it("a red receipt red-flushes its original once", async () => {
      const blue = receipt();
      await one(blue);
      const red = receipt({ kind: "red", totalFen: -12_000, originalReceiptId: blue.receiptId });
      expect(await one(red)).toMatchObject({ status: "SUPERVISED" });
      const again = receipt({ kind: "red", totalFen: -12_000, originalReceiptId: blue.receiptId });
      expect(await one(again)).toMatchObject({ status: "REJECTED", code: "ALREADY_RED_FLUSHED" });
      const verified = await fetch(
        `${sim.url}/fin/v1/public/verify?billCode=${BILL}&number=${blue.number}&checkCode=${blue.checkCode}`,
      );
      expect(await verified.json()).toMatchObject({ status: "RED_FLUSHED", redFlushed: true });
    });
    it("rejects a red receipt without a supervised original, and amounts of the wrong sign", async () => {
      expect(
        await one(receipt({ kind: "red", totalFen: -1, originalReceiptId: randomUUID() })),
      ).toMatchObject({
        code: "ORIGINAL_NOT_FOUND",
      });
      expect(await one(receipt({ totalFen: -5 }))).toMatchObject({ code: "BAD_AMOUNT" });
    });
    it("the signature checks and finance signatures ran on the crypto worker threads", async () => {
      expect((await sim.admin.stats()).crypto).toEqual({ workers: 2, inlineFallbacks: 0 });
    });
    it("a batch answers one result per receipt, in request order", async () => {
      const batch = [receipt(), receipt({ number: "9999999991" }), receipt()];
      const results = await supervise(batch);
      expect(results.map((r) => [r.receiptId, r.status])).toEqual([
        [batch[0]!.receiptId, "SUPERVISED"],
        [batch[1]!.receiptId, "REJECTED"],
        [batch[2]!.receiptId, "SUPERVISED"],
      ]);
    });
    it("refuses a malformed batch as a whole, naming the field", async () => {
      const reply = await agency.post("/fin/v1/supervision/batches", {
        batchId: "b",
        receipts: [{ ...receipt(), number: "12" }],
      });
      expect(reply.status).toBe(400);
      expect(JSON.stringify(reply.body)).toContain("body.receipts.0.number");
    });
  });

  describe("download, verification, status and audit", () => {
    it("serves supervised receipts of a day page by page, each once, only the agency's own", async () => {
      const batch = [receipt(), receipt(), receipt(), receipt(), receipt()];
      await supervise(batch);
      await one(
        {
          ...receipt({ by: otherSigner }),
          number: (await other.get<{ items: Segment[] }>("/fin/v1/segments")).body.items[0]!.startNumber,
        },
        other,
      );
      const seen: SupervisedReceipt[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const path: string = `/fin/v1/supervised-receipts?date=${chinaToday()}&limit=3${cursor ? `&cursor=${cursor}` : ""}`;
        const page = await agency.get<{ items: SupervisedReceipt[]; nextCursor: string | null }>(path);
        expect(page.status).toBe(200);
        seen.push(...page.body.items);
        cursor = page.body.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBeGreaterThan(1);
      expect(new Set(seen.map((r) => r.receiptId)).size).toBe(seen.length);
      expect(seen.every((r) => r.agencyCode === AGENCY)).toBe(true);
      for (const r of batch) expect(seen.map((s) => s.receiptId)).toContain(r.receiptId);
      const sample = seen.find((s) => s.receiptId === batch[0]!.receiptId)!;
      expect(sample.document).toBe(batch[0]!.document);
      expect(
        verifySignedData(Buffer.from(sample.financeSignature, "base64"), {
          content: Buffer.from(sample.document, "base64"),
        }).valid,
      ).toBe(true);
      const byIssue = await agency.get<{ items: SupervisedReceipt[] }>(
        `/fin/v1/supervised-receipts?date=${chinaToday()}&by=issuedAt&limit=500`,
      );
      expect(byIssue.body.items.length).toBe(seen.length);
      const yesterday = await agency.get<{ items: unknown[] }>("/fin/v1/supervised-receipts?date=2020-01-01");
      expect(yesterday.body.items).toEqual([]);
    });
    it("refuses a cursor it did not give", async () => {
      const reply = await agency.get(`/fin/v1/supervised-receipts?date=${chinaToday()}&cursor=garbage`);
      expect([reply.status, reply.body.code]).toEqual([400, "BAD_CURSOR"]);
    });
    it("verifies a receipt for a payer by bill code, number and check code", async () => {
      const r = receipt({ checkCode: "654321" });
      await one(r);
      const ok = await fetch(
        `${sim.url}/fin/v1/public/verify?billCode=${BILL}&number=${r.number}&checkCode=654321`,
      );
      expect(await ok.json()).toMatchObject({
        status: "VALID",
        agencyCode: AGENCY,
        totalFen: 12_000,
        redFlushed: false,
        exchanged: false,
        booked: false,
      });
      const wrong = await fetch(
        `${sim.url}/fin/v1/public/verify?billCode=${BILL}&number=${r.number}&checkCode=000000`,
      );
      expect(wrong.status).toBe(404);
    });
    it("status updates: exchange and void are applied idempotently; a booked receipt cannot be red-flushed", async () => {
      const exchanged = receipt();
      const booked = receipt();
      await supervise([exchanged, booked]);
      await sim.admin.setBooked(BILL, booked.number);
      const update = (number: string, status: string, updateId: string = randomUUID()) => ({
        updateId,
        billCode: BILL,
        number,
        status,
        at: new Date().toISOString(),
      });
      const first = await agency.post<{ results: Array<Record<string, unknown>> }>("/fin/v1/receipt-status", {
        updates: [
          update(exchanged.number, "EXCHANGED", "u-1"),
          update(exchanged.number, "EXCHANGED", "u-1"),
          update(booked.number, "RED_FLUSHED"),
          update(exchanged.number, "RED_FLUSHED"),
          update("9999999995", "VOIDED"),
        ],
      });
      expect(first.body.results.map((r) => [r.outcome, r.code])).toEqual([
        ["APPLIED", null],
        ["APPLIED", null],
        ["REFUSED", "BOOKED"],
        ["REFUSED", "CONFLICT"],
        ["REFUSED", "NOT_FOUND"],
      ]);
      const verify = await fetch(
        `${sim.url}/fin/v1/public/verify?billCode=${BILL}&number=${exchanged.number}&checkCode=${exchanged.checkCode}`,
      );
      expect(await verify.json()).toMatchObject({ status: "EXCHANGED", exchanged: true });
      const voided = await agency.post<{ results: Array<Record<string, unknown>> }>(
        "/fin/v1/receipt-status",
        {
          updates: [update(booked.number, "VOIDED")],
        },
      );
      expect(voided.body.results[0]).toMatchObject({
        outcome: "APPLIED",
        state: { voided: true, booked: true },
      });
    });
    it("an audit report (审验) that matches finance's records passes; planted errors are found", async () => {
      const fresh = await agency.post<StockApplicationResponse>("/fin/v1/stock-applications", {
        applicationId: "audit-stock",
        billCode: BILL,
        quantity: 10,
      });
      const seg = fresh.body.segments[0]!;
      const n = (i: number) => (BigInt(seg.startNumber) + BigInt(i)).toString().padStart(10, "0");
      // Supervise 0..3 of this segment; void 3 through a status update.
      await supervise([0, 1, 2, 3].map((i) => receipt({ number: n(i) })));
      await agency.post("/fin/v1/receipt-status", {
        updates: [
          {
            updateId: "audit-void",
            billCode: BILL,
            number: n(3),
            status: "VOIDED",
            at: new Date().toISOString(),
          },
        ],
      });
      const today = chinaToday();
      // Everything else supervised today must be reported too, so the clean report uses the whole day's numbers.
      const day = (
        await agency.get<{ items: SupervisedReceipt[] }>(
          `/fin/v1/supervised-receipts?date=${today}&by=issuedAt&limit=500`,
        )
      ).body.items.filter((r) => r.billCode === BILL);
      const voidedNumbers = new Set(day.filter((r) => r.state.voided).map((r) => r.number));
      const usedRanges = day
        .filter((r) => !voidedNumbers.has(r.number))
        .map((r) => ({ startNumber: r.number, endNumber: r.number }));
      const voidedRanges = [...voidedNumbers].map((x) => ({ startNumber: x, endNumber: x }));
      const clean = {
        reportId: "audit-clean",
        billCode: BILL,
        periodStart: today,
        periodEnd: today,
        used: usedRanges,
        voided: voidedRanges,
        destroyed: [{ startNumber: n(8), endNumber: n(9) }],
      };
      const passed = await agency.post<AuditReportResponse>("/fin/v1/audit-reports", clean);
      expect(passed.status).toBe(201);
      expect(passed.body).toMatchObject({ result: "PASSED", findingCount: 0 });
      const repeat = await agency.post<AuditReportResponse>("/fin/v1/audit-reports", clean);
      expect([repeat.status, repeat.body]).toEqual([200, passed.body]);
      const changed = await agency.post("/fin/v1/audit-reports", { ...clean, destroyed: [] });
      expect([changed.status, changed.body.code]).toEqual([409, "REPORT_CONFLICT"]);

      const planted = await agency.post<AuditReportResponse>("/fin/v1/audit-reports", {
        ...clean,
        reportId: "audit-planted",
        used: [
          ...usedRanges.filter((r) => r.startNumber !== n(1)),
          { startNumber: n(5), endNumber: n(5) },
          { startNumber: "9999999999", endNumber: "9999999999" },
        ],
        destroyed: [{ startNumber: n(0), endNumber: n(0) }],
      });
      expect(planted.body.result).toBe("FINDINGS");
      const codes = planted.body.findings.map((f) => `${f.code}:${f.number}`).sort();
      expect(codes).toEqual(
        [
          `DOUBLE_REPORTED:${n(0)}`,
          `NOT_SUPERVISED:${n(5)}`,
          "NOT_ISSUED:9999999999",
          `UNREPORTED:${n(1)}`,
        ].sort(),
      );
      const read = await agency.get<AuditReportResponse>("/fin/v1/audit-reports/audit-planted");
      expect(read.body).toEqual(planted.body);
    });
  });

  describe("faults", () => {
    afterAll(async () => {
      await sim.clearFaults();
    });

    it("errorRate 1: every agency call fails 500 and nothing is stored; admin and health are untouched", async () => {
      await sim.setFaults({ errorRate: 1 });
      const r = receipt();
      const reply = await agency.post("/fin/v1/supervision/batches", { batchId: "f1", receipts: [r] });
      expect([reply.status, reply.body.code]).toEqual([500, "FAULT_INJECTED"]);
      expect((await fetch(`${sim.url}/healthz`)).status).toBe(200);
      await sim.clearFaults();
      expect(await one(r)).toMatchObject({ status: "SUPERVISED" });
      expect(await one(r)).toMatchObject({ status: "SUPERVISED" });
    });
    it("down=unavailable answers 503 FINANCE_DOWN until lifted", async () => {
      await sim.setFaults({ down: "unavailable" });
      const reply = await agency.get("/fin/v1/base-data");
      expect([reply.status, reply.body.code]).toEqual([503, "FINANCE_DOWN"]);
      await sim.clearFaults();
      expect((await agency.get("/fin/v1/base-data")).status).toBe(200);
    });
    it("down=refused closes the agency port (connection refused) while the admin API still answers", async () => {
      await sim.admin.setFaults({ down: "refused" });
      const refused = await fetch(`${sim.url}/fin/v1/base-data`).then(
        () => "connected",
        (error: Error & { cause?: { code?: string } }) => error.cause?.code,
      );
      expect(refused).toBe("ECONNREFUSED");
      expect((await sim.admin.stats()).supervised).toBeGreaterThan(0);
      await sim.admin.clearFaults();
      expect((await agency.get("/fin/v1/base-data")).status).toBe(200);
    });
    it("lostReplyRate 1: the batch is processed but the reply is lost; the resubmission gets the stored result", async () => {
      const before = (await sim.admin.stats()).resubmissions;
      await sim.setFaults({ lostReplyRate: 1 });
      const r = receipt();
      const lost = await agency.post("/fin/v1/supervision/batches", { batchId: "lost", receipts: [r] });
      expect([lost.status, lost.body.code]).toEqual([503, "REPLY_LOST"]);
      await sim.clearFaults();
      expect(await one(r)).toMatchObject({ status: "SUPERVISED", receiptId: r.receiptId });
      expect((await sim.admin.stats()).resubmissions).toBe(before + 1);
    });
    it("duplicateReplies lists every result twice; reorderReplies shuffles them", async () => {
      const batch = Array.from({ length: 20 }, () => receipt());
      const first = await supervise(batch);
      await sim.setFaults({ duplicateReplies: true });
      const doubled = await supervise(batch);
      expect(doubled).toEqual(first.flatMap((r) => [r, r]));
      await sim.setFaults({ reorderReplies: true });
      const shuffled = await supervise(batch);
      expect(shuffled.map((r) => r.receiptId)).not.toEqual(first.map((r) => r.receiptId));
      expect([...shuffled].sort((a, b) => a.receiptId.localeCompare(b.receiptId))).toEqual(
        [...first].sort((a, b) => a.receiptId.localeCompare(b.receiptId)),
      );
    });
    it("latency: calls still answer while the added latency is in force", async () => {
      const set = await sim.setFaults({ latencyMs: 50, jitterMs: 20 });
      expect(set).toMatchObject({ latencyMs: 50, jitterMs: 20, down: "no" });
      expect((await agency.get("/fin/v1/base-data")).status).toBe(200);
    });
  });
});
