import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as asn1js from "asn1js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GmCryptoError } from "./errors.ts";
import { generateSm2KeyPair, Sm2PrivateKey } from "./keys.ts";
import { verify } from "./signature.ts";
import { sm3 } from "./sm3.ts";
import { buildCertificate, Certificate, DevCa, encodeName, keyIdentifier, verifyChain } from "./x509.ts";

const dir = mkdtempSync(join(tmpdir(), "gm-x509-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
function tmp(content?: Uint8Array | string): string {
  const file = join(dir, `f${seq++}`);
  if (content !== undefined) writeFileSync(file, content);
  return file;
}

function openssl(args: string[]): string {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
}

function opensslVerifies(caPem: string, leafPem: string, extra: string[]): boolean {
  try {
    openssl(["verify", ...extra, "-CAfile", tmp(caPem), tmp(leafPem)]);
    return true;
  } catch {
    return false;
  }
}

function expectCode(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(GmCryptoError);
  expect((caught as GmCryptoError).code).toBe(code);
}

let ca: DevCa;
let leafKey: Sm2PrivateKey;
let leaf: Certificate;

beforeAll(async () => {
  ca = await DevCa.create({ name: "Piaoju Dev CA 测试" });
  leafKey = generateSm2KeyPair();
  leaf = ca.issue({
    subject: { commonName: "北京市某某医院", organization: "某某医院", organizationalUnit: "财务处" },
    publicKey: leafKey.publicKey,
    usage: "sign",
    serial: 0x0102030405060708090a0b0c0d0e0f10n,
  });
});

describe("X.509 SM2 certificates", () => {
  it("a DevCa certificate carries what was asked: names, serial, key, validity, CA and key usages", () => {
    expect(leaf.subject.commonName).toBe("北京市某某医院");
    expect(leaf.subject.organization).toBe("某某医院");
    expect(leaf.subject.organizationalUnit).toBe("财务处");
    expect(leaf.issuer.commonName).toBe("Piaoju Dev CA 测试");
    expect(leaf.serialNumber).toBe("0102030405060708090a0b0c0d0e0f10");
    expect(leaf.publicKey.equals(leafKey.publicKey)).toBe(true);
    expect(leaf.isCa).toBe(false);
    expect(leaf.keyUsage).toEqual(["digitalSignature", "nonRepudiation"]);
    expect(ca.certificate.isCa).toBe(true);
    expect(ca.certificate.allows("keyCertSign")).toBe(true);
    const now = Date.now();
    expect(leaf.notBefore.getTime()).toBeLessThanOrEqual(now);
    expect(leaf.notAfter.getTime() - now).toBeGreaterThan(364 * 86_400_000);
    expect(leaf.signatureAlgorithm).toBe("1.2.156.10197.1.501");
  });

  it("encryption certificates allow key encipherment and not signing", () => {
    const enc = ca.issue({ subject: { commonName: "enc" }, publicKey: leafKey.publicKey, usage: "encrypt" });
    expect(enc.allows("keyEncipherment", "dataEncipherment")).toBe(true);
    expect(enc.allows("digitalSignature")).toBe(false);
    const both = ca.issue({
      subject: { commonName: "both" },
      publicKey: leafKey.publicKey,
      usage: "sign+encrypt",
    });
    expect(both.allows("digitalSignature", "keyEncipherment")).toBe(true);
  });

  it("round-trips through PEM and DER, and the SM3 fingerprint is SM3 of the DER", () => {
    const again = Certificate.fromPem(leaf.toPem());
    expect(again.equals(leaf)).toBe(true);
    expect(Certificate.fromDer(leaf.toDer()).toDer()).toEqual(leaf.toDer());
    expect(leaf.fingerprintSm3()).toBe(sm3(leaf.toDer()).toString("hex"));
    expect(Certificate.allFromPem(leaf.toPem() + ca.certificate.toPem())).toHaveLength(2);
  });

  it("openssl x509 parses our certificates and reads the same fields", () => {
    const text = openssl(["x509", "-in", tmp(leaf.toPem()), "-noout", "-text", "-nameopt", "utf8"]);
    expect(text).toContain("Signature Algorithm: SM2-with-SM3");
    expect(text).toContain("CN=北京市某某医院");
    expect(text).toContain("ASN1 OID: SM2");
    // A leaf carries no basicConstraints (an empty critical one is what GmSSL refuses; see x509.ts).
    expect(text).not.toContain("Basic Constraints");
    expect(text).toContain("Digital Signature, Non Repudiation");
    expect(text).toContain("01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10");
    const fp = openssl(["x509", "-in", tmp(leaf.toPem()), "-noout", "-fingerprint", "-sm3"]);
    expect(fp.split("=")[1]!.trim().replaceAll(":", "").toLowerCase()).toBe(leaf.fingerprintSm3());
    const caText = openssl(["x509", "-in", tmp(ca.certificate.toPem()), "-noout", "-text"]);
    expect(caText).toContain("CA:TRUE");
    expect(caText).toContain("Certificate Sign, CRL Sign");
  });

  it("openssl verify accepts our chain with -vfyopt distid:1234567812345678 and refuses another ID", () => {
    const caPem = ca.certificate.toPem();
    expect(opensslVerifies(caPem, leaf.toPem(), ["-vfyopt", "distid:1234567812345678"])).toBe(true);
    expect(opensslVerifies(caPem, leaf.toPem(), ["-vfyopt", "distid:1234567812345679"])).toBe(false);
    // OpenSSL 3.0 does not assume the GM/T 0009 default ID when verifying certificates (nor has
    // it 1.1.1's -sm2-id option): without -vfyopt it fails even for certificates it made itself.
    expect(opensslVerifies(caPem, leaf.toPem(), [])).toBe(false);
  });

  it("certificates made by openssl are read, and verifyChain accepts them", () => {
    const caKey = tmp();
    openssl(["genpkey", "-algorithm", "SM2", "-out", caKey]);
    const caPem = tmp();
    openssl(
      `req -new -x509 -key ${caKey} -sm3 -sigopt distid:1234567812345678 -subj /C=CN/O=OpenSSL/CN=OpenSSL-SM2-CA -days 30 -out ${caPem}`.split(
        " ",
      ),
    );
    const key = tmp();
    openssl(["genpkey", "-algorithm", "SM2", "-out", key]);
    const csr = tmp();
    openssl(
      `req -new -key ${key} -sm3 -sigopt distid:1234567812345678 -subj /CN=openssl-leaf -out ${csr}`.split(
        " ",
      ),
    );
    const leafPem = tmp();
    openssl(
      `x509 -req -in ${csr} -CA ${caPem} -CAkey ${caKey} -sm3 -sigopt distid:1234567812345678 -vfyopt distid:1234567812345678 -days 5 -out ${leafPem}`.split(
        " ",
      ),
    );
    const theirCa = Certificate.fromPem(readFileSync(caPem, "utf8"));
    const theirLeaf = Certificate.fromPem(readFileSync(leafPem, "utf8"));
    expect(theirCa.subject.country).toBe("CN");
    expect(theirCa.isCa).toBe(true);
    expect(theirLeaf.publicKey.equals(Sm2PrivateKey.fromPem(readFileSync(key, "utf8")).publicKey)).toBe(true);
    expect(verifyChain(theirLeaf, [], [theirCa])).toEqual({ ok: true });
    expect(verifyChain(theirLeaf, [], [ca.certificate]).ok).toBe(false);
  });

  it("the signature is SM2 with the default user ID over the exact TBS bytes", () => {
    expect(verify(leaf.tbsDer, leaf.signatureValue, ca.certificate.publicKey)).toBe(true);
    expect(verify(leaf.tbsDer, leaf.signatureValue, ca.certificate.publicKey, { userId: "" })).toBe(false);
  });
});

describe("verifyChain", () => {
  it("accepts a leaf issued by a trusted DevCa root, and the root itself", () => {
    expect(verifyChain(leaf, [], [ca.certificate])).toEqual({ ok: true });
    expect(verifyChain(ca.certificate, [], [ca.certificate])).toEqual({ ok: true });
  });

  it("refuses a leaf under another root, or with no trusted root", async () => {
    const other = await DevCa.create({ name: "Piaoju Dev CA 测试" }); // same name, other key
    const r = verifyChain(leaf, [], [other.certificate]);
    expect(r.ok).toBe(false);
    expect(verifyChain(leaf, [ca.certificate], []).ok).toBe(false);
    // The real root given only as an untrusted chain element does not make it trusted.
    expect(verifyChain(leaf, [ca.certificate], [other.certificate]).ok).toBe(false);
  });

  it("refuses a certificate outside its validity period, and the check time is a parameter", () => {
    const future = new Date(Date.now() + 400 * 86_400_000);
    const r = verifyChain(leaf, [], [ca.certificate], future);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/not valid at/);
    expect(verifyChain(leaf, [], [ca.certificate], new Date(Date.now() - 86_400_000)).ok).toBe(false);
  });

  it("refuses a certificate whose signed bytes were changed", () => {
    const der = leaf.toDer();
    const at = der.indexOf(Buffer.from("财务处"));
    der[at + 2]! ^= 0x01; // still valid UTF-8, another name
    const forged = Certificate.fromDer(der);
    const r = verifyChain(forged, [], [ca.certificate]);
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/does not verify/) });
  });

  it("goes through an intermediate CA given in the chain, and honours pathLenConstraint", () => {
    const midKey = generateSm2KeyPair();
    const base = {
      signer: ca.privateKey,
      serial: 77n,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      issuerName: encodeName({ commonName: "Piaoju Dev CA 测试" }),
      authorityKeyId: keyIdentifier(ca.certificate.publicKey),
      publicKey: midKey.publicKey,
      ca: true,
      usages: ["keyCertSign" as const],
    };
    const mid = buildCertificate({ ...base, subjectName: encodeName({ commonName: "mid" }), pathLength: 0 });
    const mid2Key = generateSm2KeyPair();
    const mid2 = buildCertificate({
      ...base,
      signer: midKey,
      issuerName: encodeName({ commonName: "mid" }),
      authorityKeyId: keyIdentifier(midKey.publicKey),
      publicKey: mid2Key.publicKey,
      subjectName: encodeName({ commonName: "mid2" }),
    });
    const under = (issuer: string, signer: Sm2PrivateKey) =>
      buildCertificate({
        ...base,
        signer,
        issuerName: encodeName({ commonName: issuer }),
        authorityKeyId: keyIdentifier(signer.publicKey),
        publicKey: leafKey.publicKey,
        subjectName: encodeName({ commonName: "end" }),
        ca: false,
        usages: ["digitalSignature"],
      });
    expect(verifyChain(under("mid", midKey), [mid], [ca.certificate])).toEqual({ ok: true });
    expect(verifyChain(under("mid", midKey), [], [ca.certificate]).ok).toBe(false);
    const tooDeep = verifyChain(under("mid2", mid2Key), [mid2, mid], [ca.certificate]);
    expect(tooDeep).toEqual({ ok: false, reason: expect.stringMatching(/path length/) });
  });

  it("refuses an issuer that is not a CA, or whose key usage lacks keyCertSign", () => {
    const fakeIssuerKey = leafKey; // the leaf's key signs a certificate of its own
    const child = buildCertificate({
      signer: fakeIssuerKey,
      serial: 5n,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      issuerName: asn1js.fromBER(leaf.subjectDer).result as asn1js.Sequence,
      subjectName: encodeName({ commonName: "child" }),
      authorityKeyId: leaf.subjectKeyIdentifier!,
      publicKey: generateSm2KeyPair().publicKey,
      ca: false,
      usages: ["digitalSignature"],
    });
    expect(verifyChain(child, [leaf], [ca.certificate])).toEqual({
      ok: false,
      reason: expect.stringMatching(/is not a CA/),
    });

    const noSignKey = generateSm2KeyPair();
    const noSignCa = buildCertificate({
      signer: noSignKey,
      serial: 6n,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      issuerName: encodeName({ commonName: "crl only" }),
      subjectName: encodeName({ commonName: "crl only" }),
      authorityKeyId: keyIdentifier(noSignKey.publicKey),
      publicKey: noSignKey.publicKey,
      ca: true,
      usages: ["cRLSign"],
    });
    const grandChild = buildCertificate({
      signer: noSignKey,
      serial: 7n,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      issuerName: encodeName({ commonName: "crl only" }),
      subjectName: encodeName({ commonName: "x" }),
      authorityKeyId: keyIdentifier(noSignKey.publicKey),
      publicKey: leafKey.publicKey,
      ca: false,
      usages: ["digitalSignature"],
    });
    expect(verifyChain(grandChild, [], [noSignCa])).toEqual({
      ok: false,
      reason: expect.stringMatching(/keyCertSign/),
    });
  });

  it("refuses a certificate with an unknown critical extension", () => {
    const odd = buildCertificate({
      signer: ca.privateKey,
      serial: 8n,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      issuerName: encodeName({ commonName: "Piaoju Dev CA 测试" }),
      subjectName: encodeName({ commonName: "odd" }),
      authorityKeyId: ca.certificate.subjectKeyIdentifier!,
      publicKey: leafKey.publicKey,
      ca: false,
      usages: ["digitalSignature"],
      extraExtensions: [{ oid: "1.2.3.4.5", critical: true, value: new asn1js.Null() }],
    });
    expect(verifyChain(odd, [], [ca.certificate])).toEqual({
      ok: false,
      reason: expect.stringMatching(/unknown critical extension 1\.2\.3\.4\.5/),
    });
  });
});

describe("malformed certificates", () => {
  it("truncated or junk DER is BAD_CERTIFICATE, at every length", () => {
    const der = leaf.toDer();
    for (let n = 0; n < der.length; n += 7)
      expectCode(() => Certificate.fromDer(der.subarray(0, n)), "BAD_CERTIFICATE");
    expectCode(() => Certificate.fromDer(Buffer.from("not a certificate")), "BAD_CERTIFICATE");
    expectCode(
      () => Certificate.fromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
      "BAD_CERTIFICATE",
    );
    expectCode(() => Certificate.fromPem("nothing here"), "BAD_CERTIFICATE");
  });

  it("a certificate with a non-SM2 key (P-256 ECDSA) is BAD_CERTIFICATE", () => {
    const key = tmp();
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key]);
    const pem = tmp();
    openssl(["req", "-new", "-x509", "-key", key, "-subj", "/CN=p256", "-days", "1", "-out", pem]);
    expectCode(() => Certificate.fromPem(readFileSync(pem, "utf8")), "BAD_CERTIFICATE");
  });

  it("DevCa refuses bad issue options with BAD_INPUT", () => {
    expectCode(
      () => ca.issue({ subject: { commonName: "" }, publicKey: leafKey.publicKey, usage: "sign" }),
      "BAD_INPUT",
    );
    expectCode(
      () =>
        ca.issue({ subject: { commonName: "x" }, publicKey: leafKey.publicKey, usage: "sign", serial: 0n }),
      "BAD_INPUT",
    );
    expectCode(() => DevCa.load(leaf, leafKey), "BAD_CERTIFICATE");
    expectCode(() => DevCa.load(ca.certificate, leafKey), "BAD_KEY");
    expect(DevCa.load(ca.certificate, ca.privateKey).certificate.equals(ca.certificate)).toBe(true);
  });
});
