import { createSignedData, DevCa, Sm2PrivateKey, sm3 } from "@piaoju/gm-crypto";
import { describe, expect, it } from "vitest";
import { verifyReceipt } from "./verify.ts";

describe("查验 trusts each side for its own signature", () => {
  it("refuses finance's certificate in the agency's place, which one list for both sides would take", async () => {
    const agencyCa = await DevCa.create({ name: "agency CA" });
    const financeCa = await DevCa.create({ name: "finance CA" });
    const agencyKey = Sm2PrivateKey.generate();
    const financeKey = Sm2PrivateKey.generate();
    const agencyCert = agencyCa.issue({
      subject: { commonName: "agency" },
      publicKey: agencyKey.publicKey,
      usage: "sign",
    });
    const financeCert = financeCa.issue({
      subject: { commonName: "finance" },
      publicKey: financeKey.publicKey,
      usage: "sign",
    });
    const document = Buffer.from("<EInvoice>…</EInvoice>");
    const sign = (key: Sm2PrivateKey, cert: typeof agencyCert) =>
      createSignedData({ content: document, detached: true, signerKey: key, signerCert: cert }).toString(
        "base64",
      );
    const receipt = {
      document: document.toString("base64"),
      documentSm3: sm3(document).toString("hex"),
      agencySignature: sign(agencyKey, agencyCert),
      financeSignature: sign(financeKey, financeCert),
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
