import { contentToVerify, withSignatures } from "@piaoju/contracts";
import { signatureStamp, sm3 } from "@piaoju/gm-crypto";
import { describe, expect, it } from "vitest";
import { twoSidedSigners } from "../testing/fixtures.ts";
import { verifyServedDocument } from "./verify.ts";

const UNSIGNED = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?><EInvoice><Header><Version>1.2.0</Version></Header>' +
    "<EInvoiceData><Main><PayerPartyName>张三</PayerPartyName><TotalAmount>120.00</TotalAmount></Main></EInvoiceData></EInvoice>",
  "utf8",
);

/** 签名验证 of the document as served: what the console's receipt detail shows. */
describe("the served document's signatures, verified with their paths", () => {
  it("both valid and chained; a changed byte, a missing or a misplaced signature each show which side fails", async () => {
    const { agencyCa, agencyCert, financeCert, sign } = await twoSidedSigners("agency-110101");
    const content = contentToVerify(UNSIGNED);
    const agency = sign("agency", content);
    const finance = sign("finance", content);
    const recorded = sm3(UNSIGNED).toString("hex");
    const trusted = { agency: [agencyCa.certificate], finance: [financeCert] };
    const at = new Date();
    const served = withSignatures(UNSIGNED, {
      agency: signatureStamp(agency),
      finance: signatureStamp(finance),
    });

    const good = verifyServedDocument(served, recorded, trusted, at, at);
    expect(good).toMatchObject({
      documentVersion: "1.2.0",
      documentIntact: true,
      computedSm3: recorded,
      authentic: true,
    });
    expect(good.agency.chain.map((l) => [l.subject, l.trusted])).toEqual([
      [agencyCert.subject.text, false],
      [agencyCa.certificate.subject.text, true],
    ]);
    expect(good.agency.chained).toBe(true);
    // Finance's supervision certificate is pinned itself: a path of one, trusted.
    expect(good.finance.chain.map((l) => l.trusted)).toEqual([true]);

    // One byte of the data changed (the amount): the SM3 and both signatures fail.
    const tampered = Buffer.from(served.toString("utf8").replace("120.00", "121.00"), "utf8");
    const bad = verifyServedDocument(tampered, recorded, trusted, at, at);
    expect([bad.documentIntact, bad.agency.valid, bad.finance.valid, bad.authentic]).toEqual([
      false,
      false,
      false,
      false,
    ]);

    // Only the agency's signature in the document: finance's is reported missing.
    const half = withSignatures(UNSIGNED, { agency: signatureStamp(agency) });
    const partial = verifyServedDocument(half, recorded, trusted, at, at);
    expect([partial.agency.valid, partial.finance.present, partial.authentic]).toEqual([true, false, false]);

    // The agency's signature where finance's belongs: it does not chain to finance's trust.
    const swapped = withSignatures(UNSIGNED, {
      agency: signatureStamp(agency),
      finance: signatureStamp(agency),
    });
    const wrong = verifyServedDocument(swapped, recorded, trusted, at, at);
    expect([wrong.agency.valid, wrong.finance.valid, wrong.finance.chained, wrong.authentic]).toEqual([
      true,
      false,
      false,
      false,
    ]);
  });
});
