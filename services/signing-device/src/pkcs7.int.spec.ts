import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import {
  Certificate,
  createEnvelopedData,
  DevCa,
  generateSm2KeyPair,
  openEnvelopedData,
  parseSignedData,
  type Sm2PrivateKey,
  sm3,
  verifySignedData,
  verifyXml,
} from "@piaoju/gm-crypto";
import type { SigningDeviceClient } from "@piaoju/proto/signing";
import { clientStreamCall, unaryCall } from "@piaoju/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  makeKeystore,
  type RunningTestDevice,
  spawnDevice,
  type TestKeystore,
} from "../../../test/support/signing-device.ts";

/**
 * The device's PKCS#7 (GM/T 0010) work over real gRPC: SignedData (attached, detached, batched,
 * streamed), its verification, and digital envelopes made and opened by the device.
 */

const KEY = "agency-110101";
const MAX_PAYLOAD = 1024 * 1024;
const RECEIPT = Buffer.from(
  '<Receipt kind="blue"><Number>11010125000000123</Number><Amount>120.50</Amount></Receipt>',
);

let keystore: TestKeystore;
let device: RunningTestDevice;
let client: SigningDeviceClient;
let leaf: Certificate;
let deviceCa: Certificate;
let outsideCa: DevCa;
let outsideKey: Sm2PrivateKey;
let outsideCert: Certificate;

beforeAll(async () => {
  keystore = makeKeystore();
  device = await spawnDevice(keystore, { PIAOJU_SIGNING_DEVICE_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD) });
  client = device.client;
  const cert = await unaryCall(client, client.GetCertificate, { keyId: KEY });
  leaf = Certificate.fromDer(cert.certificate);
  deviceCa = Certificate.fromDer(cert.chain[1] ?? Buffer.alloc(0));
  // A recipient the device holds no key for (finance's encryption certificate, say).
  outsideCa = await DevCa.create({ name: "Finance Test CA" });
  outsideKey = generateSm2KeyPair();
  outsideCert = outsideCa.issue({
    subject: { commonName: "finance" },
    publicKey: outsideKey.publicKey,
    usage: "encrypt",
  });
});

afterAll(async () => {
  await device?.stop();
  if (keystore) rmSync(keystore.dir, { recursive: true, force: true });
});

async function failure(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
  } catch (error) {
    const { code, details } = error as { code: number; details: string };
    return { code, details };
  }
  throw new Error("the call succeeded");
}

/** openssl pkeyutl over the SignerInfo's authenticated attributes: the SM2 signature inside the SignedData. */
function opensslVerifiesSignerInfo(signedData: Buffer, userId = "1234567812345678"): boolean {
  const signer = parseSignedData(signedData).signers[0];
  if (!signer?.signedAttributes) return false;
  const dir = mkdtempSync(join(tmpdir(), "piaoju-openssl-"));
  try {
    writeFileSync(join(dir, "pub.pem"), leaf.publicKey.toPem());
    writeFileSync(join(dir, "attrs"), signer.signedAttributes);
    writeFileSync(join(dir, "sig"), signer.signature);
    // biome-ignore format: one option per line reads better
    const out = execFileSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin",
      "-in", "attrs", "-sigfile", "sig", "-digest", "sm3", "-pkeyopt", `distid:${userId}`], { cwd: dir, encoding: "utf8" });
    return out.includes("Signature Verified Successfully");
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("Sign with PKCS#7 formats", () => {
  it("PKCS7_DETACHED is a SignedData without content, with the signer's certificate and chain, valid for the data (gm-crypto and openssl agree)", async () => {
    const response = await unaryCall(client, client.Sign, {
      keyId: KEY,
      data: RECEIPT,
      format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
      requestId: "r-1",
    });
    expect(response).toMatchObject({
      format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
      keyId: KEY,
      requestId: "r-1",
    });
    expect(response.certFingerprint).toBe(leaf.fingerprintSm3());
    const parsed = parseSignedData(response.signature);
    expect(parsed.content).toBeUndefined();
    // a DER SET OF: sorted by encoding, not in chain order
    expect(parsed.certificates.map((c) => c.fingerprintSm3()).sort()).toEqual(
      [leaf.fingerprintSm3(), deviceCa.fingerprintSm3()].sort(),
    );
    expect(parsed.signers[0]?.messageDigest?.equals(sm3(RECEIPT))).toBe(true);
    const verdict = verifySignedData(response.signature, { content: RECEIPT, trusted: [deviceCa] });
    expect(verdict.valid).toBe(true);
    expect(verdict.signer?.fingerprintSm3()).toBe(leaf.fingerprintSm3());
    expect(opensslVerifiesSignerInfo(response.signature)).toBe(true);
    expect(verifySignedData(response.signature, { content: Buffer.from("another receipt") }).valid).toBe(
      false,
    );
  });

  it("profile picks the SignerInfo algorithm per peer (ADR 0019): default and GMSSL write 501, GMT0010 writes 301.1; all verify; an unknown profile is INVALID_ARGUMENT", async () => {
    const expected = {
      PKCS7_PROFILE_UNSPECIFIED: "1.2.156.10197.1.501",
      PKCS7_PROFILE_DEFAULT: "1.2.156.10197.1.501",
      PKCS7_PROFILE_GMSSL: "1.2.156.10197.1.501",
      PKCS7_PROFILE_GMT0010: "1.2.156.10197.1.301.1",
    } as const;
    for (const [profile, oid] of Object.entries(expected)) {
      const { signature } = await unaryCall(client, client.Sign, {
        keyId: KEY,
        data: RECEIPT,
        format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
        profile: profile as keyof typeof expected,
      });
      expect(parseSignedData(signature).signers[0]?.signatureAlgorithm, profile).toBe(oid);
      expect(verifySignedData(signature, { content: RECEIPT, trusted: [deviceCa] }).valid, profile).toBe(
        true,
      );
      expect(opensslVerifiesSignerInfo(signature), profile).toBe(true);
    }
    const streamed = await clientStreamCall(client, client.SignStream, async (send) => {
      await send({
        header: { keyId: KEY, format: "SIGNATURE_FORMAT_PKCS7_DETACHED", profile: "PKCS7_PROFILE_GMT0010" },
      });
      await send({ chunk: RECEIPT });
    });
    expect(parseSignedData(streamed.signature).signers[0]?.signatureAlgorithm).toBe("1.2.156.10197.1.301.1");
    await expect(
      unaryCall(client, client.Sign, {
        keyId: KEY,
        data: RECEIPT,
        format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
        profile: 9 as unknown as "PKCS7_PROFILE_DEFAULT",
      }),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining("profile") });
  });

  it("PKCS7_ATTACHED carries the data; a custom user ID is used for the signature", async () => {
    const response = await unaryCall(client, client.Sign, {
      keyId: KEY,
      data: RECEIPT,
      userId: "agency@110101",
      format: "SIGNATURE_FORMAT_PKCS7_ATTACHED",
    });
    expect(response.format).toBe("SIGNATURE_FORMAT_PKCS7_ATTACHED");
    expect(parseSignedData(response.signature).content?.equals(RECEIPT)).toBe(true);
    expect(verifySignedData(response.signature, { userId: "agency@110101" }).valid).toBe(true);
    expect(verifySignedData(response.signature).valid).toBe(false);
    expect(opensslVerifiesSignerInfo(response.signature, "agency@110101")).toBe(true);
  });

  it("a key without a certificate cannot make PKCS#7: FAILED_PRECONDITION", async () => {
    const refused = await failure(
      unaryCall(client, client.Sign, {
        keyId: "bare",
        data: RECEIPT,
        format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
      }),
    );
    expect(refused.code).toBe(status.FAILED_PRECONDITION);
    expect(refused.details).toMatch(/has no certificate/);
  });

  it("SignBatch mixes formats; each item gets its own format or its own error", async () => {
    const { results } = await unaryCall(client, client.SignBatch, {
      items: [
        { keyId: KEY, data: RECEIPT, format: "SIGNATURE_FORMAT_PKCS7_DETACHED", requestId: "a" },
        { keyId: KEY, data: RECEIPT, format: "SIGNATURE_FORMAT_RAW_RS", requestId: "b" },
        { keyId: "bare", data: RECEIPT, format: "SIGNATURE_FORMAT_PKCS7_ATTACHED", requestId: "c" },
        { keyId: KEY, data: RECEIPT, format: "SIGNATURE_FORMAT_PKCS7_ATTACHED", requestId: "d" },
      ],
    });
    expect(results.map((r) => r.signature?.format ?? r.error?.code)).toEqual([
      "SIGNATURE_FORMAT_PKCS7_DETACHED",
      "SIGNATURE_FORMAT_RAW_RS",
      status.FAILED_PRECONDITION,
      "SIGNATURE_FORMAT_PKCS7_ATTACHED",
    ]);
    expect(
      verifySignedData(results[0]?.signature?.signature ?? Buffer.alloc(0), { content: RECEIPT }).valid,
    ).toBe(true);
    expect(verifySignedData(results[3]?.signature?.signature ?? Buffer.alloc(0)).valid).toBe(true);
  });

  it("SignStream makes a detached SignedData of a payload larger than the unary limit, hashed as it arrives", async () => {
    const big = randomBytes(3 * MAX_PAYLOAD + 123);
    const response = await clientStreamCall(client, client.SignStream, async (send) => {
      await send({ header: { keyId: KEY, format: "SIGNATURE_FORMAT_PKCS7_DETACHED", requestId: "s" } });
      for (let i = 0; i < big.length; i += 256 * 1024) await send({ chunk: big.subarray(i, i + 256 * 1024) });
    });
    expect(response.format).toBe("SIGNATURE_FORMAT_PKCS7_DETACHED");
    expect(verifySignedData(response.signature, { content: big, trusted: [deviceCa] }).valid).toBe(true);
  });
});

describe("Verify of PKCS#7", () => {
  let detached: Buffer;
  let attached: Buffer;
  beforeAll(async () => {
    detached = (
      await unaryCall(client, client.Sign, {
        keyId: KEY,
        data: RECEIPT,
        format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
      })
    ).signature;
    attached = (
      await unaryCall(client, client.Sign, {
        keyId: KEY,
        data: RECEIPT,
        format: "SIGNATURE_FORMAT_PKCS7_ATTACHED",
      })
    ).signature;
  });

  it("with no signer named, the certificate inside is used and its fingerprint returned", async () => {
    const verdict = await unaryCall(client, client.Verify, {
      data: RECEIPT,
      signature: detached,
      format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
      requestId: "v",
    });
    expect(verdict).toEqual({
      valid: true,
      reason: "",
      signerFingerprint: leaf.fingerprintSm3(),
      requestId: "v",
    });
    const inside = await unaryCall(client, client.Verify, {
      signature: attached,
      format: "SIGNATURE_FORMAT_PKCS7_ATTACHED",
    });
    expect(inside.valid).toBe(true);
  });

  it("a named signer must be the one inside (key id, certificate or public key)", async () => {
    const format = "SIGNATURE_FORMAT_PKCS7_DETACHED" as const;
    expect(
      (await unaryCall(client, client.Verify, { keyId: KEY, data: RECEIPT, signature: detached, format }))
        .valid,
    ).toBe(true);
    expect(
      (
        await unaryCall(client, client.Verify, {
          certificate: leaf.toDer(),
          data: RECEIPT,
          signature: detached,
          format,
        })
      ).valid,
    ).toBe(true);
    const other = await unaryCall(client, client.Verify, {
      keyId: "bare",
      data: RECEIPT,
      signature: detached,
      format,
    });
    expect(other.valid).toBe(false);
    expect(other.reason).toMatch(/not by the signer named/);
    const otherCert = await unaryCall(client, client.Verify, {
      certificate: outsideCert.toDer(),
      data: RECEIPT,
      signature: detached,
      format,
    });
    expect(otherCert.valid).toBe(false);
  });

  it("other data, or attached content that differs from the data given, is valid = false with a reason", async () => {
    const changed = await unaryCall(client, client.Verify, {
      data: Buffer.from("<Receipt>changed</Receipt>"),
      signature: detached,
      format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
    });
    expect(changed).toMatchObject({ valid: false, reason: "the content does not match messageDigest" });
    const differs = await unaryCall(client, client.Verify, {
      data: Buffer.from("x"),
      signature: attached,
      format: "SIGNATURE_FORMAT_PKCS7_ATTACHED",
    });
    expect(differs.valid).toBe(false);
    expect(differs.reason).toMatch(/differs from the carried content/);
  });

  it("a truncated SignedData is INVALID_ARGUMENT naming the signature", async () => {
    const refused = await failure(
      unaryCall(client, client.Verify, {
        data: RECEIPT,
        signature: detached.subarray(0, detached.length - 20),
        format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
      }),
    );
    expect(refused.code).toBe(status.INVALID_ARGUMENT);
    expect(refused.details).toMatch(/^signature: /);
  });
});

describe("XML_ENVELOPED (ADR 0019)", () => {
  const DOCUMENT = Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?><EInvoice><Header><EInvoiceID>0000000001</EInvoiceID></Header><EInvoiceData><Main>张三 120.00</Main></EInvoiceData></EInvoice>',
  );

  it("Sign appends an SM2-SM3 ds:Signature with the key's certificate; gm-crypto (xml-crypto) and the device verify it; tampering is valid = false", async () => {
    const { signature, format } = await unaryCall(client, client.Sign, {
      keyId: KEY,
      data: DOCUMENT,
      format: "SIGNATURE_FORMAT_XML_ENVELOPED",
    });
    expect(format).toBe("SIGNATURE_FORMAT_XML_ENVELOPED");
    const signed = signature.toString("utf8");
    expect(signed).toMatch(/<ds:Signature [^>]*><ds:SignedInfo>/);
    expect(signed).toContain("#sm2-sm3");
    const outside = verifyXml(signed, { trusted: [deviceCa] });
    expect(outside.valid, outside.reason).toBe(true);
    expect(outside.signer?.fingerprintSm3()).toBe(leaf.fingerprintSm3());
    const onDevice = await unaryCall(client, client.Verify, {
      keyId: KEY,
      data: Buffer.alloc(0),
      signature,
      format: "SIGNATURE_FORMAT_XML_ENVELOPED",
    });
    expect(onDevice).toMatchObject({ valid: true, signerFingerprint: leaf.fingerprintSm3() });
    const tampered = Buffer.from(signed.replace("120.00", "1200.00"));
    const refused = await unaryCall(client, client.Verify, {
      data: Buffer.alloc(0),
      signature: tampered,
      format: "SIGNATURE_FORMAT_XML_ENVELOPED",
    });
    expect(refused.valid).toBe(false);
    expect(refused.reason).not.toBe("");
  });

  it("refuses a key without a certificate, a non-UTF-8 or malformed document, and SignStream, each naming the field", async () => {
    const bare = await failure(
      unaryCall(client, client.Sign, {
        keyId: "bare",
        data: DOCUMENT,
        format: "SIGNATURE_FORMAT_XML_ENVELOPED",
      }),
    );
    expect(bare.code).toBe(status.FAILED_PRECONDITION);
    const latin = await failure(
      unaryCall(client, client.Sign, {
        keyId: KEY,
        data: Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e]),
        format: "SIGNATURE_FORMAT_XML_ENVELOPED",
      }),
    );
    expect(latin).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining("data") });
    const malformed = await failure(
      unaryCall(client, client.Sign, {
        keyId: KEY,
        data: Buffer.from("<EInvoice><Header></EInvoice>"),
        format: "SIGNATURE_FORMAT_XML_ENVELOPED",
      }),
    );
    expect(malformed).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining("data"),
    });
    const streamed = await failure(
      clientStreamCall(client, client.SignStream, async (send) => {
        await send({ header: { keyId: KEY, format: "SIGNATURE_FORMAT_XML_ENVELOPED" } });
      }),
    );
    expect(streamed).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining("format"),
    });
  });
});

describe("CreateCertificationRequest", () => {
  it("makes a PKCS#10 request for the key that the openssl CLI verifies (subject, public key, SM2-with-SM3); bad input names the field", async () => {
    const answer = await unaryCall(client, client.CreateCertificationRequest, {
      keyId: KEY,
      commonName: "测试单位 110101",
      organization: "Piaoju",
      country: "CN",
      requestId: "csr-1",
    });
    expect(answer.requestId).toBe("csr-1");
    expect(answer.pem).toContain("-----BEGIN CERTIFICATE REQUEST-----");
    const dir = mkdtempSync(join(tmpdir(), "device-csr-"));
    try {
      const file = join(dir, "req.pem");
      writeFileSync(file, answer.pem);
      const checked = execFileSync(
        "openssl",
        [
          "req",
          "-in",
          file,
          "-verify",
          "-noout",
          "-vfyopt",
          "distid:1234567812345678",
          "-subject",
          "-nameopt",
          "utf8,sep_comma_plus",
          "-pubkey",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      ).toString();
      expect(checked).toContain("CN=测试单位 110101");
      const pem = checked.slice(checked.indexOf("-----BEGIN PUBLIC KEY-----"));
      expect(
        Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64").equals(leaf.publicKey.toDer()),
      ).toBe(true);
      const verdict = spawnSync("openssl", [
        "req",
        "-in",
        file,
        "-verify",
        "-noout",
        "-vfyopt",
        "distid:1234567812345678",
      ]);
      expect(`${verdict.stdout}${verdict.stderr}`).toContain("verify OK");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(
      (await failure(unaryCall(client, client.CreateCertificationRequest, { keyId: KEY }))).details,
    ).toContain("common_name");
    expect(
      (
        await failure(
          unaryCall(client, client.CreateCertificationRequest, { keyId: "agency-999999", commonName: "x" }),
        )
      ).code,
    ).toBe(status.NOT_FOUND);
  });
});

describe("MakeEnvelope and OpenEnvelope", () => {
  it("an envelope for the device's key and an outside recipient opens on both sides", async () => {
    const { envelope, requestId } = await unaryCall(client, client.MakeEnvelope, {
      recipientCertificates: [leaf.toDer(), outsideCert.toDer()],
      content: RECEIPT,
      requestId: "e-1",
    });
    expect(requestId).toBe("e-1");
    expect(openEnvelopedData(envelope, { key: outsideKey, cert: outsideCert }).equals(RECEIPT)).toBe(true);
    const opened = await unaryCall(client, client.OpenEnvelope, { keyId: KEY, envelope, requestId: "o-1" });
    expect(opened).toEqual({ content: RECEIPT, requestId: "o-1" });
  });

  it("profile GMSSL writes GmSSL's key-encryption OID 301.2, the default SM2-3 301.3 (ADR 0019); both open on both sides", async () => {
    const oidDer = (last: number) =>
      Buffer.from([0x06, 0x09, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d, last]);
    for (const [profile, last] of [
      ["PKCS7_PROFILE_DEFAULT", 3],
      ["PKCS7_PROFILE_GMSSL", 2],
    ] as const) {
      const { envelope } = await unaryCall(client, client.MakeEnvelope, {
        recipientCertificates: [leaf.toDer(), outsideCert.toDer()],
        content: RECEIPT,
        profile,
      });
      expect(envelope.includes(oidDer(last)), profile).toBe(true);
      expect(envelope.includes(oidDer(last === 3 ? 2 : 3)), profile).toBe(false);
      expect(openEnvelopedData(envelope, { key: outsideKey, cert: outsideCert }).equals(RECEIPT)).toBe(true);
      const opened = await unaryCall(client, client.OpenEnvelope, { keyId: KEY, envelope });
      expect(opened.content.equals(RECEIPT), profile).toBe(true);
    }
  });

  it("an envelope made elsewhere (gm-crypto) for the device's certificate opens on the device", async () => {
    const envelope = createEnvelopedData({ content: RECEIPT, recipients: [leaf] });
    expect(
      (await unaryCall(client, client.OpenEnvelope, { keyId: KEY, envelope })).content.equals(RECEIPT),
    ).toBe(true);
  });

  it("an envelope not addressed to the key is FAILED_PRECONDITION; truncated or tampered ones INVALID_ARGUMENT; unknown key NOT_FOUND", async () => {
    const forOutside = (
      await unaryCall(client, client.MakeEnvelope, {
        recipientCertificates: [outsideCert.toDer()],
        content: RECEIPT,
      })
    ).envelope;
    const notMine = await failure(
      unaryCall(client, client.OpenEnvelope, { keyId: KEY, envelope: forOutside }),
    );
    expect(notMine.code).toBe(status.FAILED_PRECONDITION);
    expect(notMine.details).toMatch(/not addressed to key "agency-110101"/);

    const mine = (
      await unaryCall(client, client.MakeEnvelope, {
        recipientCertificates: [leaf.toDer()],
        content: RECEIPT,
      })
    ).envelope;
    const truncated = await failure(
      unaryCall(client, client.OpenEnvelope, { keyId: KEY, envelope: mine.subarray(0, mine.length - 7) }),
    );
    expect(truncated.code).toBe(status.INVALID_ARGUMENT);
    expect(truncated.details).toMatch(/^envelope: /);

    const tampered = Buffer.from(mine);
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] ?? 0) ^ 0x40; // inside the SM4 ciphertext
    expect(await failure(unaryCall(client, client.OpenEnvelope, { keyId: KEY, envelope: tampered }))).toEqual(
      {
        code: status.INVALID_ARGUMENT,
        details: "envelope: envelope cannot be decrypted",
      },
    );

    expect(
      (await failure(unaryCall(client, client.OpenEnvelope, { keyId: "nobody", envelope: mine }))).code,
    ).toBe(status.NOT_FOUND);
    expect(
      (await failure(unaryCall(client, client.OpenEnvelope, { keyId: "bare", envelope: mine }))).code,
    ).toBe(status.FAILED_PRECONDITION);
    expect(
      await failure(unaryCall(client, client.OpenEnvelope, { keyId: KEY, envelope: Buffer.alloc(0) })),
    ).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "envelope: required",
    });
  });

  it("bad recipients are INVALID_ARGUMENT naming the certificate; oversized content RESOURCE_EXHAUSTED", async () => {
    expect(
      await failure(unaryCall(client, client.MakeEnvelope, { content: RECEIPT, recipientCertificates: [] })),
    ).toEqual({ code: status.INVALID_ARGUMENT, details: "recipient_certificates: at least one is required" });
    const junk = await failure(
      unaryCall(client, client.MakeEnvelope, {
        content: RECEIPT,
        recipientCertificates: [leaf.toDer(), Buffer.from("junk")],
      }),
    );
    expect(junk.code).toBe(status.INVALID_ARGUMENT);
    expect(junk.details).toMatch(/^recipient_certificates\[1\]: /);
    const signOnly = outsideCa.issue({
      subject: { commonName: "sign only" },
      publicKey: outsideKey.publicKey,
      usage: "sign",
    });
    const refused = await failure(
      unaryCall(client, client.MakeEnvelope, { content: RECEIPT, recipientCertificates: [signOnly.toDer()] }),
    );
    expect(refused.code).toBe(status.INVALID_ARGUMENT);
    expect(refused.details).toMatch(/key encipherment/);
    const big = await failure(
      unaryCall(client, client.MakeEnvelope, {
        content: Buffer.alloc(MAX_PAYLOAD + 1),
        recipientCertificates: [leaf.toDer()],
      }),
    );
    expect(big.code).toBe(status.RESOURCE_EXHAUSTED);
  });
});
