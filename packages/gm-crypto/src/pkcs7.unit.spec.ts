import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as asn1js from "asn1js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GmCryptoError } from "./errors.ts";
import { generateSm2KeyPair, type Sm2PrivateKey } from "./keys.ts";
import {
  createEnvelopedData,
  createSignedData,
  createSignedDataFromDigest,
  openEnvelopedData,
  parseSignedData,
  verifySignedData,
} from "./pkcs7.ts";
import { verify } from "./signature.ts";
import { createSm3, sm3 } from "./sm3.ts";
import { type Certificate, DevCa } from "./x509.ts";

const dir = mkdtempSync(join(tmpdir(), "gm-pkcs7-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
function tmp(content?: Uint8Array | string): string {
  const file = join(dir, `f${seq++}`);
  if (content !== undefined) writeFileSync(file, content);
  return file;
}
function openssl(args: string[]): Buffer {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

function caught(fn: () => unknown): GmCryptoError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GmCryptoError);
    return e as GmCryptoError;
  }
  throw new Error("expected a GmCryptoError");
}

/** The receipt bytes the agency signs: Header + EInvoiceData. */
const receipt = Buffer.from(
  "<Header><EInvoiceID>0000000001-11010124</EInvoiceID><EInvoiceTag>CZ-EI-11</EInvoiceTag><Version>1.1.0</Version></Header>" +
    "<EInvoiceData><TotalAmount>100.00</TotalAmount><PayerPartyName>张三</PayerPartyName></EInvoiceData>",
);

let ca: DevCa;
let signKey: Sm2PrivateKey;
let signCert: Certificate;
let encKeys: Sm2PrivateKey[];
let encCerts: Certificate[];

beforeAll(async () => {
  ca = await DevCa.create({ name: "Piaoju Dev CA" });
  signKey = generateSm2KeyPair();
  signCert = ca.issue({
    subject: { commonName: "某某单位 签名" },
    publicKey: signKey.publicKey,
    usage: "sign",
  });
  encKeys = [generateSm2KeyPair(), generateSm2KeyPair(), generateSm2KeyPair()];
  encCerts = encKeys.map((k, i) =>
    ca.issue({ subject: { commonName: `recipient ${i}` }, publicKey: k.publicKey, usage: "encrypt" }),
  );
});

describe("SignedData (GM/T 0010)", () => {
  it("attached: verifies, and gives back the content, the signer and the signing time", () => {
    const signingTime = new Date("2026-03-04T05:06:07.890Z");
    const der = createSignedData({
      content: receipt,
      detached: false,
      signerKey: signKey,
      signerCert: signCert,
      signingTime,
    });
    const r = verifySignedData(der);
    expect(r.valid).toBe(true);
    expect(Buffer.from(r.content!)).toEqual(receipt);
    expect(r.signer!.equals(signCert)).toBe(true);
    expect(r.signingTime).toEqual(new Date("2026-03-04T05:06:07Z"));
  });

  it("detached: needs the content, and refuses other content", () => {
    const der = createSignedData({
      content: receipt,
      detached: true,
      signerKey: signKey,
      signerCert: signCert,
    });
    expect(parseSignedData(der).content).toBeUndefined();
    expect(verifySignedData(der, { content: receipt }).valid).toBe(true);
    expect(verifySignedData(der)).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/pass the content/),
    });
    const other = Buffer.from(receipt);
    other[other.length - 20]! ^= 1;
    expect(verifySignedData(der, { content: other })).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/messageDigest/),
    });
  });

  it("uses the GM/T 0010 OIDs and the SM2 signature covers the DER SET of the authenticated attributes", () => {
    const der = createSignedData({
      content: receipt,
      detached: true,
      signerKey: signKey,
      signerCert: signCert,
    });
    const info = parseSignedData(der);
    expect(info.contentType).toBe("1.2.156.10197.6.1.4.2.1");
    const s = info.signers[0]!;
    expect(s.digestAlgorithm).toBe("1.2.156.10197.1.401");
    expect(s.signatureAlgorithm).toBe("1.2.156.10197.1.501"); // SM2-with-SM3 by default (ADR 0007)
    expect(s.contentType).toBe("1.2.156.10197.6.1.4.2.1");
    expect(s.messageDigest).toEqual(sm3(receipt));
    expect(s.signedAttributes![0]).toBe(0x31);
    expect(verify(s.signedAttributes!, s.signature, signCert.publicKey)).toBe(true);
    expect(s.issuerDer).toEqual(signCert.issuerDer);
    expect(s.serial).toBe(signCert.serial);
  });

  it("from a streamed SM3 digest: the same detached SignedData as createSignedData", () => {
    const big = randomBytes(3 * 1024 * 1024 + 17);
    const h = createSm3();
    for (let i = 0; i < big.length; i += 65536) h.update(big.subarray(i, i + 65536));
    const signingTime = new Date("2026-01-01T00:00:00Z");
    const common = { signerKey: signKey, signerCert: signCert, signingTime };
    const fromDigest = createSignedDataFromDigest({ ...common, digest: h.digest() });
    const whole = createSignedData({ ...common, content: big, detached: true });
    expect(verifySignedData(fromDigest, { content: big }).valid).toBe(true);
    const a = parseSignedData(fromDigest);
    const b = parseSignedData(whole);
    expect(a.signers[0]!.signedAttributes).toEqual(b.signers[0]!.signedAttributes);
    // Only the (randomised) SM2 signature differs: r and s are 33 bytes in DER when their top bit
    // is set and 31 (or fewer) about 1 time in 256, so the lengths differ by up to 4.
    expect(Math.abs(fromDigest.length - whole.length)).toBeLessThanOrEqual(4);
  });

  it("a tampered carried content, attribute or signature is refused", () => {
    const der = createSignedData({
      content: receipt,
      detached: false,
      signerKey: signKey,
      signerCert: signCert,
    });
    const contentAt = der.indexOf(receipt);
    const c = Buffer.from(der);
    c[contentAt + 10]! ^= 1;
    expect(verifySignedData(c)).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/messageDigest/),
    });

    // signingTime "YYMMDDhhmmssZ": change a digit of the seconds inside the signed attributes
    const info = parseSignedData(der);
    const attrsAt = der.indexOf(info.signers[0]!.signedAttributes!.subarray(1));
    const timeAt = der.indexOf(Buffer.from([0x17, 0x0d]), attrsAt) + 2;
    const t = Buffer.from(der);
    t[timeAt + 11] = t[timeAt + 11] === 0x30 ? 0x31 : 0x30;
    expect(verifySignedData(t)).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/does not verify/),
    });

    const sig = info.signers[0]!.signature;
    const sigAt = der.indexOf(sig);
    const s = Buffer.from(der);
    s[sigAt + sig.length - 1]! ^= 1; // last byte of s: still DER
    expect(verifySignedData(s)).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/does not verify/),
    });
  });

  it("a wrong or missing certificate is refused", async () => {
    const der = createSignedData({
      content: receipt,
      detached: true,
      signerKey: signKey,
      signerCert: signCert,
      includeCertificates: false,
    });
    expect(verifySignedData(der, { content: receipt })).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/neither carried nor given/),
    });
    expect(verifySignedData(der, { content: receipt, certificates: [signCert] }).valid).toBe(true);
    // Another CA with the same name issuing the same serial to another key: found, but does not verify.
    const impostorCa = await DevCa.create({ name: "Piaoju Dev CA" });
    const impostor = impostorCa.issue({
      subject: { commonName: "某某单位 签名" },
      publicKey: generateSm2KeyPair().publicKey,
      usage: "sign",
      serial: signCert.serial,
    });
    expect(verifySignedData(der, { content: receipt, certificates: [impostor] })).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/does not verify/),
    });
    expect(
      caught(() =>
        createSignedData({ content: receipt, detached: true, signerKey: encKeys[0]!, signerCert: signCert }),
      ).code,
    ).toBe("BAD_KEY");
    expect(
      caught(() =>
        createSignedData({
          content: receipt,
          detached: true,
          signerKey: encKeys[0]!,
          signerCert: encCerts[0]!,
        }),
      ).code,
    ).toBe("BAD_CERTIFICATE");
  });

  it("with trusted roots, the signer must chain to one of them at the given time", async () => {
    const der = createSignedData({
      content: receipt,
      detached: true,
      signerKey: signKey,
      signerCert: signCert,
    });
    expect(verifySignedData(der, { content: receipt, trusted: [ca.certificate] }).valid).toBe(true);
    const other = await DevCa.create({ name: "Other CA" });
    expect(verifySignedData(der, { content: receipt, trusted: [other.certificate] })).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/certificate chain: no issuer/),
    });
    const later = new Date(Date.now() + 2 * 365 * 86_400_000);
    expect(verifySignedData(der, { content: receipt, trusted: [ca.certificate], at: later })).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/not valid at/),
    });
  });

  it("the SM2 user ID is part of the signature: the verifier must use the signer's", () => {
    const der = createSignedData({
      content: receipt,
      detached: false,
      signerKey: signKey,
      signerCert: signCert,
      userId: "agency-001",
    });
    expect(verifySignedData(der).valid).toBe(false);
    expect(verifySignedData(der, { userId: "agency-001" }).valid).toBe(true);
  });

  it("truncated or junk DER is always a BAD_PKCS7 GmCryptoError, never another exception", () => {
    const der = createSignedData({
      content: receipt,
      detached: false,
      signerKey: signKey,
      signerCert: signCert,
    });
    for (let n = 0; n < der.length; n++) {
      expect(caught(() => verifySignedData(der.subarray(0, n), { content: receipt })).code).toBe("BAD_PKCS7");
    }
    expect(caught(() => verifySignedData(Buffer.from("hello"))).code).toBe("BAD_PKCS7");
    const env = createEnvelopedData({ content: receipt, recipients: [encCerts[0]!] });
    expect(caught(() => verifySignedData(env)).code).toBe("BAD_PKCS7"); // an EnvelopedData is not a SignedData
    // Flipped bytes anywhere: a verdict or a GmCryptoError, never another exception.
    for (let i = 0; i < der.length; i++) {
      const x = Buffer.from(der);
      x[i]! ^= 0x5a;
      let result: ReturnType<typeof verifySignedData> | undefined;
      try {
        result = verifySignedData(x, { trusted: [ca.certificate] });
      } catch (e) {
        expect(e).toBeInstanceOf(GmCryptoError);
      }
      // Valid only where the byte is outside what is signed and checked (version numbers, the
      // digestAlgorithms set): then the content verified is still the original.
      if (result?.valid) expect(Buffer.from(result.content!)).toEqual(receipt);
    }
  }, 60_000); // one verification per truncation and per flipped byte: seconds on a loaded 2-core machine

  it("openssl asn1parse reads the SignedData; openssl checks the signature over the extracted attributes and the digest", () => {
    const der = createSignedData({
      content: receipt,
      detached: true,
      signerKey: signKey,
      signerCert: signCert,
    });
    const text = openssl(["asn1parse", "-inform", "DER", "-in", tmp(der)]).toString();
    expect(text).toContain("1.2.156.10197.6.1.4.2.2");
    expect(text).toContain("1.2.156.10197.6.1.4.2.1");
    expect(text).toMatch(/1\.2\.156\.10197\.1\.501|SM2-with-SM3/);
    expect(text).toMatch(/messageDigest/);
    expect(text).toMatch(/signingTime/);
    const s = parseSignedData(der).signers[0]!;
    const pub = tmp(signCert.publicKey.toPem());
    openssl([
      "pkeyutl",
      "-verify",
      "-rawin",
      "-digest",
      "sm3",
      "-pkeyopt",
      "distid:1234567812345678",
      "-pubin",
      "-inkey",
      pub,
      "-in",
      tmp(s.signedAttributes!),
      "-sigfile",
      tmp(s.signature),
    ]); // throws if OpenSSL disagrees
    const dgst = openssl(["dgst", "-sm3", "-binary", tmp(receipt)]);
    expect(dgst).toEqual(s.messageDigest);
  });

  it("OpenSSL 3.0's cms cannot verify it (GM content types and SM2 in CMS are unknown to it)", () => {
    const der = createSignedData({
      content: receipt,
      detached: false,
      signerKey: signKey,
      signerCert: signCert,
    });
    expect(() =>
      openssl([
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        tmp(der),
        "-CAfile",
        tmp(ca.certificate.toPem()),
        "-binary",
      ]),
    ).toThrow();
  });
});

describe("EnvelopedData (GM/T 0010)", () => {
  it("every recipient opens it; the content comes back", () => {
    const env = createEnvelopedData({ content: receipt, recipients: encCerts });
    encKeys.forEach((key, i) => {
      expect(openEnvelopedData(env, { key, cert: encCerts[i]! })).toEqual(receipt);
    });
    const empty = createEnvelopedData({ content: new Uint8Array(0), recipients: [encCerts[1]!] });
    expect(openEnvelopedData(empty, { key: encKeys[1]!, cert: encCerts[1]! })).toHaveLength(0);
    const big = randomBytes(1_000_003);
    const bigEnv = createEnvelopedData({ content: big, recipients: [encCerts[2]!] });
    expect(openEnvelopedData(bigEnv, { key: encKeys[2]!, cert: encCerts[2]! }).equals(big)).toBe(true);
  });

  it("someone else is NOT_A_RECIPIENT; a key that is not the certificate's is BAD_KEY", () => {
    const env = createEnvelopedData({ content: receipt, recipients: encCerts.slice(0, 2) });
    expect(caught(() => openEnvelopedData(env, { key: encKeys[2]!, cert: encCerts[2]! })).code).toBe(
      "NOT_A_RECIPIENT",
    );
    expect(caught(() => openEnvelopedData(env, { key: encKeys[2]!, cert: encCerts[0]! })).code).toBe(
      "BAD_KEY",
    );
  });

  it("a tampered encrypted key or a ciphertext of a wrong length is DECRYPT_FAILED", () => {
    const env = createEnvelopedData({ content: receipt, recipients: [encCerts[0]!] });
    // the C3 hash inside the GM/T 0009 ciphertext: SEQUENCE { x, y, OCTET STRING(32) C3, OCTET STRING C2 }
    const c3At = env.indexOf(Buffer.from([0x04, 0x20])) + 2;
    const k = Buffer.from(env);
    k[c3At]! ^= 1;
    expect(caught(() => openEnvelopedData(k, { key: encKeys[0]!, cert: encCerts[0]! })).code).toBe(
      "DECRYPT_FAILED",
    );
    // encryptedContent one byte short of whole SM4 blocks, re-encoded with asn1js
    const ci = asn1js.fromBER(env).result as asn1js.Sequence;
    const ed = (ci.valueBlock.value[1] as asn1js.Constructed).valueBlock.value[0] as asn1js.Sequence;
    const eci = ed.valueBlock.value[2] as asn1js.Sequence;
    const encrypted = eci.valueBlock.value[2] as asn1js.Primitive;
    encrypted.valueBlock.valueHexView = encrypted.valueBlock.valueHexView.slice(1);
    const short = Buffer.from(ci.toBER());
    expect(short.length).toBe(env.length - 1);
    expect(caught(() => openEnvelopedData(short, { key: encKeys[0]!, cert: encCerts[0]! })).code).toBe(
      "DECRYPT_FAILED",
    );
  });

  it("truncated DER is BAD_PKCS7 at every length", () => {
    const env = createEnvelopedData({ content: receipt, recipients: [encCerts[0]!] });
    for (let n = 0; n < env.length; n++) {
      expect(
        caught(() => openEnvelopedData(env.subarray(0, n), { key: encKeys[0]!, cert: encCerts[0]! })).code,
      ).toBe("BAD_PKCS7");
    }
    const sd = createSignedData({
      content: receipt,
      detached: false,
      signerKey: signKey,
      signerCert: signCert,
    });
    expect(caught(() => openEnvelopedData(sd, { key: encKeys[0]!, cert: encCerts[0]! })).code).toBe(
      "BAD_PKCS7",
    );
  });

  it("refuses a recipient certificate that is for signing only", () => {
    expect(caught(() => createEnvelopedData({ content: receipt, recipients: [signCert] })).code).toBe(
      "BAD_CERTIFICATE",
    );
    expect(caught(() => createEnvelopedData({ content: receipt, recipients: [] })).code).toBe("BAD_INPUT");
  });

  it("openssl asn1parse reads it; openssl pkeyutl and enc -sm4-cbc decrypt the extracted key and content", () => {
    const env = createEnvelopedData({ content: receipt, recipients: [encCerts[0]!, encCerts[1]!] });
    const text = openssl(["asn1parse", "-inform", "DER", "-in", tmp(env)]).toString();
    expect(text).toContain("1.2.156.10197.6.1.4.2.3");
    expect(text).toContain("1.2.156.10197.1.301.3");
    expect(text).toMatch(/SM4-CBC|sm4-cbc|1\.2\.156\.10197\.1\.104\.2/);
    // The pieces, where openssl's own parser says they are (offset + header length, length).
    const lines = text.split("\n");
    const bytesAt = (line: string): Buffer => {
      const m = /^\s*(\d+):d=\s*\d+\s+hl=\s*(\d+)\s+l=\s*(\d+)/.exec(line)!;
      const start = Number(m[1]) + Number(m[2]);
      return env.subarray(start, start + Number(m[3]));
    };
    const octetLines = lines.filter((l) => l.includes("OCTET STRING"));
    expect(octetLines).toHaveLength(3); // two encrypted keys, then the IV
    const keyFile = tmp(encKeys[0]!.toPem());
    const keys = octetLines.slice(0, 2).flatMap((line) => {
      try {
        return [openssl(["pkeyutl", "-decrypt", "-inkey", keyFile, "-in", tmp(bytesAt(line))])];
      } catch {
        return []; // the other recipient's
      }
    });
    expect(keys).toHaveLength(1);
    const sm4Key = keys[0]!;
    expect(sm4Key).toHaveLength(16);
    const iv = bytesAt(octetLines[2]!);
    const ciphertext = bytesAt(lines.filter((l) => l.includes("cont [ 0 ]")).at(-1)!);
    const plain = openssl([
      "enc",
      "-d",
      "-sm4-cbc",
      "-K",
      sm4Key!.toString("hex"),
      "-iv",
      iv.toString("hex"),
      "-in",
      tmp(ciphertext),
    ]);
    expect(plain).toEqual(receipt);
  });
});
