import { randomBytes } from "node:crypto";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startNontaxPeer } from "../../../test/support/payment.ts";
import { isValidPaymentCode } from "./domain/payment-code.ts";
import { paymentService } from "./main.ts";

const AGENCY = "230105";

/**
 * With PIAOJU_NONTAX_URL set, the notice and its payment code come from finance's non-tax system
 * (the finance simulator here), signed per agency; the code validates under Piaoju's own rule.
 */
describe("payment notices from the non-tax system (embedded)", () => {
  let t: TestPlatform;
  let peer: Awaited<ReturnType<typeof startNontaxPeer>>;

  beforeAll(async () => {
    peer = await startNontaxPeer(AGENCY, "230100");
    t = await startTestPlatform({
      mode: "embedded",
      services: [paymentService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "app:police", "x-piaoju-agencies": AGENCY },
      env: { PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"), ...peer.env },
    });
  });
  afterAll(async () => {
    await t?.stop();
    await peer?.stop();
  });

  const request = (bizSerialNo: string, agencyCode = AGENCY) => ({
    agencyCode,
    bizSerialNo,
    payer: { type: 1, code: "230102199003077777", name: "王五" },
    items: [{ itemCode: "FK01", quantity: "1", amountFen: 20000 }],
    issuingPointCode: "JJ-01",
    billCode: "23010526",
  });

  it("takes the notice and code the non-tax system made, once per serial", async () => {
    const first = await t.call("POST", "/v1/payments", request("NT-1"));
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const code = String(first.body.paymentCode);
    expect(code).toMatch(/^230100/);
    expect(isValidPaymentCode(code)).toBe(true);
    expect(String(first.body.noticeNo)).toBe(`FS${code}`);
    const again = await t.call("POST", "/v1/payments", request("NT-1"));
    expect(again.status).toBe(200);
    expect(again.body.paymentCode).toBe(code);
  });

  it("refuses, changing nothing, when the non-tax system does not know the agency", async () => {
    const res = await t.call("POST", "/v1/payments", request("NT-2", "230199"), {
      "x-piaoju-actor": "app:police",
      "x-piaoju-agencies": "230199",
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("NONTAX_NOT_CONFIGURED");
    const found = await t.call("GET", "/v1/payments?agencyCode=230199&bizSerialNo=NT-2", undefined, {
      "x-piaoju-actor": "app:police",
      "x-piaoju-agencies": "230199",
    });
    expect(found.body.items).toEqual([]);
  });
});
