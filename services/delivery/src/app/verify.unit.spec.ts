import { sm3 } from "@piaoju/gm-crypto";
import { describe, expect, it } from "vitest";
import { twoSidedSigners } from "../testing/fixtures.ts";
import { verifyReceipt } from "./verify.ts";

describe("查验 trusts each side for its own signature", () => {
  it("refuses finance's certificate in the agency's place, which one list for both sides would take", async () => {
    const { agencyCa, financeCert, sign } = await twoSidedSigners();
    const document = Buffer.from("<EInvoice>…</EInvoice>");
    const receipt = {
      document: document.toString("base64"),
      documentSm3: sm3(document).toString("hex"),
      agencySignature: sign("agency", document),
      financeSignature: sign("finance", document),
    };
    const at = new Date();
    const trusted = { agency: [agencyCa.certificate], finance: [financeCert] };
    expect(verifyReceipt(receipt, trusted, at)).toMatchObject({ authentic: true, chained: true });

    // Finance's signature (its pinned certificate) where the agency's belongs.
    const swapped = { ...receipt, agencySignature: receipt.financeSignature };
    expect(verifyReceipt(swapped, trusted, at)).toMatchObject({
      authentic: false,
      agency: { valid: false, reason: expect.stringContaining("certificate chain") },
      finance: { valid: true },
    });
    const oneList = [agencyCa.certificate, financeCert];
    expect(verifyReceipt(swapped, { agency: oneList, finance: oneList }, at).authentic).toBe(true);
  });

  it("says it chained to nothing while no certificate is known for a side", () => {
    const document = Buffer.from("x");
    const r = {
      document: document.toString("base64"),
      documentSm3: sm3(document).toString("hex"),
      agencySignature: "",
      financeSignature: "",
    };
    expect(verifyReceipt(r, { agency: [], finance: [] }, new Date()).chained).toBe(false);
  });
});
