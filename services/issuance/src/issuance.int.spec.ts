import { randomUUID } from "node:crypto";
import { createEnvelope, type Envelope, PaymentCompleted, topics } from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import { callerHeaders } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  AGENCY,
  BILL,
  distribute,
  distribution,
  type Harness,
  issueBody,
  seedReferenceData,
  startIssuance,
  TOKEN,
  waitFor,
} from "./testing/harness.ts";
import { parseXml } from "./testing/xml.ts";

/**
 * The issuance service through the whole frame, over real HTTP: in cluster mode on the
 * machine's PostgreSQL and the real Kafka broker, and embedded on PGlite and the embedded
 * bus. The same assertions hold in both.
 */
describe.each(["cluster", "embedded"] as const)("issuance service (%s)", (mode) => {
  let h: Harness;
  const emitted: Envelope[] = [];
  let stopWatch = async () => {};

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
  });
  afterAll(async () => {
    await stopWatch();
    await h?.stop();
  });

  const receiptCount = async () =>
    Number(
      (
        await h.db.query<{ n: string }>("SELECT count(*)::text AS n FROM receipt WHERE agency_code = $1", [
          AGENCY,
        ])
      )[0]!.n,
    );
  const nextNumbers = async () =>
    (
      await h.db.query<{ next: string }>(
        "SELECT next_number::text AS next FROM number_run WHERE agency_code = $1 ORDER BY id",
        [AGENCY],
      )
    ).map((r) => r.next);
  /** Asserts a request is refused with 400 naming `field` (and `rule`), and that nothing changed. */
  const expectRefused = async (body: unknown, field: string, rule?: string) => {
    const [receiptsBefore, numbersBefore] = [await receiptCount(), await nextNumbers()];
    const res = await h.call("POST", "/v1/receipts", body);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.issues, JSON.stringify(res.body)).toEqual(
      expect.arrayContaining([expect.objectContaining({ field, ...(rule ? { rule } : {}) })]),
    );
    expect(await receiptCount()).toBe(receiptsBefore);
    expect(await nextNumbers()).toEqual(numbersBefore);
  };

  it("keeps income items and issuing points, with an audit row each, and refuses a second of the same code", async () => {
    await seedReferenceData(h.call);
    const items = (await h.call("GET", `/v1/issuance/items?agencyCode=${AGENCY}`)).body.items;
    expect(items).toEqual([
      { agencyCode: AGENCY, code: "001", name: "护照工本费", unit: "本", standardFen: 12000, enabled: true },
      { agencyCode: AGENCY, code: "002", name: "加急费", unit: "件", standardFen: null, enabled: true },
      { agencyCode: AGENCY, code: "003", name: "停用项目", unit: "件", standardFen: null, enabled: false },
    ]);
    const again = await h.call("POST", "/v1/issuance/items", {
      agencyCode: AGENCY,
      code: "001",
      name: "x",
      unit: "本",
      standardFen: null,
    });
    expect(again).toMatchObject({ status: 409, body: { code: "ITEM_EXISTS" } });
    expect(
      (await h.call("GET", `/v1/issuance/issuing-points?agencyCode=${AGENCY}`)).body.items as unknown[],
    ).toHaveLength(3);
    const audit = await h.db.query<{ action: string; actor: string }>(
      "SELECT action, actor FROM audit_log ORDER BY id",
    );
    expect(audit.map((a) => a.action)).toEqual([
      ...Array(3).fill("issuing-point.register"),
      ...Array(3).fill("income-item.register"),
    ]);
    expect(audit.every((a) => a.actor === "zhang.san")).toBe(true);
  });

  it("takes in each run stock distributes exactly once, however often the event arrives", async () => {
    const run = distribution("WIN-01", 1001, 100);
    await distribute(h.probe, [run, run, run]);
    await distribute(h.probe, [distribution("WIN-02", 5001, 2)]);
    const runs = async () =>
      (await h.call("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`)).body.items as Array<
        Record<string, unknown>
      >;
    await waitFor(async () => (await runs()).length === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(await runs()).toEqual([
      expect.objectContaining({ issuingPointCode: "WIN-01", startNumber: "0000001001", remaining: 100 }),
      expect.objectContaining({ issuingPointCode: "WIN-02", startNumber: "0000005001", remaining: 2 }),
    ]);
  });

  it("issues a receipt with the point's next number, a 6-digit check code and its document, and says so on the bus", async () => {
    const res = await h.call("POST", "/v1/receipts", issueBody("BIZ-0001"));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      agencyCode: AGENCY,
      bizSerialNo: "BIZ-0001",
      billCode: BILL,
      number: "0000001001",
      status: "REQUESTED",
      // A person (the clerk) asked: 在线开具. Provenance is read from the caller, never the body.
      source: "ONLINE",
      totalFen: 27050,
      payer: { type: 1, code: "11010519491231002X", name: "张三" },
    });
    expect(res.body.checkCode).toMatch(/^\d{6}$/);
    const id = String(res.body.id);
    expect((await h.call("GET", `/v1/receipts/${id}`)).body).toEqual(res.body);

    const doc = await fetch(`${h.platform.url}/v1/receipts/${id}/document`, {
      headers: {
        authorization: `Bearer ${"t".repeat(40)}`,
        ...callerHeaders(
          { "x-piaoju-actor": "a", "x-piaoju-agencies": AGENCY },
          "GET",
          `${h.platform.url}/v1/receipts/${id}/document`,
        ),
      },
    });
    const bytes = Buffer.from(await doc.arrayBuffer());
    expect(sm3(bytes).toString("hex")).toBe(res.body.documentSm3);
    expect(parseXml(bytes).error).toBeUndefined();
    const xml = bytes.toString("utf8");
    expect(xml).toContain("<EInvoiceNumber>0000001001</EInvoiceNumber>");
    expect(xml).toContain(`<RandomNumber>${String(res.body.checkCode)}</RandomNumber>`);
    expect(xml).toContain("<TotalAmount>270.50</TotalAmount>");
    expect(xml).toContain("<BizCode>BIZ-0001</BizCode>");

    await waitFor(async () => emitted.some((e) => (e.data as { receiptId?: string }).receiptId === id));
    const event = emitted.find((e) => (e.data as { receiptId?: string }).receiptId === id)!;
    expect(event).toMatchObject({ type: "issuance.ReceiptRequested", key: id, producer: "issuance" });
    const data = event.data as { document: string; documentSm3: string; number: string };
    expect(Buffer.from(data.document, "base64").equals(bytes)).toBe(true);
    expect(data).toMatchObject({ documentSm3: res.body.documentSm3, number: "0000001001" });
  });

  it("returns the same receipt to a retry of the same request (200), without taking a number", async () => {
    const before = await nextNumbers();
    const first = await h.call("GET", `/v1/receipts?agencyCode=${AGENCY}&bizSerialNo=BIZ-0001`);
    // The same request, written differently (quantities "2.0", keys in another order), is the same request.
    const body = issueBody("BIZ-0001");
    const retry = await h.call("POST", "/v1/receipts", {
      ...body,
      items: [
        { amountFen: 24000, quantity: "2.0", itemCode: "001" },
        { itemCode: "002", quantity: "1", amountFen: 3050 },
      ],
    });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual((first.body.items as unknown[])[0]);
    expect(await nextNumbers()).toEqual(before);
    expect(await receiptCount()).toBe(1);
  });

  it("refuses a different request under a serial number already used (409 naming the serial)", async () => {
    const res = await h.call("POST", "/v1/receipts", { ...issueBody("BIZ-0001"), remark: "another payment" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("BIZ_SERIAL_REUSED");
    expect(res.body.detail).toContain("BIZ-0001");
    // The receipt that holds the serial may be another issuing point's: its number is not told.
    expect(res.body.detail).not.toMatch(/\d{10}/);
    expect(await receiptCount()).toBe(1);
  });

  it("does not tell serial numbers apart by case: a retry in other case is the same receipt", async () => {
    const first = await h.call("POST", "/v1/receipts", issueBody("BIZ-0001"));
    const lower = await h.call("POST", "/v1/receipts", issueBody("biz-0001"));
    expect(lower.status).toBe(200);
    expect(lower.body.id).toBe(first.body.id);
    const found = await h.call("GET", `/v1/receipts?agencyCode=${AGENCY}&bizSerialNo=Biz-0001`);
    expect((found.body.items as Array<{ id: string }>).map((r) => r.id)).toEqual([first.body.id]);
    expect(await receiptCount()).toBe(1);
  });

  it("refuses an item that does not exist or is disabled, naming the item", async () => {
    const body = issueBody("BIZ-R1");
    await expectRefused(
      { ...body, items: [{ itemCode: "404", quantity: "1", amountFen: 100 }], totalFen: 100 },
      "body.items.0.itemCode",
      "income_item_enabled",
    );
    await expectRefused(
      {
        ...body,
        items: [...(body.items as unknown[]), { itemCode: "003", quantity: "1", amountFen: 100 }],
        totalFen: 27150,
      },
      "body.items.2.itemCode",
      "income_item_enabled",
    );
  });

  it("refuses an item amount that is not quantity × standard", async () => {
    const body = issueBody("BIZ-R2");
    await expectRefused(
      { ...body, items: [{ itemCode: "001", quantity: "2", amountFen: 24001 }], totalFen: 24001 },
      "body.items.0.amountFen",
      "amount_equals_quantity_times_standard",
    );
  });

  it("refuses a total that is not the sum of the items", async () => {
    await expectRefused(
      { ...issueBody("BIZ-R3"), totalFen: 27049 },
      "body.totalFen",
      "total_equals_sum_of_items",
    );
  });

  it("refuses a payer code that does not validate for the payer type", async () => {
    const body = issueBody("BIZ-R4");
    const payer = body.payer as Record<string, unknown>;
    await expectRefused(
      { ...body, payer: { ...payer, code: "110105194912310021" } },
      "body.payer.code",
      "id_card_number",
    );
    await expectRefused(
      { ...body, payer: { ...payer, type: 2 } },
      "body.payer.code",
      "unified_social_credit_code",
    );
    await expectRefused(
      { ...body, payer: { ...payer, type: 2, code: "91350100M000100Y44" } },
      "body.payer.code",
      "unified_social_credit_code",
    );
  });

  it("refuses an issuing point that does not exist", async () => {
    await expectRefused(
      { ...issueBody("BIZ-R5"), issuingPointCode: "WIN-99" },
      "body.issuingPointCode",
      "issuing_point_enabled",
    );
  });

  it("refuses bad input in every field with 400 naming it, and changes nothing", async () => {
    const body = issueBody("BIZ-R6");
    const payer = body.payer as Record<string, unknown>;
    const item = (body.items as Array<Record<string, unknown>>)[0]!;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...body, agencyCode: "" }, "body.agencyCode"],
      [{ ...body, issuingPointCode: "点 1" }, "body.issuingPointCode"],
      [{ ...body, billCode: "1101" }, "body.billCode"],
      [{ ...body, bizSerialNo: "" }, "body.bizSerialNo"],
      [{ ...body, bizSerialNo: "x".repeat(65) }, "body.bizSerialNo"],
      [{ ...body, payer: undefined }, "body.payer"],
      [{ ...body, payer: { ...payer, type: 3 } }, "body.payer.type"],
      [{ ...body, payer: { ...payer, code: "123" } }, "body.payer.code"],
      [{ ...body, payer: { ...payer, name: " " } }, "body.payer.name"],
      [{ ...body, payer: { ...payer, phone: "call me" } }, "body.payer.phone"],
      [{ ...body, payer: { ...payer, email: "not-an-address" } }, "body.payer.email"],
      [{ ...body, payer: { ...payer, account: "9".repeat(65) } }, "body.payer.account"],
      [{ ...body, payer: { ...payer, bank: "b".repeat(201) } }, "body.payer.bank"],
      [{ ...body, items: [] }, "body.items"],
      [{ ...body, items: [{ ...item, itemCode: "" }] }, "body.items.0.itemCode"],
      [{ ...body, items: [{ ...item, quantity: 2 }] }, "body.items.0.quantity"],
      [{ ...body, items: [{ ...item, quantity: "1.23456" }] }, "body.items.0.quantity"],
      [{ ...body, items: [{ ...item, quantity: "-1" }] }, "body.items.0.quantity"],
      [{ ...body, items: [{ ...item, amountFen: 240.5 }] }, "body.items.0.amountFen"],
      [{ ...body, items: [{ ...item, amountFen: "24000" }] }, "body.items.0.amountFen"],
      [{ ...body, items: [{ ...item, amountFen: 0 }] }, "body.items.0.amountFen"],
      [{ ...body, totalFen: -1 }, "body.totalFen"],
      [{ ...body, totalFen: 270.5 }, "body.totalFen"],
      [{ ...body, payMode: "" }, "body.payMode"],
      [{ ...body, remark: "r".repeat(501) }, "body.remark"],
      [{ ...body, handlingPerson: "" }, "body.handlingPerson"],
      [{ ...body, checker: "" }, "body.checker"],
      [{ ...body, source: "fax" }, "body.source"],
      // Provenance is the platform's: a body cannot claim 在线开具 (or anything else it does not know).
      [{ ...body, source: "online" }, "body.source"],
      [{ ...body, status: "ISSUED" }, "body.status"],
      [{ ...body, payer: { ...payer, phone: "-----" } }, "body.payer.phone"],
      [{ ...body, payer: { ...payer, phone: "     " } }, "body.payer.phone"],
      [{ ...body, payer: { ...payer, name: "-----" } }, "body.payer.name"],
    ];
    // Text the database or an XML document cannot hold, in every stored text field: 400 naming it.
    const textFields: Array<[string, (v: string) => Record<string, unknown>]> = [
      ["body.payer.name", (v) => ({ ...body, payer: { ...payer, name: `张${v}三` } })],
      ["body.payer.account", (v) => ({ ...body, payer: { ...payer, account: `62${v}1` } })],
      ["body.payer.bank", (v) => ({ ...body, payer: { ...payer, bank: `银行${v}` } })],
      ["body.payMode", (v) => ({ ...body, payMode: `wechat${v}` })],
      ["body.remark", (v) => ({ ...body, remark: `r${v}` })],
      ["body.handlingPerson", (v) => ({ ...body, handlingPerson: `li${v}si` })],
      ["body.checker", (v) => ({ ...body, checker: `wang${v}` })],
      ["body.items.0.itemCode", (v) => ({ ...body, items: [{ ...item, itemCode: `00${v}1` }] })],
    ];
    for (const [field, make] of textFields) {
      for (const bad of ["\u0000", "\u0001", "\u001b", "\ufffe", "\uffff", "\ud800", "\udfff"]) {
        cases.push([make(bad), field]);
      }
    }
    for (const [bad, field] of cases) await expectRefused(bad, field);
    const malformed = await fetch(`${h.platform.url}/v1/receipts`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${"t".repeat(40)}`,
        "content-type": "application/json",
        ...callerHeaders(
          { "x-piaoju-actor": "a", "x-piaoju-agencies": AGENCY },
          "POST",
          `${h.platform.url}/v1/receipts`,
        ),
      },
      body: "{not json",
    });
    expect(malformed.status).toBe(400);
    expect(await receiptCount()).toBe(1);
  });

  it("refuses callers without the token and agencies outside the caller's scope", async () => {
    const other = await h.call("POST", "/v1/receipts", issueBody("BIZ-S1"), {
      "x-piaoju-actor": "li.si",
      "x-piaoju-agencies": "440301",
    });
    expect(other).toMatchObject({ status: 403, body: { code: "OUT_OF_SCOPE" } });
    const res = await fetch(`${h.platform.url}/v1/receipts?agencyCode=${AGENCY}&bizSerialNo=BIZ-0001`, {
      headers: { authorization: `Bearer ${"x".repeat(40)}` },
    });
    expect(res.status).toBe(401);
  });

  it("moves on to the point's next run when one is used up, and says NO_STOCK (409) when none is left", async () => {
    const numbers: string[] = [];
    for (const serial of ["BIZ-W2-1", "BIZ-W2-2"]) {
      const res = await h.call("POST", "/v1/receipts", issueBody(serial, "WIN-02"));
      expect(res.status).toBe(201);
      numbers.push(String(res.body.number));
    }
    expect(numbers).toEqual(["0000005001", "0000005002"]);
    const before = await receiptCount();
    const none = await h.call("POST", "/v1/receipts", issueBody("BIZ-W2-3", "WIN-02"));
    expect(none.status).toBe(409);
    expect(none.body.code).toBe("NO_STOCK");
    expect(none.body.detail).toContain("WIN-02");
    expect(none.body.detail).toContain(BILL);
    expect(await receiptCount()).toBe(before);

    await distribute(h.probe, [distribution("WIN-02", 7001, 10)]);
    await waitFor(
      async () => (await h.call("POST", "/v1/receipts", issueBody("BIZ-W2-3", "WIN-02"))).status === 201,
    );
    const third = await h.call("GET", `/v1/receipts?agencyCode=${AGENCY}&bizSerialNo=BIZ-W2-3`);
    expect((third.body.items as Array<{ number: string }>)[0]!.number).toBe("0000007001");
  });

  it("verifies a receipt by code, number and check code, answering its status and nothing about the payer", async () => {
    const receipt = (await h.call("GET", `/v1/receipts?agencyCode=${AGENCY}&bizSerialNo=BIZ-0001`)).body
      .items as Array<{ number: string; checkCode: string }>;
    const { number, checkCode } = receipt[0]!;
    const ok = await h.call(
      "GET",
      `/v1/receipts/verify?billCode=${BILL}&number=${number}&checkCode=${checkCode}`,
      undefined,
      {
        "x-piaoju-actor": "public",
        "x-piaoju-agencies": "none",
      },
    );
    expect(ok).toEqual({ status: 200, body: { billCode: BILL, number, status: "REQUESTED" } });
    const wrong = String((Number(checkCode) + 1) % 1_000_000).padStart(6, "0");
    expect(
      (await h.call("GET", `/v1/receipts/verify?billCode=${BILL}&number=${number}&checkCode=${wrong}`))
        .status,
    ).toBe(404);
    expect(
      (await h.call("GET", `/v1/receipts/verify?billCode=${BILL}&number=${number}&checkCode=12`)).status,
    ).toBe(400);
  });

  it("issues exactly one receipt for a payment event, however often it is published", async () => {
    const payment = createEnvelope(
      PaymentCompleted,
      {
        paymentId: "PAY-2026-0001",
        agencyCode: AGENCY,
        bizSerialNo: "PAY-BIZ-0001",
        paidAt: new Date().toISOString(),
        channel: "alipay",
        payer: { type: 2, code: "91350100M000100Y43", name: "某某科技有限公司" },
        items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
        totalFen: 12000,
        issuingPointCode: "WIN-01",
        billCode: BILL,
        source: "business-system",
      },
      { producer: "payment" },
    );
    // Three deliveries of the same event, and the payment published again under a new event id.
    await h.probe.publish([1, 2, 3].map(() => ({ topic: topics.payment, envelope: payment })));
    await h.probe.publish([{ topic: topics.payment, envelope: { ...payment, id: randomUUID() } }]);
    const bySerial = async () =>
      (await h.call("GET", `/v1/receipts?agencyCode=${AGENCY}&bizSerialNo=PAY-BIZ-0001`)).body.items as Array<
        Record<string, unknown>
      >;
    await waitFor(async () => (await bySerial()).length === 1);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await bySerial()).toEqual([
      expect.objectContaining({
        source: "PAYMENT",
        totalFen: 12000,
        payer: expect.objectContaining({ type: 2 }),
      }),
    ]);
    const rows = await h.db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM receipt WHERE biz_serial_no = 'PAY-BIZ-0001'",
    );
    expect(rows[0]!.n).toBe("1");
    const aboutPayment = () =>
      emitted.filter((e) => (e.data as { bizSerialNo?: string }).bizSerialNo === "PAY-BIZ-0001");
    await waitFor(async () => aboutPayment().length > 0);
    expect(aboutPayment().map((e) => e.type)).toEqual(["issuance.ReceiptRequested"]);
  });

  it("reports ready to anyone, and its database and bus to an operator only", async () => {
    const res = await fetch(`${h.platform.url}/readyz`);
    expect(await res.json()).toEqual({ status: "ready" });
    const operator = await fetch(`${h.platform.url}/readyz`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await operator.json()).toEqual({ status: "ready", checks: { bus: true, "issuance.db": true } });
  });
});
