import { randomBytes, randomUUID } from "node:crypto";
import {
  createEnvelope,
  type Envelope,
  ReceiptSigned,
  ReceiptSigningRefused,
  ReceiptSupervised,
  ReceiptSupervisionRejected,
  topics,
} from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  AGENCY,
  BILL,
  distribute,
  distribution,
  type Harness,
  issueBody,
  numberFigures,
  type Response,
  runConcurrently,
  seedReferenceData,
  startIssuance,
  waitFor,
} from "./testing/harness.ts";

type Receipt = Record<string, unknown> & { id: string; status: string; number: string; documentSm3: string };

/**
 * The receipt's life after it was requested, in cluster mode (PostgreSQL, the real Kafka
 * broker) and embedded (PGlite, the embedded bus), the same assertions in both: the
 * signing gateway's and finance's answers are published onto the bus as those services would
 * (signing.ReceiptSigned, finance.ReceiptSupervised, …), and people red-flush, exchange for
 * paper, book and void through the internal API.
 */
describe.each(["cluster", "embedded"] as const)("receipt lifecycle (%s)", (mode) => {
  let h: Harness;
  const emitted: Envelope[] = [];
  let stopWatch = async () => {};
  let serial = 0;

  beforeAll(async () => {
    h = await startIssuance(mode, inject("kafkaBrokers"));
    const watch = await h.probe.subscribe({
      group: `watch-${randomUUID().slice(0, 8)}`,
      topics: [topics.issuance],
      handler: async (m) => {
        emitted.push(m.envelope);
      },
    });
    stopWatch = () => watch.stop();
    await seedReferenceData(h.call);
    await distribute(h.probe, [distribution("WIN-01", 3001, 200), distribution("WIN-02", 7001, 500)]);
    await waitFor(async () => {
      const runs = await h.call("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`);
      return (runs.body.items as unknown[]).length === 2;
    });
  });
  afterAll(async () => {
    await stopWatch();
    await h?.stop();
  });

  // ---------------------------------------------------------------------------------------
  // Playing the signing gateway and finance

  const publish = (topic: string, envelope: Envelope) => h.probe.publish([{ topic, envelope }]);
  const signedEvent = (r: Receipt, documentSm3 = r.documentSm3) =>
    createEnvelope(
      ReceiptSigned,
      {
        receiptId: r.id,
        agencyCode: AGENCY,
        documentSm3,
        signature: randomBytes(96).toString("base64"),
        certificateSm3: sm3("agency certificate").toString("hex"),
        keyId: "agency-key-1",
        signedAt: new Date().toISOString(),
      },
      { producer: "signing" },
    );
  const supervisedEvent = (r: Receipt) =>
    createEnvelope(
      ReceiptSupervised,
      {
        receiptId: r.id,
        agencyCode: AGENCY,
        billCode: BILL,
        number: r.number,
        financeSignature: randomBytes(96).toString("base64"),
        financeCertificateSm3: sm3("finance certificate").toString("hex"),
        financeRef: `FIN-${r.number}`,
        supervisedAt: new Date().toISOString(),
      },
      { producer: "finance-exchange" },
    );
  const sign = async (r: Receipt) => {
    const e = signedEvent(r);
    await publish(topics.signing, e);
    return e;
  };
  const supervise = async (r: Receipt) => {
    const e = supervisedEvent(r);
    await publish(topics.finance, e);
    return e;
  };
  /** Waits until issuance's consumer took the event (its inbox row commits with what it did). */
  const processed = (e: Envelope) =>
    waitFor(
      async () =>
        (await h.db.query("SELECT 1 FROM piaoju_inbox WHERE event_id = $1::uuid", [e.id])).length > 0,
    );

  const get = async (id: string) => (await h.call("GET", `/v1/receipts/${id}`)).body as Receipt;
  const waitStatus = async (id: string, status: string) => {
    await waitFor(async () => (await get(id)).status === status);
    return get(id);
  };
  const eventsOf = (id: string, type: string) =>
    emitted.filter((e) => e.type === type && (e.data as { receiptId?: string }).receiptId === id);
  const waitEvent = async (id: string, type: string) => {
    await waitFor(async () => eventsOf(id, type).length > 0);
    return eventsOf(id, type)[0]!.data as Record<string, unknown>;
  };

  const issue = async (point = "WIN-01"): Promise<Receipt> => {
    const res = await h.call("POST", "/v1/receipts", issueBody(`LC-${++serial}`, point));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as Receipt;
  };
  /** A receipt taken all the way: requested, signed by the agency, supervised by finance. */
  const issued = async (point = "WIN-01"): Promise<Receipt> => {
    const r = await issue(point);
    await sign(r);
    await waitStatus(r.id, "AGENCY_SIGNED");
    await supervise(r);
    return waitStatus(r.id, "ISSUED");
  };
  const redFlush = (id: string, reason = "退费", headers?: Record<string, string>) =>
    h.call("POST", `/v1/receipts/${id}/red-flush`, { reason, handlingPerson: "li.si" }, headers);
  const receiptCount = async () =>
    Number(
      (
        await h.db.query<{ n: string }>("SELECT count(*)::text AS n FROM receipt WHERE agency_code = $1", [
          AGENCY,
        ])
      )[0]!.n,
    );
  const auditOf = (id: string) =>
    h.db.query<{ actor: string; action: string }>(
      "SELECT actor, action FROM audit_log WHERE subject = $1 ORDER BY id",
      [`receipt:${id}`],
    );

  // ---------------------------------------------------------------------------------------
  // Signing and supervision

  it("drives a receipt REQUESTED → AGENCY_SIGNED → ISSUED on the signing and finance events, announcing each step", async () => {
    const r = await issue();
    const signed = signedEvent(r);
    await publish(topics.signing, signed);
    const afterSign = await waitStatus(r.id, "AGENCY_SIGNED");
    const agencySignature = (signed.data as { signature: string }).signature;
    expect(afterSign.agencySignature).toMatchObject({ keyId: "agency-key-1", value: agencySignature });

    const submitted = await waitEvent(r.id, "issuance.ReceiptSubmittedForSupervision");
    expect(submitted).toMatchObject({
      kind: "blue",
      number: r.number,
      documentSm3: r.documentSm3,
      agencySignature,
      totalFen: 27050,
    });
    expect(sm3(Buffer.from(String(submitted.document), "base64")).toString("hex")).toBe(r.documentSm3);

    const supervision = supervisedEvent(r);
    await publish(topics.finance, supervision);
    const done = await waitStatus(r.id, "ISSUED");
    const financeSignature = (supervision.data as { financeSignature: string }).financeSignature;
    expect(done.financeSignature).toMatchObject({ financeRef: `FIN-${r.number}`, value: financeSignature });
    expect(done.allowedCommands).toEqual(["redFlush", "exchangeForPaper", "book"]);

    const announced = await waitEvent(r.id, "issuance.ReceiptIssued");
    expect(announced).toMatchObject({
      kind: "blue",
      bizSerialNo: r.bizSerialNo,
      issuingPointCode: "WIN-01",
      checkCode: r.checkCode,
      totalFen: 27050,
      payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
      items: [
        {
          itemCode: "001",
          itemName: "护照工本费",
          unit: "本",
          quantity: "2",
          standardFen: 12000,
          amountFen: 24000,
        },
        { itemCode: "002", itemName: "加急费", unit: "件", quantity: "1", amountFen: 3050 },
      ],
      handlingPerson: "zhang.san",
      agencySignature,
      financeSignature,
      documentSm3: r.documentSm3,
    });
    const status = (await h.call("GET", `/v1/receipts/${r.id}/status`)).body;
    expect(status).toMatchObject({ status: "ISSUED", agencySigned: true, supervised: true, kind: "blue" });
    expect((await auditOf(r.id)).map((a) => a.action)).toEqual([
      "receipt.request",
      "receipt.agency-sign",
      "receipt.supervise",
    ]);
  });

  it("changes nothing when the signing and finance events come again, under the same or a new event id", async () => {
    const r = await issue();
    const signed = signedEvent(r);
    await publish(topics.signing, signed);
    await publish(topics.signing, signed);
    await waitStatus(r.id, "AGENCY_SIGNED");
    await publish(topics.signing, signedEvent(r));
    const supervision = supervisedEvent(r);
    await publish(topics.finance, supervision);
    await publish(topics.finance, supervision);
    await waitStatus(r.id, "ISSUED");
    await processed(await supervise(r));
    await processed(await sign(r));
    // The outbox publishes after the commit: wait for each event, then count.
    await waitEvent(r.id, "issuance.ReceiptSubmittedForSupervision");
    await waitEvent(r.id, "issuance.ReceiptIssued");
    expect(eventsOf(r.id, "issuance.ReceiptSubmittedForSupervision")).toHaveLength(1);
    expect(eventsOf(r.id, "issuance.ReceiptIssued")).toHaveLength(1);
    const after = await get(r.id);
    expect(after.status).toBe("ISSUED");
    expect((after.agencySignature as { value: string }).value).toBe(
      (signed.data as { signature: string }).signature,
    );
    expect((after.financeSignature as { value: string }).value).toBe(
      (supervision.data as { financeSignature: string }).financeSignature,
    );
  });

  it("keeps a receipt REQUESTED when the signature covers another document, and takes the right one after", async () => {
    const r = await issue();
    await publish(topics.signing, signedEvent(r, sm3("another document").toString("hex")));
    // The right signature follows on the same partition (keyed by the receipt), so after the wrong one.
    const right = await sign(r);
    const after = await waitStatus(r.id, "AGENCY_SIGNED");
    expect((after.agencySignature as { value: string }).value).toBe(
      (right.data as { signature: string }).signature,
    );
    // The outbox publishes after the commit that made it AGENCY_SIGNED.
    await waitEvent(r.id, "issuance.ReceiptSubmittedForSupervision");
    expect(eventsOf(r.id, "issuance.ReceiptSubmittedForSupervision")).toHaveLength(1);
  });

  it("keeps finance's supervision that overtakes the agency's signature, and issues once the signature arrives", async () => {
    const r = await issue();
    await processed(await supervise(r));
    expect((await get(r.id)).status).toBe("REQUESTED");
    await sign(r);
    const done = await waitStatus(r.id, "ISSUED");
    expect(done.financeSignature).toMatchObject({ financeRef: `FIN-${r.number}` });
    expect(await waitEvent(r.id, "issuance.ReceiptIssued")).toMatchObject({ number: r.number });
  });

  it("voids a receipt the signing gateway refuses, and one finance rejects, announcing ReceiptVoided with the reason", async () => {
    const refused = await issue();
    await publish(
      topics.signing,
      createEnvelope(
        ReceiptSigningRefused,
        {
          receiptId: refused.id,
          agencyCode: AGENCY,
          code: "NO_KEY",
          reason: "no signing key for the agency",
          refusedAt: new Date().toISOString(),
        },
        { producer: "signing" },
      ),
    );
    const voided = await waitStatus(refused.id, "VOIDED");
    expect(voided.reason).toContain("NO_KEY");
    expect(await waitEvent(refused.id, "issuance.ReceiptVoided")).toMatchObject({
      number: refused.number,
      issuingPointCode: "WIN-01",
    });
    // A signature that comes after the refusal changes nothing.
    await processed(await sign(refused));
    expect((await get(refused.id)).status).toBe("VOIDED");

    const rejected = await issue();
    await sign(rejected);
    await waitStatus(rejected.id, "AGENCY_SIGNED");
    await publish(
      topics.finance,
      createEnvelope(
        ReceiptSupervisionRejected,
        {
          receiptId: rejected.id,
          agencyCode: AGENCY,
          billCode: BILL,
          number: rejected.number,
          code: "NUMBER_USED",
          reason: "the number is already used",
          rejectedAt: new Date().toISOString(),
        },
        { producer: "finance-exchange" },
      ),
    );
    expect((await waitStatus(rejected.id, "VOIDED")).reason).toContain("NUMBER_USED");
    await waitEvent(rejected.id, "issuance.ReceiptVoided");
  });

  // ---------------------------------------------------------------------------------------
  // Red-flush (冲红)

  it("red-flushes an issued receipt end to end: a red receipt with its own number and negative amounts is signed and supervised, and the original becomes RED_FLUSHED", async () => {
    const original = await issued();
    const res = await redFlush(original.id, "退费：重复缴款");
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const red = res.body as Receipt;
    expect(red).toMatchObject({
      kind: "red",
      status: "REQUESTED",
      originalReceiptId: original.id,
      billCode: BILL,
      issuingPointCode: "WIN-01",
      totalFen: -27050,
      reason: "退费：重复缴款",
    });
    expect(red.number).not.toBe(original.number);
    expect(red.checkCode).toMatch(/^\d{6}$/);
    const requested = await waitEvent(red.id, "issuance.ReceiptRequested");
    expect(requested).toMatchObject({ kind: "red", originalReceiptId: original.id, totalFen: -27050 });
    const xml = Buffer.from(String(requested.document), "base64").toString("utf8");
    expect(xml).toContain("<TotalAmount>-270.50</TotalAmount>");
    expect(xml).toContain(`<RelatedInvoiceNumber>${original.number}</RelatedInvoiceNumber>`);
    expect(xml).toContain("<ItemAmount>-240.00</ItemAmount>");
    expect((await get(original.id)).status).toBe("ISSUED");

    await sign(red);
    expect(await waitEvent(red.id, "issuance.ReceiptSubmittedForSupervision")).toMatchObject({
      kind: "red",
      originalReceiptId: original.id,
    });
    await supervise(red);
    await waitStatus(red.id, "ISSUED");
    const flushed = await waitStatus(original.id, "RED_FLUSHED");
    expect(flushed.redFlushedAt).toBeDefined();
    expect(await waitEvent(red.id, "issuance.ReceiptIssued")).toMatchObject({
      kind: "red",
      totalFen: -27050,
      items: [expect.objectContaining({ amountFen: -24000 }), expect.objectContaining({ amountFen: -3050 })],
    });
    expect(await waitEvent(original.id, "issuance.ReceiptRedFlushed")).toMatchObject({
      redReceiptId: red.id,
      redNumber: red.number,
      reason: "退费：重复缴款",
    });
    expect((await auditOf(original.id)).map((a) => [a.action, a.actor])).toEqual(
      expect.arrayContaining([
        ["receipt.red-flush", "zhang.san"],
        ["receipt.red-flushed", "zhang.san"],
      ]),
    );
    // Once flushed, the same request returns the red receipt; another is refused.
    const retry = await redFlush(original.id, "退费：重复缴款");
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(red.id);
    expect(await redFlush(original.id, "another reason")).toMatchObject({
      status: 409,
      body: { code: "ALREADY_RED_FLUSHED" },
    });
  });

  it("returns the same red receipt to a retry of a red-flush, and refuses a different one while it is under way", async () => {
    const original = await issued();
    const first = await redFlush(original.id);
    const count = await receiptCount();
    const retry = await redFlush(original.id);
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(first.body.id);
    const other = await redFlush(original.id, "a different refund");
    expect(other).toMatchObject({ status: 409, body: { code: "RED_FLUSH_IN_PROGRESS" } });
    expect(await receiptCount()).toBe(count);
  });

  it("makes one red receipt from concurrent red-flush requests for one receipt", async () => {
    const original = await issued();
    const answers = await Promise.all(Array.from({ length: 8 }, () => redFlush(original.id)));
    const ids = new Set(answers.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    const reds = await h.db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM receipt WHERE original_receipt_id = $1",
      [original.id],
    );
    expect(reds[0]!.n).toBe("1");
  });

  it("refuses to red-flush a receipt not yet issued, saying void it instead, and changes nothing", async () => {
    const r = await issue();
    const count = await receiptCount();
    const res = await redFlush(r.id);
    expect(res).toMatchObject({ status: 409, body: { code: "NOT_ISSUED" } });
    expect(res.body.detail).toContain("REQUESTED");
    expect(await receiptCount()).toBe(count);
  });

  it("refuses to red-flush a receipt exchanged for paper: the paper receipt's refund process applies", async () => {
    const r = await issued();
    const count = await receiptCount();
    const ex = await h.call("POST", `/v1/receipts/${r.id}/paper-exchange`, {
      paperBillCode: "11010299",
      paperNumber: "0000000001",
    });
    expect(ex.status, JSON.stringify(ex.body)).toBe(200);
    const res = await redFlush(r.id);
    expect(res).toMatchObject({ status: 409, body: { code: "PAPER_EXCHANGED" } });
    expect(res.body.detail).toContain("paper");
    expect(await receiptCount()).toBe(count);
  });

  it("refuses to red-flush a receipt booked (入账) by the payer's organisation", async () => {
    const r = await issued();
    const booked = await h.call("POST", `/v1/receipts/${r.id}/book`, { bookedBy: "某某公司财务部" });
    expect(booked.status, JSON.stringify(booked.body)).toBe(200);
    expect(booked.body).toMatchObject({ status: "BOOKED", booked: { by: "某某公司财务部" } });
    expect(await h.call("POST", `/v1/receipts/${r.id}/book`, { bookedBy: "某某公司财务部" })).toMatchObject({
      status: 200,
    });
    const res = await redFlush(r.id);
    expect(res).toMatchObject({ status: 409, body: { code: "BOOKED" } });
    expect((await auditOf(r.id)).filter((a) => a.action === "receipt.book")).toHaveLength(1);
  });

  it("refuses to red-flush a red receipt, and to exchange or book a receipt while its red-flush is under way", async () => {
    const original = await issued();
    const red = (await redFlush(original.id)).body as Receipt;
    expect(await redFlush(red.id)).toMatchObject({ status: 409, body: { code: "RED_RECEIPT" } });
    expect(
      await h.call("POST", `/v1/receipts/${original.id}/paper-exchange`, {
        paperBillCode: "11010299",
        paperNumber: "0000000077",
      }),
    ).toMatchObject({ status: 409, body: { code: "RED_FLUSH_IN_PROGRESS" } });
    expect(await h.call("POST", `/v1/receipts/${original.id}/book`, { bookedBy: "x" })).toMatchObject({
      status: 409,
      body: { code: "RED_FLUSH_IN_PROGRESS" },
    });
    expect((await get(original.id)).status).toBe("ISSUED");
  });

  it("lets a receipt be red-flushed again after its red receipt was voided by signing", async () => {
    const original = await issued();
    const red = (await redFlush(original.id)).body as Receipt;
    await publish(
      topics.signing,
      createEnvelope(
        ReceiptSigningRefused,
        {
          receiptId: red.id,
          agencyCode: AGENCY,
          code: "CERT_EXPIRED",
          reason: "certificate out of validity",
          refusedAt: new Date().toISOString(),
        },
        { producer: "signing" },
      ),
    );
    await waitStatus(red.id, "VOIDED");
    expect((await get(original.id)).status).toBe("ISSUED");
    const again = await redFlush(original.id);
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(red.id);
    expect(String(again.body.bizSerialNo)).toMatch(/:2$/);
  });

  // ---------------------------------------------------------------------------------------
  // Paper exchange (换开), booking (入账), void (作废)

  it("exchanges a receipt for paper and back, announcing both, once per paper number", async () => {
    const r = await issued();
    const paper = { paperBillCode: "11010299", paperNumber: "0000000002" };
    const ex = await h.call("POST", `/v1/receipts/${r.id}/paper-exchange`, paper);
    expect(ex.body).toMatchObject({
      status: "PAPER_EXCHANGED",
      paper: { billCode: "11010299", number: "0000000002" },
    });
    expect((await h.call("POST", `/v1/receipts/${r.id}/paper-exchange`, paper)).status).toBe(200);
    const other = await issued();
    expect(await h.call("POST", `/v1/receipts/${other.id}/paper-exchange`, paper)).toMatchObject({
      status: 409,
      body: { code: "PAPER_NUMBER_TAKEN" },
    });
    expect(await waitEvent(r.id, "issuance.ReceiptPaperExchanged")).toMatchObject({
      paperBillCode: "11010299",
      paperNumber: "0000000002",
      returned: false,
    });
    const back = await h.call("POST", `/v1/receipts/${r.id}/paper-return`, { reason: "交款人退回纸质票据" });
    expect(back.body).toMatchObject({ status: "ISSUED" });
    expect(back.body.paper).toBeUndefined();
    await waitFor(async () => eventsOf(r.id, "issuance.ReceiptPaperExchanged").length === 2);
    expect(eventsOf(r.id, "issuance.ReceiptPaperExchanged")[1]!.data).toMatchObject({ returned: true });
    expect((await h.call("POST", `/v1/receipts/${r.id}/paper-return`, { reason: "again" })).status).toBe(409);
    expect((await auditOf(r.id)).map((a) => a.action)).toEqual(
      expect.arrayContaining(["receipt.paper-exchange", "receipt.paper-return"]),
    );
  });

  it("voids a receipt before it is issued, with the clerk's reason and an audit row, and refuses to void an issued one", async () => {
    const r = await issue();
    await sign(r);
    await waitStatus(r.id, "AGENCY_SIGNED");
    const res = await h.call("POST", `/v1/receipts/${r.id}/void`, { reason: "开错交款人" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: "VOIDED", reason: "开错交款人" });
    expect(await waitEvent(r.id, "issuance.ReceiptVoided")).toMatchObject({ reason: "开错交款人" });
    expect((await h.call("POST", `/v1/receipts/${r.id}/void`, { reason: "开错交款人" })).status).toBe(200);
    expect(eventsOf(r.id, "issuance.ReceiptVoided")).toHaveLength(1);
    expect(await auditOf(r.id)).toEqual(
      expect.arrayContaining([{ actor: "zhang.san", action: "receipt.void" }]),
    );
    // Finance's late supervision leaves it void.
    await processed(await supervise(r));
    expect((await get(r.id)).status).toBe("VOIDED");

    const done = await issued();
    const refused = await h.call("POST", `/v1/receipts/${done.id}/void`, { reason: "x" });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain("red-flushed, not voided");
    expect((await get(r.id)).status).toBe("VOIDED");
  });

  it("keeps each clerk to the receipts of their own agencies", async () => {
    const r = await issued();
    const stranger = { "x-piaoju-actor": "wang.wu", "x-piaoju-agencies": "OTHER01" };
    for (const [path, body] of [
      ["red-flush", { reason: "x", handlingPerson: "w" }],
      ["paper-exchange", { paperBillCode: "11010299", paperNumber: "0000000099" }],
      ["book", { bookedBy: "x" }],
      ["void", { reason: "x" }],
    ] as const) {
      expect((await h.call("POST", `/v1/receipts/${r.id}/${path}`, body, stranger)).status, path).toBe(403);
    }
    expect((await h.call("GET", `/v1/receipts/${r.id}/status`, undefined, stranger)).status).toBe(403);
    expect((await get(r.id)).status).toBe("ISSUED");
  });

  it("refuses bad input on every new field with 400 naming it, and changes nothing", async () => {
    const r = await issued();
    const cases: Array<[string, unknown, string]> = [
      ["red-flush", { handlingPerson: "li" }, "body.reason"],
      ["red-flush", { reason: "  ", handlingPerson: "li" }, "body.reason"],
      ["red-flush", { reason: "x".repeat(501), handlingPerson: "li" }, "body.reason"],
      ["red-flush", { reason: "退费" }, "body.handlingPerson"],
      ["red-flush", { reason: "退费", handlingPerson: "" }, "body.handlingPerson"],
      ["paper-exchange", { paperNumber: "0000000003" }, "body.paperBillCode"],
      ["paper-exchange", { paperBillCode: "1101", paperNumber: "0000000003" }, "body.paperBillCode"],
      ["paper-exchange", { paperBillCode: "11010299", paperNumber: "12" }, "body.paperNumber"],
      ["paper-exchange", { paperBillCode: "11010299", paperNumber: 3 }, "body.paperNumber"],
      ["paper-return", {}, "body.reason"],
      ["book", { bookedBy: "" }, "body.bookedBy"],
      ["void", {}, "body.reason"],
    ];
    const count = await receiptCount();
    for (const [path, body, field] of cases) {
      const res: Response = await h.call("POST", `/v1/receipts/${r.id}/${path}`, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(
        res.body.issues?.map((i) => i.field),
        path,
      ).toContain(field);
    }
    expect(
      (await h.call("POST", "/v1/receipts/not-a-uuid/red-flush", { reason: "x", handlingPerson: "y" })).body,
    ).toMatchObject({ code: "VALIDATION_FAILED" });
    expect(
      (await h.call("POST", `/v1/receipts/${randomUUID()}/red-flush`, { reason: "x", handlingPerson: "y" }))
        .status,
    ).toBe(404);
    expect(await receiptCount()).toBe(count);
    const after = await get(r.id);
    expect(after.status).toBe("ISSUED");
    expect((await auditOf(r.id)).map((a) => a.action)).toEqual([
      "receipt.request",
      "receipt.agency-sign",
      "receipt.supervise",
    ]);
  });

  // ---------------------------------------------------------------------------------------
  // Numbers with red receipts mixed in

  it("keeps the point's numbers gap-free and unique with red receipts taken among blue ones under concurrency", async () => {
    const originals: Receipt[] = [];
    for (let i = 0; i < 6; i++) originals.push(await issued("WIN-02"));
    const tasks = [
      ...Array.from(
        { length: 30 },
        (_, i) => async () => (await h.call("POST", "/v1/receipts", issueBody(`MIX-${i}`, "WIN-02"))).status,
      ),
      ...originals.flatMap((o) => [
        async () => (await redFlush(o.id)).status,
        async () => (await redFlush(o.id)).status,
      ]),
    ];
    const statuses = await runConcurrently(tasks, 8);
    expect(statuses.every((s) => s === 200 || s === 201)).toBe(true);
    const rows = await h.db.query<{ number: string; kind: string }>(
      "SELECT number::text AS number, kind::text AS kind FROM receipt WHERE agency_code = $1 AND issuing_point_code = 'WIN-02'",
      [AGENCY],
    );
    const figures = numberFigures(
      rows.map((r) => BigInt(r.number)),
      7001n,
    );
    console.log("numbers at WIN-02 with red receipts mixed in", {
      ...figures,
      red: rows.filter((r) => r.kind === "RED").length,
    });
    expect(rows.filter((r) => r.kind === "RED")).toHaveLength(6);
    expect(figures).toMatchObject({ used: 42, duplicates: 0, gaps: 0, contiguousFromStart: true });
  });
});
