import { randomBytes, randomUUID } from "node:crypto";
import { businessClient } from "@piaoju/business-client";
import { createEnvelope, type Envelope, ReceiptSigned, ReceiptSupervised, topics } from "@piaoju/contracts";
import { gatewayService } from "@piaoju/gateway";
import { issuanceService } from "@piaoju/issuance";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { stockService } from "@piaoju/stock";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { prepareAgency } from "../support/agency.ts";

const AGENCY = "110102";
const BILL = "11010126";

type Body = Record<string, unknown>;

/**
 * A receipt's life on the business API, across stock, issuance and the gateway on PostgreSQL
 * and Kafka: a business system issues, red-flushes, records a paper exchange and polls the
 * status with signed requests; the signing gateway's and finance's answers are published onto
 * the bus as those services would.
 */
describe("receipt lifecycle on the business API (cluster)", () => {
  let t: TestPlatform;
  let app: { appId: string; appSecret: string };
  let serial = 0;

  beforeAll(async () => {
    t = await startTestPlatform({
      mode: "cluster",
      services: [stockService, issuanceService, gatewayService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_CHECK_CODE_KEY: randomBytes(16).toString("hex"),
      },
    });
    app = await prepareAgency(t, {
      agency: AGENCY,
      bill: BILL,
      startNumber: "0000200001",
      endNumber: "0000201000",
      points: ["WIN-01", "WIN-02"].map((code) => ({ code, rule: { threshold: 20, batchSize: 50 } })),
      appPoints: ["WIN-01"],
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const signed: ReturnType<typeof businessClient> = (...args) =>
    businessClient({ baseUrl: t.platform.url, ...app })(...args);
  const waitFor = async (done: () => Promise<boolean>) => {
    const deadline = Date.now() + 30_000;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error("timed out");
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const status = async (id: string) => (await signed("GET", `/api/v1/receipts/${id}/status`)).body;
  /** The status as the agency's people see it (an app sees its own issuing points' receipts only). */
  const statusInside = async (id: string) => (await t.call("GET", `/v1/receipts/${id}/status`)).body;
  const waitStatus = (id: string, s: string) => waitFor(async () => (await statusInside(id)).status === s);

  const publish = (topic: string, envelope: Envelope) => t.probe.publish([{ topic, envelope }]);
  /** Plays the signing gateway, then finance, for a receipt. */
  const signAndSupervise = async (r: Body) => {
    await publish(
      topics.signing,
      createEnvelope(
        ReceiptSigned,
        {
          receiptId: String(r.id),
          agencyCode: AGENCY,
          documentSm3: String(r.documentSm3),
          signature: randomBytes(96).toString("base64"),
          certificateSm3: "a".repeat(64),
          keyId: "agency-110102",
          signedAt: new Date().toISOString(),
        },
        { producer: "signing" },
      ),
    );
    await waitStatus(String(r.id), "AGENCY_SIGNED");
    await publish(
      topics.finance,
      createEnvelope(
        ReceiptSupervised,
        {
          receiptId: String(r.id),
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
    await waitStatus(String(r.id), "ISSUED");
  };
  const issueBody = () => ({
    issuingPointCode: "WIN-01",
    billCode: BILL,
    bizSerialNo: `CRJ-LC-${++serial}`,
    payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
    items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
    totalFen: 12000,
    payMode: "wechat",
    handlingPerson: "window-01",
  });
  const issued = async () => {
    const res = await signed("POST", "/api/v1/receipts", issueBody());
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await signAndSupervise(res.body);
    return res.body;
  };
  const nextNumbers = async () =>
    JSON.stringify((await t.call("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`)).body.items);

  it("takes a receipt issued on the business API through signing and supervision, and its status says so", async () => {
    const res = await signed("POST", "/api/v1/receipts", issueBody());
    const id = String(res.body.id);
    expect(await status(id)).toMatchObject({ status: "REQUESTED", agencySigned: false, supervised: false });
    await signAndSupervise(res.body);
    expect(await status(id)).toEqual({
      id,
      billCode: BILL,
      number: res.body.number,
      kind: "blue",
      status: "ISSUED",
      agencySigned: true,
      supervised: true,
      allowedCommands: ["redFlush", "exchangeForPaper", "book"],
    });
    const full = await signed("GET", `/api/v1/receipts/${id}`);
    expect(full.body).toMatchObject({
      agencySignature: { keyId: "agency-110102" },
      financeSignature: { financeRef: `FIN-${String(res.body.number)}` },
    });
  });

  it("red-flushes a receipt on the business API end to end (the original becomes RED_FLUSHED); a retry returns the same red receipt", async () => {
    const original = await issued();
    const request = { reason: "退费：业务撤销", handlingPerson: "window-01" };
    const first = await signed("POST", `/api/v1/receipts/${String(original.id)}/red-flush`, request);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({
      kind: "red",
      status: "REQUESTED",
      originalReceiptId: original.id,
      totalFen: -12000,
    });
    const retry = await signed("POST", `/api/v1/receipts/${String(original.id)}/red-flush`, request);
    expect(retry).toMatchObject({ status: 200, body: { id: first.body.id } });
    await signAndSupervise(first.body);
    await waitStatus(String(original.id), "RED_FLUSHED");
    expect(await status(String(first.body.id))).toMatchObject({
      kind: "red",
      status: "ISSUED",
      originalReceiptId: original.id,
    });
    const again = await signed("POST", `/api/v1/receipts/${String(original.id)}/red-flush`, {
      ...request,
      reason: "再次冲红",
    });
    expect(again).toMatchObject({ status: 409, body: { code: "ALREADY_RED_FLUSHED" } });
  });

  it("records a paper exchange on the business API, and then refuses red-flush: the paper process applies", async () => {
    const r = await issued();
    const ex = await signed("POST", `/api/v1/receipts/${String(r.id)}/paper-exchange`, {
      paperBillCode: "11010201",
      paperNumber: "0000000001",
    });
    expect(ex.status, JSON.stringify(ex.body)).toBe(200);
    expect(ex.body).toMatchObject({
      status: "PAPER_EXCHANGED",
      paper: { billCode: "11010201", number: "0000000001" },
    });
    const flush = await signed("POST", `/api/v1/receipts/${String(r.id)}/red-flush`, {
      reason: "退费",
      handlingPerson: "window-01",
    });
    expect(flush).toMatchObject({ status: 409, body: { code: "PAPER_EXCHANGED" } });
    expect(String(flush.body.detail)).toContain("paper");
  });

  it("refuses red-flush of a booked receipt (入账) on the business API", async () => {
    const r = await issued();
    expect(
      (await signed("POST", `/api/v1/receipts/${String(r.id)}/book`, { bookedBy: "某某公司" })).body.status,
    ).toBe("BOOKED");
    expect(
      await signed("POST", `/api/v1/receipts/${String(r.id)}/red-flush`, {
        reason: "退费",
        handlingPerson: "w",
      }),
    ).toMatchObject({ status: 409, body: { code: "BOOKED" } });
  });

  it("refuses bad input on every field of red-flush and paper exchange with 400 naming it, and changes nothing", async () => {
    const r = await issued();
    const id = String(r.id);
    const cases: Array<[string, unknown, string]> = [
      ["red-flush", { handlingPerson: "w" }, "body.reason"],
      ["red-flush", { reason: "", handlingPerson: "w" }, "body.reason"],
      ["red-flush", { reason: "x".repeat(501), handlingPerson: "w" }, "body.reason"],
      ["red-flush", { reason: 7, handlingPerson: "w" }, "body.reason"],
      ["red-flush", { reason: "退费" }, "body.handlingPerson"],
      ["red-flush", { reason: "退费", handlingPerson: "w".repeat(65) }, "body.handlingPerson"],
      ["red-flush", { reason: "退费", handlingPerson: "w", amountFen: -1 }, "body"],
      ["paper-exchange", { paperNumber: "0000000002" }, "body.paperBillCode"],
      ["paper-exchange", { paperBillCode: "1101020", paperNumber: "0000000002" }, "body.paperBillCode"],
      ["paper-exchange", { paperBillCode: "11010201" }, "body.paperNumber"],
      ["paper-exchange", { paperBillCode: "11010201", paperNumber: "00000000AB" }, "body.paperNumber"],
      ["paper-exchange", { paperBillCode: "11010201", paperNumber: 2 }, "body.paperNumber"],
    ];
    const numbersBefore = await nextNumbers();
    for (const [action, body, field] of cases) {
      const res = await signed("POST", `/api/v1/receipts/${id}/${action}`, body);
      expect(res.status, `${action} ${JSON.stringify(body)}`).toBe(400);
      const fields = (res.body.issues as Array<{ field: string }>).map((i) => i.field);
      expect(
        fields.some((f) => f === field || f.startsWith(`${field}`)),
        `${action}: ${fields}`,
      ).toBe(true);
    }
    const badId = await signed("POST", "/api/v1/receipts/42/red-flush", {
      reason: "退费",
      handlingPerson: "w",
    });
    expect(badId.status).toBe(400);
    expect(JSON.stringify(badId.body.issues)).toContain("params.id");
    const unknown = await signed("GET", `/api/v1/receipts/${randomUUID()}/status`);
    expect(unknown).toMatchObject({ status: 404, body: { code: "RECEIPT_UNKNOWN" } });
    expect(await status(id)).toMatchObject({ status: "ISSUED" });
    expect(await nextNumbers()).toBe(numbersBefore);
  });

  it("keeps an app to the receipts of its own issuing points", async () => {
    const elsewhere = await t.call("POST", "/v1/receipts", {
      ...issueBody(),
      agencyCode: AGENCY,
      issuingPointCode: "WIN-02",
    });
    expect(elsewhere.status).toBe(201);
    await signAndSupervise(elsewhere.body);
    const id = String(elsewhere.body.id);
    for (const [action, body] of [
      ["red-flush", { reason: "退费", handlingPerson: "w" }],
      ["paper-exchange", { paperBillCode: "11010201", paperNumber: "0000000009" }],
    ] as const) {
      // The receipt service itself refuses it: the app's assertion reaches WIN-01 only.
      expect(await signed("POST", `/api/v1/receipts/${id}/${action}`, body)).toMatchObject({
        status: 403,
        body: { code: "OUT_OF_SCOPE" },
      });
    }
    expect(await statusInside(id)).toMatchObject({ status: "ISSUED" });
    // Reads are bound to the app's points as writes are (issue 9 class 6).
    expect(await signed("GET", `/api/v1/receipts/${id}/status`)).toMatchObject({
      status: 403,
      body: { code: "OUT_OF_SCOPE" },
    });
    expect((await signed("GET", `/api/v1/receipts/${id}`)).status).toBe(403);
  });

  it("counts a voided receipt's number as voided in stock's ledger (领用存), not used, and a red receipt's as used", async () => {
    const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
    const ledger = async () =>
      (
        await t.call(
          "GET",
          `/v1/stock/ledger?agencyCode=${AGENCY}&billCode=${BILL}&issuingPointCode=WIN-01&from=${today}&to=${today}`,
        )
      ).body as { used: number; voided: number; closing: number };
    const requestedCount = async () =>
      (await t.call("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}&issuingPointCode=WIN-01`)).body
        .items as Array<{ startNumber: string; nextNumber: string }>;
    const taken = async () =>
      (await requestedCount()).reduce((n, r) => n + Number(r.nextNumber) - Number(r.startNumber), 0);
    // Stock has counted every number issuance took so far.
    await waitFor(async () => (await ledger()).used + (await ledger()).voided === (await taken()));
    const before = await ledger();

    const r = await signed("POST", "/api/v1/receipts", issueBody());
    const voided = await t.call("POST", `/v1/receipts/${String(r.body.id)}/void`, { reason: "开错金额" });
    expect(voided.body).toMatchObject({ status: "VOIDED", reason: "开错金额" });
    await waitFor(async () => (await ledger()).voided === before.voided + 1);
    expect(await ledger()).toMatchObject({
      used: before.used,
      voided: before.voided + 1,
      closing: before.closing - 1,
    });

    const original = await issued();
    await signed("POST", `/api/v1/receipts/${String(original.id)}/red-flush`, {
      reason: "退费",
      handlingPerson: "window-01",
    });
    await waitFor(async () => (await ledger()).used === before.used + 2);
  });

  it("describes the new calls in its OpenAPI document", async () => {
    const doc = (await (await fetch(`${t.platform.url}/api/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/receipts/{id}/status",
        "/api/v1/receipts/{id}/red-flush",
        "/api/v1/receipts/{id}/paper-exchange",
        "/api/v1/receipts/{id}/paper-return",
        "/api/v1/receipts/{id}/book",
      ]),
    );
  });
});
