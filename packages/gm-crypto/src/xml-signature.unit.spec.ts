import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signatureRawToDer } from "./der-signature.ts";
import { GmCryptoError } from "./errors.ts";
import { generateSm2KeyPair, type Sm2PrivateKey } from "./keys.ts";
import { type Certificate, DevCa } from "./x509.ts";
import {
  signXml,
  verifyXml,
  XML_C14N_10,
  XML_EXC_C14N,
  XMLDSIG_SM2_SM3,
  XMLDSIG_SM2_SM3_LEGACY,
  XMLDSIG_SM3,
} from "./xml-signature.ts";

const dir = mkdtempSync(join(tmpdir(), "gm-xmldsig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
function tmp(content: Uint8Array | string): string {
  const file = join(dir, `f${seq++}`);
  writeFileSync(file, content);
  return file;
}
function openssl(args: string[]): Buffer {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

// A receipt document already in canonical form (double quotes, sorted attributes, no empty-element
// tags, no declaration), so the test can derive canonical bytes by hand and check them with openssl.
const RECEIPT =
  '<Receipt xmlns="urn:piaoju:receipt:v1" kind="blue" version="1.0"><Number>11010125000000123</Number>' +
  '<Payer name="张三" type="person"></Payer><Amount currency="CNY">120.50</Amount>' +
  '<Items><Item code="0101">护照</Item><Item code="0102">签注 &amp; 加急</Item></Items></Receipt>';

let ca: DevCa;
let key: Sm2PrivateKey;
let cert: Certificate;
let otherKey: Sm2PrivateKey;
let otherCert: Certificate;

beforeAll(async () => {
  ca = await DevCa.create({ name: "Piaoju XML Test CA" });
  key = generateSm2KeyPair();
  cert = ca.issue({ subject: { commonName: "agency-110101" }, publicKey: key.publicKey, usage: "sign" });
  otherKey = generateSm2KeyPair();
  otherCert = ca.issue({
    subject: { commonName: "agency-other" },
    publicKey: otherKey.publicKey,
    usage: "sign",
  });
});

function between(xml: string, open: string, close: string): string {
  const start = xml.indexOf(open);
  const end = xml.indexOf(close, start);
  expect(start).toBeGreaterThanOrEqual(0);
  return xml.slice(start, end + close.length);
}

function textOf(xml: string, element: string): string {
  const open = `<${element}>`;
  const start = xml.indexOf(open) + open.length;
  return xml.slice(start, xml.indexOf(`</${element}>`, start));
}

describe("signXml / verifyXml (enveloped, SM2/SM3, exclusive C14N 1.0)", () => {
  it("a signed receipt verifies, names the signer, and carries the algorithms and certificate it says", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert });
    expect(signed).toContain(`<ds:CanonicalizationMethod Algorithm="${XML_EXC_C14N}"`);
    expect(signed).toContain(`<ds:SignatureMethod Algorithm="${XMLDSIG_SM2_SM3}"`);
    expect(signed).toContain(`<ds:DigestMethod Algorithm="${XMLDSIG_SM3}"`);
    expect(signed).toContain('<ds:Reference URI="">');
    expect(textOf(signed, "ds:X509Certificate").replace(/\s/g, "")).toBe(
      Buffer.from(cert.toDer()).toString("base64"),
    );
    // the signature is the last child of the document element
    expect(signed.endsWith("</ds:Signature></Receipt>")).toBe(true);
    const result = verifyXml(signed, { expectedCertificate: cert, trusted: [ca.certificate] });
    expect(result).toMatchObject({ valid: true });
    expect(result.signer?.fingerprintSm3()).toBe(cert.fingerprintSm3());
  });

  it("inclusive Canonical XML 1.0 is available too and verifies", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert, canonicalization: "inclusive" });
    expect(signed).toContain(`Algorithm="${XML_C14N_10}"`);
    expect(verifyXml(signed).valid).toBe(true);
  });

  it("the older W3C-namespace SM2-SM3 SignatureMethod can be written for older peers and is read", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert, signatureMethod: XMLDSIG_SM2_SM3_LEGACY });
    expect(signed).toContain(`<ds:SignatureMethod Algorithm="${XMLDSIG_SM2_SM3_LEGACY}"`);
    expect(verifyXml(signed, { expectedCertificate: cert }).valid).toBe(true);
  });

  it("a custom SM2 user ID must be given to the verifier as well", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert, userId: "agency@110101" });
    expect(verifyXml(signed, { userId: "agency@110101" }).valid).toBe(true);
    const wrong = verifyXml(signed);
    expect(wrong.valid).toBe(false);
    expect(wrong.reason).toMatch(/SignatureValue does not match/);
  });

  it("a changed text node is refused: the document digest no longer matches", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert });
    const result = verifyXml(signed.replace("120.50", "1200.50"));
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/changed after it was signed/);
  });

  it("a changed attribute is refused", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert });
    const result = verifyXml(signed.replace('kind="blue"', 'kind="red"'));
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/changed after it was signed/);
  });

  it("a changed SignatureValue is refused", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert });
    const value = textOf(signed, "ds:SignatureValue");
    const bytes = Buffer.from(value, "base64");
    bytes[10] = (bytes[10] ?? 0) ^ 0x01;
    const result = verifyXml(signed.replace(value, bytes.toString("base64")));
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/SignatureValue does not match/);
  });

  it("a changed DigestValue (SignedInfo) is refused", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert });
    const digest = textOf(signed, "ds:DigestValue");
    const forged = Buffer.from(digest, "base64");
    forged[0] = (forged[0] ?? 0) ^ 0xff;
    const result = verifyXml(signed.replace(digest, forged.toString("base64")));
    expect(result.valid).toBe(false);
  });

  it("changes that exclusive C14N 1.0 erases are not changes: attribute order and quotes, empty-element tags, character references, whitespace inside tags, an XML declaration", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert });
    const reformatted = signed
      .replace('kind="blue" version="1.0"', "version='1.0'   kind=\"blue\"")
      .replace('<Payer name="张三" type="person"></Payer>', '<Payer type="person"\n  name="&#x5F20;三"/>')
      .replace("<Number>", "<Number >");
    expect(reformatted).not.toBe(signed);
    expect(verifyXml(`<?xml version="1.0" encoding="UTF-8"?>\n${reformatted}`).valid).toBe(true);
  });

  it("whitespace text between elements is content under C14N and is refused when added", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert });
    const result = verifyXml(signed.replace("<Items>", "<Items>\n  "));
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/changed after it was signed/);
  });

  it("a signature made with another certificate than the expected one is refused", () => {
    const signed = signXml(RECEIPT, { key: otherKey, certificate: otherCert });
    expect(verifyXml(signed).valid).toBe(true);
    const result = verifyXml(signed, { expectedCertificate: cert });
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/not the expected/);
  });

  it("a KeyInfo certificate swapped for another (with the signature kept) is refused", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert });
    const swapped = signed.replace(
      textOf(signed, "ds:X509Certificate"),
      Buffer.from(otherCert.toDer()).toString("base64"),
    );
    const result = verifyXml(swapped);
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/SignatureValue does not match/);
  });

  it("a certificate from an untrusted CA is refused when trust anchors are given", async () => {
    const otherCa = await DevCa.create({ name: "Someone Else's CA" });
    const signed = signXml(RECEIPT, { key, certificate: cert });
    const result = verifyXml(signed, { trusted: [otherCa.certificate] });
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/not trusted/);
  });

  it("RSA/SHA algorithms are not accepted in place of SM2/SM3", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert });
    const result = verifyXml(signed.replace(XMLDSIG_SM3, "http://www.w3.org/2001/04/xmlenc#sha256"));
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/not accepted|not supported/);
  });

  it("bad input is a GmCryptoError: malformed XML, no signature, two signatures, key and certificate that do not match", () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(GmCryptoError);
        return (error as GmCryptoError).code;
      }
      return "no error";
    };
    expect(code(() => signXml("<Receipt><a></Receipt>", { key, certificate: cert }))).toBe("BAD_XML");
    expect(code(() => verifyXml(RECEIPT))).toBe("BAD_XML");
    const signed = signXml(RECEIPT, { key, certificate: cert });
    expect(code(() => signXml(signed, { key, certificate: cert }))).toBe("BAD_XML");
    const sig = between(signed, "<ds:Signature", "</ds:Signature>");
    expect(code(() => verifyXml(signed.replace("</Receipt>", `${sig}</Receipt>`)))).toBe("BAD_XML");
    expect(code(() => signXml(RECEIPT, { key, certificate: otherCert }))).toBe("BAD_KEY");
  });
});

describe("cross-check with the openssl CLI (canonical bytes derived by hand from the C14N rules)", () => {
  it("openssl computes the same SM3 DigestValue and verifies the SM2 SignatureValue over the canonical SignedInfo", () => {
    const signed = signXml(RECEIPT, { key, certificate: cert });

    // Enveloped-signature transform + exc-c14n of a document already in canonical form: the
    // document without the ds:Signature element.
    const signature = between(signed, "<ds:Signature", "</ds:Signature>");
    const canonicalDocument = signed
      .replace(signature, "")
      .replace(/<([A-Za-z]+)([^<>]*?)\/>/g, "<$1$2></$1>");
    expect(canonicalDocument).toBe(RECEIPT);
    const digest = openssl(["dgst", "-sm3", "-binary", tmp(canonicalDocument)]);
    expect(textOf(signed, "ds:DigestValue")).toBe(digest.toString("base64"));

    // Exclusive C14N of SignedInfo: the visibly used ds namespace declared on it, empty-element
    // tags written as start + end tags.
    const signedInfo = between(signed, "<ds:SignedInfo>", "</ds:SignedInfo>")
      .replace("<ds:SignedInfo>", `<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">`)
      .replace(/<(ds:[A-Za-z]+)([^<>]*?)\/>/g, "<$1$2></$1>");
    const signatureDer = signatureRawToDer(Buffer.from(textOf(signed, "ds:SignatureValue"), "base64"));
    const out = openssl([
      "pkeyutl",
      "-verify",
      "-pubin",
      "-inkey",
      tmp(key.publicKey.toPem()),
      "-rawin",
      "-digest",
      "sm3",
      "-pkeyopt",
      "distid:1234567812345678",
      "-in",
      tmp(signedInfo),
      "-sigfile",
      tmp(signatureDer),
    ]);
    expect(out.toString()).toMatch(/Signature Verified Successfully/);
  });
});
