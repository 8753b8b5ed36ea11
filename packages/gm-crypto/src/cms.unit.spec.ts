import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createCmsDetached } from "./cms.ts";
import { Sm2PrivateKey } from "./keys.ts";
import { parseSignedData, verifySignedData } from "./pkcs7.ts";
import { sign } from "./signature.ts";
import { sm3 } from "./sm3.ts";
import { DevCa } from "./x509.ts";

const content = Buffer.from("%PDF-1.3 the bytes of a ByteRange");

async function signed() {
  const ca = await DevCa.create({ name: "CMS Test CA" });
  const key = Sm2PrivateKey.generate();
  const cert = ca.issue({ subject: { commonName: "执收单位" }, publicKey: key.publicKey, usage: "sign" });
  const signingTime = new Date("2026-12-04T10:00:00Z");
  const cms = await createCmsDetached({
    digest: sm3(content),
    signerCert: cert,
    chain: [ca.certificate],
    signingTime,
    sign: async (attributes) => sign(attributes, key),
  });
  return { ca, cert, cms, signingTime };
}

describe("createCmsDetached: RFC 5652 SignedData with SM2/SM3, signed by a callback", () => {
  it("verifies over the content, chains to the CA, carries the signing time, and names the international OIDs", async () => {
    const { ca, cert, cms, signingTime } = await signed();
    const result = verifySignedData(cms, { content, trusted: [ca.certificate] });
    expect(result.valid).toBe(true);
    expect(result.signer?.fingerprintSm3()).toBe(cert.fingerprintSm3());
    expect(result.signingTime?.getTime()).toBe(signingTime.getTime());
    const info = parseSignedData(cms);
    expect(info.contentType).toBe("1.2.840.113549.1.7.1");
    expect(info.content).toBeUndefined();
    expect(info.signers[0]!.signatureAlgorithm).toBe("1.2.156.10197.1.501");
    expect(verifySignedData(cms, { content: Buffer.concat([content, Buffer.from("x")]) }).valid).toBe(false);
  });

  it("is read by the openssl CLI as a CMS with SM3, SM2-with-SM3 and signingCertificateV2", async () => {
    const { cms } = await signed();
    const dir = mkdtempSync(join(tmpdir(), "gm-cms-"));
    writeFileSync(join(dir, "cms.der"), cms);
    const printed = execFileSync(
      "openssl",
      ["cms", "-cmsout", "-print", "-noout", "-inform", "DER", "-in", join(dir, "cms.der")],
      {
        encoding: "utf8",
      },
    );
    expect(printed).toContain("contentType: pkcs7-signedData (1.2.840.113549.1.7.2)");
    expect(printed).toContain("eContentType: pkcs7-data (1.2.840.113549.1.7.1)");
    expect(printed).toContain("sm3 (1.2.156.10197.1.401)");
    expect(printed).toContain("SM2-with-SM3 (1.2.156.10197.1.501)");
    expect(printed).toMatch(/id-smime-aa-signingCertificateV2|1\.2\.840\.113549\.1\.9\.16\.2\.47/);
  });

  it("refuses a signer that does not answer a DER signature", async () => {
    const ca = await DevCa.create({ name: "CMS Test CA" });
    const key = Sm2PrivateKey.generate();
    const cert = ca.issue({ subject: { commonName: "x" }, publicKey: key.publicKey, usage: "sign" });
    await expect(
      createCmsDetached({
        digest: sm3(content),
        signerCert: cert,
        signingTime: new Date(),
        sign: async () => Buffer.alloc(64, 1),
      }),
    ).rejects.toThrow(/DER SM2 signature/);
  });
});
