import { randomBytes } from "node:crypto";
import { startTestPlatform, type TestCaller, type TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { paymentService } from "./main.ts";

const AGENCY = "230102";
const APP = "console-lists";

/**
 * The finance office's lists (src/http/console-routes.ts) on both stores: paging and filters, the
 * payer masked, reach by issuing point for a clerk's grant, bad input named, another agency refused.
 */
describe.each(["cluster", "embedded"] as const)("payment console lists (%s)", (mode) => {
  let t: TestPlatform;
  const made: Array<{ id: string; noticeNo: string; paymentCode: string }> = [];

  beforeAll(async () => {
    t = await startTestPlatform({
      mode,
      services: [paymentService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "ops.li", "x-piaoju-agencies": AGENCY },
      env: { PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex") },
    });
    const asApp = { "x-piaoju-actor": `app:${APP}`, "x-piaoju-agencies": AGENCY };
    for (const [i, point, name] of [
      [1, "JJ-01", "王小五"],
      [2, "JJ-01", "李四"],
      [3, "JJ-02", "赵六一"],
    ] as const) {
      const res = await t.call(
        "POST",
        "/v1/payments",
        {
          agencyCode: AGENCY,
          bizSerialNo: `LIST-${mode}-${i}`,
          payer: { type: 1, code: "230102199003077778", name },
          items: [{ itemCode: "FK01", quantity: "1", amountFen: 10000 * i }],
          issuingPointCode: point,
          billCode: "23010126",
        },
        asApp,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      made.push({
        id: String(res.body.id),
        noticeNo: String(res.body.noticeNo),
        paymentCode: String(res.body.paymentCode),
      });
    }
    const closed = await t.call("POST", `/v1/payments/${made[1]!.id}/close`, { reason: "撤销" }, asApp);
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
  });
  afterAll(async () => {
    await t?.stop();
  });

  type Listed = { total: number; items: Array<Record<string, unknown>> };
  const list = async (path: string, headers?: TestCaller) => {
    const res = await t.call("GET", path, undefined, headers);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as unknown as Listed;
  };

  it("pages the agency's payments newest first, filters by state and number, and masks the payer", async () => {
    const all = await list(`/v1/payment/payments?agencyCode=${AGENCY}`);
    expect(all.total).toBe(3);
    expect(all.items.map((p) => p.id)).toEqual([made[2]!.id, made[1]!.id, made[0]!.id]);
    expect(all.items.map((p) => p.payerName)).toEqual(["赵*一", "李*", "王*五"]);
    expect(JSON.stringify(all)).not.toMatch(/王小五|赵六一|230102199003077778/);
    const page2 = await list(`/v1/payment/payments?agencyCode=${AGENCY}&limit=2&offset=2`);
    expect([page2.total, page2.items.map((p) => p.id)]).toEqual([3, [made[0]!.id]]);
    const closed = await list(`/v1/payment/payments?agencyCode=${AGENCY}&status=CLOSED`);
    expect(closed.items.map((p) => p.id)).toEqual([made[1]!.id]);
    for (const number of [made[0]!.noticeNo, made[0]!.paymentCode, `list-${mode}-1`]) {
      const hit = await list(
        `/v1/payment/payments?agencyCode=${AGENCY}&number=${encodeURIComponent(number)}`,
      );
      expect(
        hit.items.map((p) => p.id),
        number,
      ).toEqual([made[0]!.id]);
    }
    const later = await list(`/v1/payment/payments?agencyCode=${AGENCY}&from=2099-01-01`);
    expect(later.total).toBe(0);
  });

  it("a clerk of JJ-01 sees JJ-01's payments only", async () => {
    // As the gateway asserts a clerk of JJ-01 (the clerk role's grant, scoped to the point).
    const clerk = {
      actor: "clerk.jj1",
      kind: "person" as const,
      agency: AGENCY,
      grants: [
        { permissions: ["payment.read" as const], scope: "points" as const, issuingPoints: ["JJ-01"] },
      ],
    };
    const mine = await list(`/v1/payment/payments?agencyCode=${AGENCY}`, clerk);
    expect(mine.items.map((p) => p.issuingPointCode)).toEqual(["JJ-01", "JJ-01"]);
    expect(mine.total).toBe(2);
  });

  it("lists refunds and day-end runs (none yet), refuses bad input naming the field and another agency", async () => {
    expect(await list(`/v1/payment/refunds?agencyCode=${AGENCY}&status=AWAITING_APPROVAL`)).toEqual({
      total: 0,
      items: [],
    });
    expect(await list(`/v1/payment/reconciliations?agencyCode=${AGENCY}&channel=alipay`)).toEqual({
      total: 0,
      items: [],
    });
    for (const [path, field] of [
      [`/v1/payment/payments?agencyCode=${AGENCY}&status=LOST`, "query.status"],
      [`/v1/payment/payments?agencyCode=${AGENCY}&limit=500`, "query.limit"],
      [`/v1/payment/payments?agencyCode=${AGENCY}&from=2026-02-01&to=2026-01-01`, "query.to"],
      [`/v1/payment/refunds?agencyCode=${AGENCY}&from=yesterday`, "query.from"],
      [`/v1/payment/reconciliations?agencyCode=${AGENCY}&offset=-1`, "query.offset"],
    ] as const) {
      const res = await t.call("GET", path);
      expect([res.status, (res.body.issues as Array<{ field: string }>)?.[0]?.field], path).toEqual([
        400,
        field,
      ]);
    }
    const other = await t.call("GET", "/v1/payment/payments?agencyCode=110101");
    expect(other.status).toBe(403);
  });
});
