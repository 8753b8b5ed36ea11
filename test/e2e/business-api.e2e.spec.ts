import { randomBytes, randomUUID } from "node:crypto";
import { businessClient } from "@piaoju/business-client";
import { unsignedDocumentOf } from "@piaoju/contracts";
import { gatewayService } from "@piaoju/gateway";
import { sm3 } from "@piaoju/gm-crypto";
import { issuanceService } from "@piaoju/issuance";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { stockService } from "@piaoju/stock";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { prepareAgency } from "../support/agency.ts";

const AGENCY = "110101";
const BILL = "11010126";

/**
 * Issue on the business API, across services: stock takes a segment into stock and a rule
 * distributes numbers to an issuing point (分发); issuance takes the run; a business system,
 * registered with the gateway, issues a receipt with a signed request. Both modes.
 */
describe.each(["cluster", "embedded"] as const)("business API end to end (%s)", (mode) => {
  let t: TestPlatform;
  let app: { appId: string; appSecret: string };

  beforeAll(async () => {
    t = await startTestPlatform({
      mode,
      services: [stockService, issuanceService, gatewayService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_CHECK_CODE_KEY: randomBytes(16).toString("hex"),
        PIAOJU_LOOKUP_LIMIT_PER_APP: "20",
        PIAOJU_LOOKUP_LIMIT_PER_ADDRESS: "45",
      },
    });
    app = await prepareAgency(t, {
      agency: AGENCY,
      bill: BILL,
      startNumber: "0000100001",
      endNumber: "0000101000",
      points: [
        { code: "WIN-01", name: "一号窗口", rule: { threshold: 50, batchSize: 100 } },
        { code: "WIN-02", name: "二号窗口" },
      ],
      appPoints: ["WIN-01"],
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** A business system's call: signed with its secret over method, path, time, nonce and body. */
  const signed: ReturnType<typeof businessClient> = (...args) =>
    businessClient({ baseUrl: t.platform.url, ...app })(...args);

  const issue = (bizSerialNo: string, point = "WIN-01") => ({
    issuingPointCode: point,
    billCode: BILL,
    bizSerialNo,
    payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
    items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
    totalFen: 12000,
    payMode: "wechat",
    handlingPerson: "window-01",
  });

  it("issues a receipt from the distributed numbers, once per business serial number", async () => {
    const first = await signed("POST", "/api/v1/receipts", issue("CRJ-2026-000001"));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      agencyCode: AGENCY,
      billCode: BILL,
      number: "0000100001",
      status: "REQUESTED",
    });
    expect(first.body.checkCode).toMatch(/^\d{6}$/);
    const retry = await signed("POST", "/api/v1/receipts", issue("CRJ-2026-000001"));
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(first.body.id);
    const found = await signed("GET", "/api/v1/receipts?bizSerialNo=CRJ-2026-000001");
    expect(JSON.stringify(found.body)).toContain(String(first.body.id));
    const verified = await signed(
      "GET",
      `/api/v1/receipts/verify?billCode=${BILL}&number=0000100001&checkCode=${String(first.body.checkCode)}`,
    );
    expect(verified.status).toBe(200);
    // The document with the signatures made so far inside <EInvoiceSignature>; taken out, the stored
    // bytes remain, whose SM3 is the receipt's documentSm3.
    const document = await signed("GET", `/api/v1/receipts/${String(first.body.id)}/document`);
    expect(document.status).toBe(200);
    expect(document.contentType).toContain("application/xml");
    expect(sm3(unsignedDocumentOf(document.raw)).toString("hex")).toBe(first.body.documentSm3);
    expect(document.raw.toString("utf8")).toContain("0000100001");
    const unknown = await signed("GET", `/api/v1/receipts/${randomUUID()}/document`);
    expect(unknown.status).toBe(404);
    const unsignedDocument = await fetch(
      `${t.platform.url}/api/v1/receipts/${String(first.body.id)}/document`,
    );
    expect(unsignedDocument.status).toBe(401);
  });

  it("refuses unsigned, mis-signed, stale, replayed and unknown-app calls", async () => {
    const unsigned = await fetch(`${t.platform.url}/api/v1/receipts?bizSerialNo=x`);
    expect(unsigned.status).toBe(401);
    expect(
      (await signed("GET", "/api/v1/receipts?bizSerialNo=x", undefined, { secret: "wrong" })).body.code,
    ).toBe("BAD_SIGNATURE");
    expect(
      (
        await signed("GET", "/api/v1/receipts?bizSerialNo=x", undefined, {
          timestamp: Date.now() - 10 * 60_000,
        })
      ).body.code,
    ).toBe("STALE_REQUEST");
    const nonce = "replayed-nonce-0001";
    expect((await signed("GET", "/api/v1/receipts?bizSerialNo=x", undefined, { nonce })).status).not.toBe(
      401,
    );
    const replay = await signed("GET", "/api/v1/receipts?bizSerialNo=x", undefined, { nonce });
    expect(replay).toMatchObject({ status: 401, body: { code: "REPLAYED_NONCE" } });
    // An unknown app id is answered exactly as a wrong secret: nothing tells which app ids exist.
    const strip = (r: { status: number; body: Record<string, unknown> }) => {
      const { traceId: _t, ...body } = r.body;
      return { status: r.status, body };
    };
    const wrongSecret = await signed("GET", "/api/v1/receipts?bizSerialNo=x", undefined, { secret: "wrong" });
    const unknownApp = await signed("GET", "/api/v1/receipts?bizSerialNo=x", undefined, {
      appId: "app_unknown00",
    });
    expect(strip(unknownApp)).toEqual(strip(wrongSecret));
    expect(unknownApp.body.code).toBe("BAD_SIGNATURE");
  });

  it("limits lookups per app and per client address (429 with Retry-After), counting refused guesses too", async () => {
    // The limits this platform runs with (env below): 20 lookups a minute per app, 45 per address.
    const fresh = async () => {
      const res = await t.call("POST", "/v1/gateway/apps", {
        name: "limits",
        agencyCode: AGENCY,
        issuingPoints: ["WIN-01"],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return { appId: res.body.appId as string, appSecret: res.body.appSecret as string };
    };
    const guess = (as: { appId: string; appSecret: string }, code: string) =>
      businessClient({ baseUrl: t.platform.url, ...as })(
        "GET",
        `/api/v1/receipts/verify?billCode=${BILL}&number=0000100001&checkCode=${code}`,
      );
    const untilRefused = async (as: { appId: string; appSecret: string }) => {
      for (let i = 0; i < 60; i++) {
        const res = await guess(as, String(100000 + i));
        if (res.status === 429) return { answered: i, res };
        expect(res.status).toBe(404); // a wrong guess, answered like an unknown number
      }
      throw new Error("never limited");
    };
    const byApp = await untilRefused(await fresh());
    expect(byApp.answered).toBe(20);
    expect(byApp.res.body).toMatchObject({ status: 429, code: "RATE_LIMITED" });
    expect(String(byApp.res.body.detail)).toContain("app");
    // Another app from the same address gets what is left of the address's budget, then 429 too.
    const byAddress = await untilRefused(await fresh());
    expect(byAddress.answered).toBeLessThan(20);
    expect(String(byAddress.res.body.detail)).toContain("address");
    // Unsigned guesses are counted (and refused) before authentication.
    const unsigned = await fetch(
      `${t.platform.url}/api/v1/receipts/verify?billCode=${BILL}&number=1&checkCode=1`,
    );
    expect(unsigned.status).toBe(429);
    expect(Number(unsigned.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(unsigned.headers.get("content-type")).toContain("application/problem+json");
  });

  it("keeps an app to its own issuing points, and passes the receipt service's field errors through", async () => {
    const elsewhere = await signed("POST", "/api/v1/receipts", issue("CRJ-2026-000002", "WIN-02"));
    expect(elsewhere).toMatchObject({ status: 403, body: { code: "ISSUING_POINT_NOT_ALLOWED" } });
    const bad = await signed("POST", "/api/v1/receipts", { ...issue("CRJ-2026-000003"), totalFen: 1 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.issues)).toContain("body.totalFen");
  });

  it("serves one OpenAPI description of the business and console APIs, from the schemas that validate", async () => {
    const res = await fetch(`${t.platform.url}/api/openapi.json`);
    type Operation = {
      tags?: string[];
      summary?: string;
      security?: unknown[];
      requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
    };
    const doc = (await res.json()) as { paths: Record<string, Record<string, Operation>> };
    const paths = Object.keys(doc.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/api/v1/receipts",
        "/api/v1/receipts/verify",
        "/api/v1/receipts/{id}",
        "/api/v1/payments",
        "/api/v1/payments/{id}/refunds",
        "/api/console/login",
        "/api/console/users",
        "/api/console/audit",
      ]),
    );
    // Only what business systems and people call: not the internal proxy, the console's files or probes.
    expect(paths.filter((p) => !/^\/api\/(v1|console)\//.test(p))).toEqual([]);
    const operations = Object.values(doc.paths).flatMap((byMethod) => Object.values(byMethod));
    for (const op of operations) {
      expect(op.summary, JSON.stringify(op)).toBeTruthy();
      expect(op.tags).toHaveLength(1);
    }
    // The bodies are the shared zod schemas, rendered: the payer of a payment follows the receipt's rules.
    const create = doc.paths["/api/v1/payments"]!.post!;
    const body = create.requestBody!.content["application/json"]!.schema;
    expect(Object.keys(body.properties ?? {})).toEqual(
      expect.arrayContaining(["bizSerialNo", "payer", "items", "issuingPointCode", "billCode"]),
    );
    expect(create.tags).toEqual(["payments"]);
    expect(doc.paths["/api/console/users"]!.post!.security).toEqual([{ session: [] }]);
    expect(doc.paths["/api/console/login"]!.post!.security).toEqual([]);
    const ui = await fetch(`${t.platform.url}/api/docs/`);
    expect(ui.status).toBe(200);
  });

  it("relays to the payment service only what the payment API's schema parsed", async () => {
    const res = await signed("POST", "/api/v1/payments", {
      bizSerialNo: "PAY-FIELDS-1",
      issuingPointCode: "WIN-01",
      billCode: "00000000",
      payer: { type: 1, code: "110101199003071234", name: "王五" },
      items: [{ itemCode: "001", quantity: "1", amountFen: 100 }],
      source: "online",
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.issues)).toContain("body");
    expect(JSON.stringify(res.body.issues)).toContain("source");
  });

  /** What a refused call must not change: the numbers each issuing point has left. */
  const numbersLeft = async () =>
    JSON.stringify((await t.call("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`)).body);
  const fieldsOf = (body: Record<string, unknown>) =>
    ((body.issues ?? []) as Array<{ field: string }>).map((i) => i.field);

  it("refuses deep JSON before any recursive work (400 naming the body), signed or not", async () => {
    const before = await numbersLeft();
    for (const depth of [33, 5_000, 20_000]) {
      const deep = `{"issuingPointCode":"WIN-01","x":${"[".repeat(depth)}${"]".repeat(depth)}}`;
      const res = await signed("POST", "/api/v1/receipts", undefined, { rawBody: deep });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.issues).toEqual([expect.objectContaining({ field: "body", rule: "max_depth" })]);
      const unsigned = await fetch(`${t.platform.url}/api/v1/receipts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: deep,
      });
      expect(unsigned.status).toBe(401);
    }
    expect(await numbersLeft()).toBe(before);
  });

  it("signs and checks the exact bytes: another content type is 415 before authentication, altered bytes 401", async () => {
    const body = JSON.stringify(issue("CRJ-2026-000100"));
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
      // Signed over the bytes, and (the old hole) signed over an empty body: both refused.
      const overBytes = await signed("POST", "/api/v1/receipts", undefined, { rawBody: body, contentType });
      expect(overBytes.status).toBe(415);
      expect(fieldsOf(overBytes.body)).toEqual(["header.content-type"]);
      const overNothing = await signed("POST", "/api/v1/receipts", undefined, { rawBody: "", contentType });
      expect([400, 415]).toContain(overNothing.status);
    }
    // The signature covers the bytes as sent: the same JSON with other spacing is another request.
    const spaced = await signed("POST", "/api/v1/receipts", undefined, { rawBody: ` ${body}` });
    expect(spaced.status).toBe(201);
    const res = await fetch(`${t.platform.url}/api/v1/receipts`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-piaoju-app-id": app.appId },
      body: "{}",
    });
    expect(res.status).toBe(401);
  });

  it("refuses fields a caller must not set and unknown fields (400 naming each); provenance is the platform's", async () => {
    const before = await numbersLeft();
    for (const [extra, field] of [
      [{ source: "online" }, "body.source"],
      [{ agencyCode: "440301" }, "body.agencyCode"],
      [{ status: "ISSUED" }, "body.status"],
    ] as const) {
      const res = await signed("POST", "/api/v1/receipts", { ...issue("CRJ-2026-000200"), ...extra });
      expect(res.status).toBe(400);
      expect(fieldsOf(res.body)).toEqual([field]);
    }
    const payer = { ...issue("x").payer, source: "online" };
    const nested = await signed("POST", "/api/v1/receipts", { ...issue("CRJ-2026-000200"), payer });
    expect(fieldsOf(nested.body)).toEqual(["body.payer.source"]);
    expect(await numbersLeft()).toBe(before);
    // A business system's receipt is 接口开具, whatever it sends.
    const made = await signed("POST", "/api/v1/receipts", issue("CRJ-2026-000201"));
    expect(made.body.source).toBe("API");
    const dup = await signed("POST", "/api/v1/receipts", undefined, {
      rawBody: JSON.stringify(issue("CRJ-2026-000202")).replace('"payMode":', '"payMode":"cash","payMode":'),
    });
    expect(dup.status).toBe(400);
    expect(dup.body.issues).toEqual([
      expect.objectContaining({ field: "body.payMode", rule: "duplicate_field" }),
    ]);
  });

  it("applies the shared field rules at the gateway: text, phone, serial case, and a 409 that names no number", async () => {
    const before = await numbersLeft();
    const base = issue("CRJ-2026-000300");
    for (const [body, field] of [
      [{ ...base, payer: { ...base.payer, name: "张\u0000三" } }, "body.payer.name"],
      [{ ...base, payer: { ...base.payer, name: "张\ud800三" } }, "body.payer.name"],
      [{ ...base, remark: "\u001b[31m" }, "body.remark"],
      [{ ...base, handlingPerson: "a\uffff" }, "body.handlingPerson"],
      [{ ...base, payer: { ...base.payer, phone: "-----" } }, "body.payer.phone"],
      [{ ...base, payer: { ...base.payer, phone: "     " } }, "body.payer.phone"],
      [{ ...base, payer: { ...base.payer, code: "11010519491231002Y" } }, "body.payer.code"],
    ] as const) {
      const res = await signed("POST", "/api/v1/receipts", body);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(fieldsOf(res.body)).toContain(field);
    }
    const q = await signed("GET", "/api/v1/receipts?bizSerialNo=a%00b");
    expect(q.status).toBe(400);
    expect(fieldsOf(q.body)).toEqual(["query.bizSerialNo"]);
    expect(await numbersLeft()).toBe(before);

    const first = await signed("POST", "/api/v1/receipts", issue("crj-2026-000301"));
    expect(first.status).toBe(201);
    expect(first.body.bizSerialNo).toBe("CRJ-2026-000301");
    const upper = await signed("POST", "/api/v1/receipts", issue("CRJ-2026-000301"));
    expect(upper.status).toBe(200);
    expect(upper.body.id).toBe(first.body.id);
    const reused = await signed("POST", "/api/v1/receipts", { ...issue("Crj-2026-000301"), remark: "other" });
    expect(reused.status).toBe(409);
    expect(String(reused.body.detail)).not.toContain(String(first.body.number));
  });
});
