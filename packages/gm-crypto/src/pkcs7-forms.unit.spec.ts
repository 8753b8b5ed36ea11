/**
 * The PKCS#7 forms other implementations write (ADR 0007), built here by hand with asn1js from
 * GM/T 0010 / GB/T 35275's structures (not with pkcs7.ts's own builder), and read by ours; and
 * the forms ours writes for each peer profile, read back field by field.
 *
 *   GmSSL 3:      SignerInfo digestEncryptionAlgorithm SM2-with-SM3 (…1.501), parameters absent;
 *                 EnvelopedData and RecipientInfo version 1, keyEncryptionAlgorithm …301.2.
 *   GM/T 0010:    digestEncryptionAlgorithm SM2-1 (…301.1), here with NULL parameters as some
 *                 Java writers add; EnvelopedData version 0, keyEncryptionAlgorithm SM2-3 …301.3.
 *   Others seen:  the bare SM2 family OID …301 in either place; PKCS#7's own content types
 *                 (1.2.840.113549.1.7.x) instead of GM/T 0010's; no authenticated attributes;
 *                 an encrypted key as a raw C1C3C2 string instead of the GM/T 0009 SEQUENCE.
 */
import * as asn1js from "asn1js";
import { beforeAll, describe, expect, it } from "vitest";
import { derSetOf } from "./der.ts";
import { encrypt } from "./encryption.ts";
import { Sm2PrivateKey } from "./keys.ts";
import {
  createEnvelopedData,
  createSignedData,
  OID_GM_DATA,
  OID_GM_ENVELOPED_DATA,
  OID_GM_SIGNED_DATA,
  OID_SM2_ENCRYPT,
  OID_SM2_ENCRYPT_GMSSL,
  OID_SM4_CBC,
  openEnvelopedData,
  PKCS7_PROFILES,
  parseSignedData,
  verifySignedData,
} from "./pkcs7.ts";
import { sign } from "./signature.ts";
import { sm3 } from "./sm3.ts";
import { sm4CbcEncrypt } from "./sm4.ts";
import { type Certificate, DevCa, OID_SM2_WITH_SM3, OID_SM3 } from "./x509.ts";

const OID_SM2_1 = "1.2.156.10197.1.301.1";
const OID_SM2 = "1.2.156.10197.1.301";
const PKCS7_DATA = "1.2.840.113549.1.7.1";
const PKCS7_SIGNED = "1.2.840.113549.1.7.2";
const PKCS7_ENVELOPED = "1.2.840.113549.1.7.3";

const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
const seqOf = (...value: asn1js.BaseBlock[]) => new asn1js.Sequence({ value });
const der = (node: asn1js.BaseBlock) => Buffer.from(node.toBER(false));
const fromDer = (bytes: Uint8Array) => asn1js.fromBER(bytes).result;
const ctx = (tagNumber: number, value: asn1js.BaseBlock[]) =>
  new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value });
/** AlgorithmIdentifier, parameters absent or NULL. */
const alg = (value: string, withNull = false) => seqOf(oid(value), ...(withNull ? [new asn1js.Null()] : []));

let ca: DevCa;
let key: Sm2PrivateKey;
let cert: Certificate;
const content = Buffer.from("<EInvoice><Header><EInvoiceID>0000000001</EInvoiceID></Header></EInvoice>");

beforeAll(async () => {
  ca = await DevCa.create({ name: "forms CA" });
  key = Sm2PrivateKey.generate();
  cert = ca.issue({ subject: { commonName: "某某医院" }, publicKey: key.publicKey, usage: "sign+encrypt" });
});

function issuerAndSerial(c: Certificate): asn1js.Sequence {
  return seqOf(fromDer(c.issuerDer), asn1js.Integer.fromBigInt(c.serial));
}

interface SignedDataFixture {
  contentTypes: { outer: string; inner: string };
  signatureAlgorithm: asn1js.Sequence;
  attributes: boolean;
  attached: boolean;
}

/** A SignedData as GM/T 0010 §8 lays it out, with the identifiers another implementation chose. */
function otherSignedData(f: SignedDataFixture): Buffer {
  let signed: Buffer;
  const signerFields: asn1js.BaseBlock[] = [
    new asn1js.Integer({ value: 1 }),
    issuerAndSerial(cert),
    alg(OID_SM3),
  ];
  if (f.attributes) {
    const attrs = derSetOf([
      seqOf(oid("1.2.840.113549.1.9.3"), new asn1js.Set({ value: [oid(f.contentTypes.inner)] })),
      seqOf(
        oid("1.2.840.113549.1.9.4"),
        new asn1js.Set({ value: [new asn1js.OctetString({ valueHex: sm3(content) })] }),
      ),
    ]);
    signed = der(attrs);
    const implicit = Buffer.from(signed);
    implicit[0] = 0xa0;
    signerFields.push(fromDer(implicit));
  } else {
    signed = content; // no attributes: the signature covers the content itself
  }
  signerFields.push(f.signatureAlgorithm, new asn1js.OctetString({ valueHex: sign(signed, key) }));
  const encapsulated = f.attached
    ? seqOf(oid(f.contentTypes.inner), ctx(0, [new asn1js.OctetString({ valueHex: content })]))
    : seqOf(oid(f.contentTypes.inner));
  const body = seqOf(
    new asn1js.Integer({ value: 1 }),
    new asn1js.Set({ value: [alg(OID_SM3)] }),
    encapsulated,
    ctx(0, [fromDer(cert.toDer())]),
    new asn1js.Set({ value: [seqOf(...signerFields)] }),
  );
  return der(seqOf(oid(f.contentTypes.outer), ctx(0, [body])));
}

const GM = { outer: OID_GM_SIGNED_DATA, inner: OID_GM_DATA };

describe("SignedData in other implementations' forms verifies here", () => {
  const cases: [string, SignedDataFixture][] = [
    [
      "GmSSL 3 (SM2-with-SM3 …1.501, no parameters)",
      { contentTypes: GM, signatureAlgorithm: alg(OID_SM2_WITH_SM3), attributes: true, attached: true },
    ],
    [
      "GM/T 0010 to the letter (SM2-1 …301.1)",
      { contentTypes: GM, signatureAlgorithm: alg(OID_SM2_1), attributes: true, attached: false },
    ],
    [
      "SM2-1 with NULL parameters",
      { contentTypes: GM, signatureAlgorithm: alg(OID_SM2_1, true), attributes: true, attached: true },
    ],
    [
      "the bare SM2 family OID …301",
      { contentTypes: GM, signatureAlgorithm: alg(OID_SM2), attributes: true, attached: true },
    ],
    [
      "PKCS#7 content types",
      {
        contentTypes: { outer: PKCS7_SIGNED, inner: PKCS7_DATA },
        signatureAlgorithm: alg(OID_SM2_WITH_SM3),
        attributes: true,
        attached: true,
      },
    ],
    [
      "no authenticated attributes",
      { contentTypes: GM, signatureAlgorithm: alg(OID_SM2_1), attributes: false, attached: true },
    ],
  ];
  for (const [name, fixture] of cases) {
    it(name, () => {
      const p7 = otherSignedData(fixture);
      const result = verifySignedData(p7, { content, trusted: [ca.certificate] });
      expect(result, result.reason).toMatchObject({ valid: true });
      expect(result.signer?.equals(cert)).toBe(true);
    });
  }

  it("refuses a non-SM2 signature algorithm, and a changed content, in those forms", () => {
    const ecdsa = otherSignedData({
      contentTypes: GM,
      signatureAlgorithm: alg("1.2.840.10045.4.3.2"),
      attributes: true,
      attached: true,
    });
    expect(verifySignedData(ecdsa, { content }).valid).toBe(false);
    const other = otherSignedData({
      contentTypes: GM,
      signatureAlgorithm: alg(OID_SM2_WITH_SM3),
      attributes: true,
      attached: false,
    });
    expect(verifySignedData(other, { content: Buffer.from("tampered") }).valid).toBe(false);
  });
});

describe("SignedData as written for each peer profile", () => {
  it("default and gmssl write SM2-with-SM3 (…1.501); gmt0010 writes SM2-1 (…301.1); all verify", () => {
    const expected = { default: OID_SM2_WITH_SM3, gmssl: OID_SM2_WITH_SM3, gmt0010: OID_SM2_1 } as const;
    for (const [name, profile] of Object.entries(PKCS7_PROFILES)) {
      const p7 = createSignedData({
        content,
        detached: true,
        signerKey: key,
        signerCert: cert,
        signatureAlgorithm: profile.signatureAlgorithm,
      });
      const info = parseSignedData(p7);
      expect(info.signers[0]?.signatureAlgorithm, name).toBe(expected[name as keyof typeof expected]);
      expect(info.signers[0]?.version).toBe(1);
      expect(verifySignedData(p7, { content, trusted: [ca.certificate] }).valid).toBe(true);
    }
  });
});

interface EnvelopeFixture {
  outer: string;
  version: number;
  recipientVersion: number;
  keyEncryption: string;
  /** The encrypted key as the GM/T 0009 SEQUENCE (asn1) or a raw C1C3C2 string. */
  keyForm: "asn1" | "C1C3C2";
}

/** An EnvelopedData as GM/T 0010 §9 lays it out, with another implementation's choices. */
function otherEnvelopedData(f: EnvelopeFixture, recipient = cert): Buffer {
  const cek = Buffer.alloc(16, 0x5a);
  const iv = Buffer.alloc(16, 0x11);
  const recipientInfo = seqOf(
    new asn1js.Integer({ value: f.recipientVersion }),
    issuerAndSerial(recipient),
    alg(f.keyEncryption),
    new asn1js.OctetString({ valueHex: encrypt(cek, recipient.publicKey, { form: f.keyForm }) }),
  );
  const encryptedContentInfo = seqOf(
    oid(OID_GM_DATA),
    seqOf(oid(OID_SM4_CBC), new asn1js.OctetString({ valueHex: iv })),
    new asn1js.Primitive({
      idBlock: { tagClass: 3, tagNumber: 0 },
      valueHex: sm4CbcEncrypt(cek, iv, content),
    }),
  );
  const body = seqOf(
    new asn1js.Integer({ value: f.version }),
    new asn1js.Set({ value: [recipientInfo] }),
    encryptedContentInfo,
  );
  return der(seqOf(oid(f.outer), ctx(0, [body])));
}

describe("EnvelopedData in other implementations' forms opens here", () => {
  const cases: [string, EnvelopeFixture][] = [
    [
      "GmSSL 3 (version 1, RecipientInfo version 1, …301.2)",
      {
        outer: OID_GM_ENVELOPED_DATA,
        version: 1,
        recipientVersion: 1,
        keyEncryption: OID_SM2_ENCRYPT_GMSSL,
        keyForm: "asn1",
      },
    ],
    [
      "GM/T 0010 (version 0, SM2-3 …301.3)",
      {
        outer: OID_GM_ENVELOPED_DATA,
        version: 0,
        recipientVersion: 0,
        keyEncryption: OID_SM2_ENCRYPT,
        keyForm: "asn1",
      },
    ],
    [
      "the bare SM2 family OID …301, PKCS#7's content type",
      { outer: PKCS7_ENVELOPED, version: 0, recipientVersion: 0, keyEncryption: OID_SM2, keyForm: "asn1" },
    ],
    [
      "the key as raw C1C3C2",
      {
        outer: OID_GM_ENVELOPED_DATA,
        version: 1,
        recipientVersion: 1,
        keyEncryption: OID_SM2_ENCRYPT,
        keyForm: "C1C3C2",
      },
    ],
  ];
  for (const [name, fixture] of cases) {
    it(name, () => {
      expect(openEnvelopedData(otherEnvelopedData(fixture), { key, cert }).equals(content)).toBe(true);
    });
  }

  it("refuses an RSA key-encryption algorithm, and an envelope for someone else", async () => {
    const rsa = otherEnvelopedData({
      outer: OID_GM_ENVELOPED_DATA,
      version: 1,
      recipientVersion: 1,
      keyEncryption: "1.2.840.113549.1.1.1",
      keyForm: "asn1",
    });
    expect(() => openEnvelopedData(rsa, { key, cert })).toThrow(/not SM2 encryption/);
    const otherKey = Sm2PrivateKey.generate();
    const otherCert = ca.issue({
      subject: { commonName: "other" },
      publicKey: otherKey.publicKey,
      usage: "encrypt",
    });
    const forOther = otherEnvelopedData(
      {
        outer: OID_GM_ENVELOPED_DATA,
        version: 0,
        recipientVersion: 0,
        keyEncryption: OID_SM2_ENCRYPT,
        keyForm: "asn1",
      },
      otherCert,
    );
    expect(() => openEnvelopedData(forOther, { key, cert })).toThrow(/no RecipientInfo/);
  });
});

describe("EnvelopedData as written for each form", () => {
  /** version, RecipientInfo version and keyEncryptionAlgorithm, read with asn1js directly. */
  function fields(p7: Buffer): { version: number; recipientVersion: number; keyEncryption: string } {
    const top = fromDer(p7) as asn1js.Sequence;
    const body = (top.valueBlock.value[1] as asn1js.Constructed).valueBlock.value[0] as asn1js.Sequence;
    const [version, recipients] = body.valueBlock.value as [asn1js.Integer, asn1js.Set];
    const ri = recipients.valueBlock.value[0] as asn1js.Sequence;
    const [riVersion, , keyAlg] = ri.valueBlock.value as [asn1js.Integer, asn1js.Sequence, asn1js.Sequence];
    return {
      version: version.valueBlock.valueDec,
      recipientVersion: riVersion.valueBlock.valueDec,
      keyEncryption: (keyAlg.valueBlock.value[0] as asn1js.ObjectIdentifier).getValue(),
    };
  }

  it("gmt0010 (the default): version 0, SM2-3 …301.3; gmssl: version 1, …301.2; both open here", () => {
    const standard = createEnvelopedData({ content, recipients: [cert] });
    expect(fields(standard)).toEqual({ version: 0, recipientVersion: 0, keyEncryption: OID_SM2_ENCRYPT });
    const gmssl = createEnvelopedData({ content, recipients: [cert], form: PKCS7_PROFILES.gmssl.envelope });
    expect(fields(gmssl)).toEqual({ version: 1, recipientVersion: 1, keyEncryption: OID_SM2_ENCRYPT_GMSSL });
    for (const p7 of [standard, gmssl])
      expect(openEnvelopedData(p7, { key, cert }).equals(content)).toBe(true);
  });
});

describe("certificates without the encodings common verifiers refuse", () => {
  it("a leaf has no basicConstraints (no empty critical SEQUENCE); a CA's is critical with cA TRUE", () => {
    const bc = (c: Certificate) => c.extensions.find((e) => e.oid === "2.5.29.19");
    expect(bc(cert)).toBeUndefined();
    expect(cert.isCa).toBe(false);
    const caBc = bc(ca.certificate);
    expect(caBc?.critical).toBe(true);
    expect(caBc?.value.toString("hex")).toBe("30030101ff");
    // Every critical extension a leaf carries is one GmSSL and OpenSSL know: keyUsage.
    expect(cert.extensions.filter((e) => e.critical).map((e) => e.oid)).toEqual(["2.5.29.15"]);
  });
});
