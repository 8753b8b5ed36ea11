import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { topics } from "@piaoju/contracts";
import { deliveryService } from "@piaoju/delivery";
import {
  eventually,
  issuedEnvelope,
  issuedReceipt,
  makeSigners,
  paperExchangedEnvelope,
  SECRETS_KEY,
} from "@piaoju/delivery/testing";
import { Certificate, verifySignedData } from "@piaoju/gm-crypto";
import type { GetCertificateResponse, SigningDeviceClient, SignResponse } from "@piaoju/proto/signing";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { testPki } from "@piaoju/service-identity/testing";
import { type RunningGateway, startSigningGateway } from "@piaoju/signing-gateway/gateway";
import { sm2, sm3 as smCryptoSm3 } from "sm-crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { gatewayClient, gatewaySecurity } from "../../services/signing-gateway/src/testing/tls.ts";
import { makeKeystore, type RunningTestDevice, spawnDevice } from "../support/signing-device.ts";

/**
 * The receipt PDF's digital signature, end to end with the real parts: a software signing device
 * (its own process) behind the real signing gateway over mutual-TLS gRPC, delivery calling it as
 * `delivery`. The PDF is then checked by poppler's pdfsig (structure: signer, time, ranges) and
 * independently here: SM3 of the ByteRange bytes with sm-crypto, the CMS read with a DER walker
 * of this file, the SM2 signature over the signed attributes with sm-crypto, the certificate
 * chain to the device's agency CA with the openssl CLI; one byte flipped breaks it.
 */

const ARTIFACTS = resolve(import.meta.dirname, "../../test-results/delivery");
const KEY = "agency-110101"; // makeKeystore() holds it with a certificate of its dev CA

let device: RunningTestDevice;
let gateway: RunningGateway;
let caller: SigningDeviceClient;
let t: TestPlatform;
let agencyCert: Certificate;
let agencyCa: Certificate;
let first: Parameters<typeof issuedEnvelope>[0];

function unary<T>(
  client: SigningDeviceClient,
  method: "Sign" | "GetCertificate",
  request: object,
): Promise<T> {
  return new Promise((ok, fail) => {
    // biome-ignore lint/suspicious/noExplicitAny: two methods of the generated client
    (client[method] as any)(
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (e: Error, r: T) => (e ? fail(e) : ok(r)),
    );
  });
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  device = await spawnDevice(makeKeystore());
  gateway = await startSigningGateway({
    ...(await gatewaySecurity()),
    devices: [`127.0.0.1:${device.port}`],
  });
  caller = await gatewayClient(gateway.address); // as issuance: the receipt's own agency signature
  const got = await unary<GetCertificateResponse>(caller, "GetCertificate", { keyId: KEY });
  agencyCert = Certificate.fromDer(got.certificate);
  agencyCa = got.chain
    .map((d) => Certificate.fromDer(d))
    .find((c) => c.fingerprintSm3() !== agencyCert.fingerprintSm3())!;

  t = await startTestPlatform({
    mode: "embedded",
    services: [deliveryService],
    kafkaBrokers: inject("kafkaBrokers"),
    env: {
      PIAOJU_SECRETS_KEY: SECRETS_KEY,
      PIAOJU_SIGNING_GATEWAY_ADDRESS: gateway.address,
      PIAOJU_DELIVERY_TLS_DIR: await (await testPki()).tlsDir("delivery"),
    },
  });
  // Finance's signature from the fixture's signers; the agency's by the device key, as the
  // gateway signs receipts (detached PKCS#7): delivery finds the PDF's key by that certificate.
  const signers = await makeSigners();
  for (const [number, bizSerialNo] of [
    ["0000030001", "CRJ-PDF-0001"],
    ["0000030002", "CRJ-PDF-0002"],
  ] as const) {
    const receipt = issuedReceipt(signers, { number, bizSerialNo });
    const signed = await unary<SignResponse>(caller, "Sign", {
      keyId: KEY,
      data: Buffer.from(receipt.document, "base64"),
      format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
    });
    const issued = { ...receipt, agencySignature: signed.signature.toString("base64") };
    if (number === "0000030001") first = issued;
    await t.probe.publish([{ topic: topics.issuance, envelope: issuedEnvelope(issued) }]);
  }
  await eventually(async () => {
    const rows = await t.platform.databases.get("delivery")!.query(`SELECT 1 FROM receipt`);
    return rows.length === 2 ? true : undefined;
  });
}, 120_000);

afterAll(async () => {
  await t?.stop();
  caller?.close();
  await gateway?.close().catch(() => undefined);
  await device?.stop();
});

async function fetchPdf(bizSerialNo: string): Promise<Response> {
  const found = await fetch(`${t.platform.url}/h5/api/find`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ method: "serial", bizSerialNo, name: "王小明" }),
  });
  const token = ((await found.json()) as { items: Array<{ token: string }> }).items[0]!.token;
  return fetch(`${t.platform.url}/h5/api/receipts/${token}/pdf`);
}

async function downloadPdf(bizSerialNo = "CRJ-PDF-0001"): Promise<Buffer> {
  const res = await fetchPdf(bizSerialNo);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function pdfSignatureRows() {
  return t.platform.databases
    .get("delivery")!
    .query<{ key_id: string; variant: string }>(
      `SELECT key_id, variant FROM receipt_pdf_signature ORDER BY signed_at, variant`,
    );
}

// --- an independent reading of the PDF signature (no gm-crypto parsing) ---------------------

interface Tlv {
  tag: number;
  start: number;
  header: number;
  length: number;
}

function readTlv(der: Buffer, at: number): Tlv {
  const tag = der[at]!;
  let length = der[at + 1]!;
  let header = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[at + 2 + i]!;
    header += n;
  }
  return { tag, start: at, header, length };
}

function childrenOf(der: Buffer, node: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = node.start + node.header; at < node.start + node.header + node.length; ) {
    const child = readTlv(der, at);
    out.push(child);
    at += child.header + child.length;
  }
  return out;
}

const bytesOf = (der: Buffer, n: Tlv) => der.subarray(n.start, n.start + n.header + n.length);
const contentOf = (der: Buffer, n: Tlv) => der.subarray(n.start + n.header, n.start + n.header + n.length);

function oidText(value: Buffer): string {
  const arcs = [Math.floor(value[0]! / 40), value[0]! % 40];
  let v = 0;
  for (const b of value.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  return arcs.join(".");
}

interface PdfSignature {
  byteRange: number[];
  signedBytes: Buffer;
  cms: Buffer;
}

function pdfSignatureOf(pdf: Buffer): PdfSignature {
  const text = pdf.toString("latin1");
  const m = /\/ByteRange \[(\d+) (\d+) (\d+) (\d+)\s*\]/.exec(text);
  if (!m) throw new Error("no /ByteRange");
  const byteRange = m.slice(1).map(Number);
  const [a, la, b, lb] = byteRange as [number, number, number, number];
  const hex = text.slice(a + la + 1, b - 1);
  const raw = Buffer.from(hex, "hex");
  const top = readTlv(raw, 0);
  return {
    byteRange,
    signedBytes: Buffer.concat([pdf.subarray(a, a + la), pdf.subarray(b, b + lb)]),
    cms: raw.subarray(0, top.header + top.length),
  };
}

/** Checks the signature as an outside verifier would; returns what failed, or "ok". */
function verifyIndependently(sig: PdfSignature): string {
  return signerInfoOf(sig).verdict;
}

function signerInfoOf(sig: PdfSignature): { verdict: string; signedAttributes?: Buffer; signature?: Buffer } {
  const der = sig.cms;
  const [typeNode, explicit] = childrenOf(der, readTlv(der, 0));
  if (oidText(contentOf(der, typeNode!)) !== "1.2.840.113549.1.7.2") return { verdict: "not id-signedData" };
  const [signedData] = childrenOf(der, explicit!);
  const fields = childrenOf(der, signedData!);
  const certificates = fields.find((f) => f.tag === 0xa0)!;
  const certs = childrenOf(der, certificates).map((c) => Certificate.fromDer(bytesOf(der, c)));
  const [signerInfo] = childrenOf(der, fields.at(-1)!);
  const si = childrenOf(der, signerInfo!);
  const digestAlg = oidText(contentOf(der, childrenOf(der, si[2]!)[0]!));
  const attrsNode = si[3]!;
  const sigAlg = oidText(contentOf(der, childrenOf(der, si[4]!)[0]!));
  const signature = contentOf(der, si[5]!);
  if (digestAlg !== "1.2.156.10197.1.401" || sigAlg !== "1.2.156.10197.1.501")
    return { verdict: "not SM3 / SM2-with-SM3" };
  const attrs = new Map<string, Buffer>();
  for (const attr of childrenOf(der, attrsNode)) {
    const [type, values] = childrenOf(der, attr);
    attrs.set(oidText(contentOf(der, type!)), contentOf(der, childrenOf(der, values!)[0]!));
  }
  const digest = attrs.get("1.2.840.113549.1.9.4");
  if (!digest) return { verdict: "no messageDigest" };
  if (smCryptoSm3(Array.from(sig.signedBytes)) !== digest.toString("hex"))
    return { verdict: "messageDigest does not match" };
  // What is signed: the attributes as a SET OF (tag 0x31 instead of [0] IMPLICIT).
  const signedAttributes = Buffer.from(bytesOf(der, attrsNode));
  signedAttributes[0] = 0x31;
  const signer = certs.find((c) => c.serial === agencyCert.serial)!;
  const ok = sm2.doVerifySignature(
    Array.from(signedAttributes),
    signature.toString("hex"),
    signer.publicKey.toHex(),
    { der: true, hash: true },
  );
  return { verdict: ok ? "ok" : "SM2 signature does not verify", signedAttributes, signature };
}

describe("the receipt PDF's digital signature", () => {
  it("is signed once per receipt and state by the agency key through the gateway, and served the same afterwards", async () => {
    const first = await downloadPdf();
    const again = await downloadPdf();
    expect(again.equals(first)).toBe(true);
    expect(await pdfSignatureRows()).toEqual([{ key_id: KEY, variant: "ISSUED:" }]);
    writeFileSync(join(ARTIFACTS, "signed-receipt.pdf"), first);
  });

  it("is read by poppler's pdfsig: the agency as signer, the signing time, adbe.pkcs7.detached over the whole document", async () => {
    const pdf = await downloadPdf();
    const dir = mkdtempSync(join(tmpdir(), "piaoju-pdfsig-"));
    const file = join(dir, "receipt.pdf");
    writeFileSync(file, pdf);
    let out: string;
    try {
      out = execFileSync("pdfsig", [file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      // pdfsig exits non-zero when it cannot validate; what it read is on stdout all the same.
      out = String((error as { stdout?: string }).stdout ?? "");
    }
    const sig = pdfSignatureOf(pdf);
    expect(out).toContain("Signature #1:");
    expect(out).toContain(`Signer Certificate Common Name: ${agencyCert.subject.commonName}`);
    expect(out).toContain("Signature Type: adbe.pkcs7.detached");
    const [a, la, b, lb] = sig.byteRange as [number, number, number, number];
    expect(a).toBe(0);
    expect(b + lb).toBe(pdf.length);
    expect(out).toContain(`Signed Ranges: [${a} - ${la}], [${b} - ${b + lb}]`);
    expect(out).toContain("Total document signed");
    const time = /Signing Time: (.+)/.exec(out)?.[1];
    expect(time).toBeDefined();
    const signedAt = verifySignedData(sig.cms, { content: sig.signedBytes }).signingTime!;
    expect(new Date(`${time} UTC`).getTime()).toBe(signedAt.getTime());
    // Poppler's NSS backend knows neither SM3 nor SM2: it says so, rather than "valid" or "forged".
    expect(out).toMatch(/Signing Hash Algorithm: unknown/);
    expect(out).toMatch(/Signature Validation: (Unknown Validation Failure|Signature is Invalid)/);
    writeFileSync(join(ARTIFACTS, "pdfsig.txt"), out);
  });

  it("verifies independently (sm-crypto SM3 and SM2, the chain by the openssl CLI) and fails once one signed byte changes", async () => {
    const pdf = await downloadPdf();
    const sig = pdfSignatureOf(pdf);
    expect(verifyIndependently(sig)).toBe("ok");
    // And with gm-crypto, chained to the agency CA the device's certificate names.
    expect(verifySignedData(sig.cms, { content: sig.signedBytes, trusted: [agencyCa] }).valid).toBe(true);

    const dir = mkdtempSync(join(tmpdir(), "piaoju-chain-"));
    writeFileSync(join(dir, "ca.pem"), agencyCa.toPem());
    const leaf = verifySignedData(sig.cms, { content: sig.signedBytes }).signer!;
    writeFileSync(join(dir, "leaf.pem"), leaf.toPem());
    // OpenSSL 3.0 checks an SM2 certificate's signature with the GM/T 0009 default ID only when told.
    const chained = execFileSync(
      "openssl",
      ["verify", "-vfyopt", "distid:1234567812345678", "-CAfile", join(dir, "ca.pem"), join(dir, "leaf.pem")],
      { encoding: "utf8" },
    );
    expect(chained.trim()).toBe(`${join(dir, "leaf.pem")}: OK`);
    // The SM2 signature over the signed attributes once more, by OpenSSL (SM3 with Z_A, default ID).
    const { signedAttributes, signature } = signerInfoOf(sig);
    writeFileSync(join(dir, "attrs.der"), signedAttributes!);
    writeFileSync(join(dir, "sig.der"), signature!);
    const pub = execFileSync("openssl", ["x509", "-pubkey", "-noout", "-in", join(dir, "leaf.pem")]);
    writeFileSync(join(dir, "pub.pem"), pub);
    const pkeyutl = (file: string) =>
      execFileSync(
        "openssl",
        ["pkeyutl", "-verify", "-pubin", "-inkey", join(dir, "pub.pem"), "-rawin", "-digest", "sm3"].concat([
          "-pkeyopt",
          "distid:1234567812345678",
          "-in",
          file,
          "-sigfile",
          join(dir, "sig.der"),
        ]),
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
    expect(pkeyutl(join(dir, "attrs.der"))).toContain("Signature Verified Successfully");
    const forged = Buffer.from(signedAttributes!);
    forged[forged.length - 1]! ^= 0x01;
    writeFileSync(join(dir, "forged.der"), forged);
    expect(() => pkeyutl(join(dir, "forged.der"))).toThrow();

    // One byte inside the signed range (in the page content, before /Contents) flipped.
    const tampered = Buffer.from(pdf);
    const at = Math.floor(sig.byteRange[1]! / 2);
    tampered[at] = tampered[at]! ^ 0x01;
    const broken = pdfSignatureOf(tampered);
    expect(verifyIndependently(broken)).toBe("messageDigest does not match");
    expect(verifySignedData(broken.cms, { content: broken.signedBytes }).valid).toBe(false);
    // And in the second range (after /Contents).
    const late = Buffer.from(pdf);
    late[pdf.length - 20] = late[pdf.length - 20]! ^ 0x01;
    expect(verifyIndependently(pdfSignatureOf(late))).toBe("messageDigest does not match");
  });

  it("still reads as the receipt in pdftotext, the seal drawn as the signature field's appearance", async () => {
    const pdf = await downloadPdf();
    const text = execFileSync("pdftotext", ["-layout", "-", "-"], { input: pdf, encoding: "utf8" });
    expect(text).toContain("0000030001");
    expect(text).toContain("壹佰陆拾元伍角整");
    expect(text).toContain("票据专用章");
    const raw = pdf.toString("latin1");
    expect(raw).toMatch(/\/FT \/Sig[\s\S]*?\/F 4[\s\S]*?\/AP <<\s*\/N \d+ 0 R/);
    expect(raw).toContain("/SubFilter /adbe.pkcs7.detached");
    expect(raw).toContain("/Filter /Adobe.PPKLite");
  });

  it("is signed anew once the receipt's state changes (换开纸质票据), and that PDF says so", async () => {
    const before = await downloadPdf();
    await t.probe.publish([{ topic: topics.issuance, envelope: paperExchangedEnvelope(first, false) }]);
    await eventually(async () => {
      const rows = await t.platform.databases
        .get("delivery")!
        .query<{ status: string }>(`SELECT status FROM receipt WHERE receipt_id = $1`, [first.receiptId]);
      return rows[0]?.status === "PAPER_EXCHANGED" ? true : undefined;
    });
    const exchanged = await downloadPdf();
    expect(exchanged.equals(before)).toBe(false);
    expect((await downloadPdf()).equals(exchanged)).toBe(true);
    expect(verifyIndependently(pdfSignatureOf(exchanged))).toBe("ok");
    const text = execFileSync("pdftotext", ["-layout", "-", "-"], { input: exchanged, encoding: "utf8" });
    expect(text).toContain("已换开纸质票据 11020126-0000000777");
    expect((await pdfSignatureRows()).map((r) => r.variant)).toEqual([
      "ISSUED:",
      "PAPER_EXCHANGED:11020126-0000000777",
    ]);
  });

  it("answers 503 while the gateway is gone for a PDF not signed yet, and serves the ones already signed", async () => {
    const kept = await downloadPdf();
    await gateway.close();
    const res = await fetchPdf("CRJ-PDF-0002");
    expect(res.status).toBe(503);
    expect(JSON.stringify(await res.json())).toContain("PDF_SIGNING_UNAVAILABLE");
    expect((await downloadPdf()).equals(kept)).toBe(true);
    expect((await pdfSignatureRows()).length).toBe(2);
  });
});
