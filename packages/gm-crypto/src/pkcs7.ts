/**
 * PKCS#7 with SM2/SM3/SM4 as GM/T 0010-2012 (GB/T 35275-2017) specifies it: SignedData and
 * EnvelopedData in the PKCS#7 v1.5 shapes (RFC 2315), with the GM content-type OIDs and algorithms.
 * Built and read with asn1js; the cryptography is this package's (SM2 via Node's OpenSSL, SM2
 * encryption by hand, SM4-CBC via Node).
 *
 * SignedData: one SignerInfo (version 1, issuerAndSerialNumber), authenticated attributes
 * contentType, messageDigest (SM3 of the content) and signingTime, signed with SM2 (Z_A with the
 * user ID, default "1234567812345678") over the DER encoding of the attributes as a SET OF, exactly
 * as PKCS#7/CMS sign them. Attached or detached content.
 *
 * EnvelopedData: a fresh SM4 key and IV per message, the content SM4-CBC (PKCS#7 padding), the key
 * SM2-encrypted to each recipient certificate, in the GM/T 0009 ASN.1 ciphertext form.
 *
 * Identifiers (docs/adr/0007-pkcs7-identifiers.md): implementations in the wild disagree on two
 * of them, so both are a choice per peer (`Pkcs7Profile`, `PKCS7_PROFILES`) and both forms are
 * read. SignerInfo's digestEncryptionAlgorithm is written as SM2-with-SM3 (…1.501, what GmSSL
 * requires) unless a peer wants GM/T 0010's SM2-1 (…301.1). EnvelopedData is written as GM/T
 * 0010 / GM/T 0006 say (version 0, SM2-3 encryption …301.3) unless a peer wants GmSSL's form
 * (version 1, …301.2).
 */
import * as asn1js from "asn1js";
import {
  algorithmOid,
  encodingOf,
  explicitChild,
  implicitChildren,
  implicitOctets,
  integer,
  isContext,
  octets,
  oid,
  parseDer,
  readTime,
  seq,
  setItems,
} from "./der.ts";
import {
  children,
  derAlgorithm,
  derOctets,
  derOid,
  derSetOf as derSetOfBytes,
  derTime,
  derUnsignedInteger,
  oidText,
  readTlv,
  slice,
  smallInteger,
  tlv,
} from "./der-bytes.ts";
import { decrypt, encrypt } from "./encryption.ts";
import { GmCryptoError } from "./errors.ts";
import type { Sm2PrivateKey } from "./keys.ts";
import { sign, verify } from "./signature.ts";
import { sm3 } from "./sm3.ts";
import { generateSm4Iv, generateSm4Key, sm4CbcDecrypt, sm4CbcEncrypt } from "./sm4.ts";
import { Certificate, OID_SM2_WITH_SM3, OID_SM3, verifyChain } from "./x509.ts";

/** GM/T 0010 §5 content types (1.2.156.10197.6.1.4.2.x). */
export const OID_GM_DATA = "1.2.156.10197.6.1.4.2.1";
export const OID_GM_SIGNED_DATA = "1.2.156.10197.6.1.4.2.2";
export const OID_GM_ENVELOPED_DATA = "1.2.156.10197.6.1.4.2.3";
/** SM2-1, the SM2 digital signature algorithm (GM/T 0006): GM/T 0010's digestEncryptionAlgorithm. */
export const OID_SM2_SIGN = "1.2.156.10197.1.301.1";
/** SM2-3, SM2 public-key encryption (GM/T 0006): GM/T 0010's keyEncryptionAlgorithm. */
export const OID_SM2_ENCRYPT = "1.2.156.10197.1.301.3";
/**
 * What GmSSL 3 writes (and requires) as keyEncryptionAlgorithm: …301.2, which GM/T 0006 assigns
 * to SM2-2 key exchange. Read always; written for peers with `envelope: "gmssl"`.
 */
export const OID_SM2_ENCRYPT_GMSSL = "1.2.156.10197.1.301.2";
/** The SM2 algorithm family (GM/T 0006); some writers put it where a specific SM2 scheme belongs. */
const OID_SM2 = "1.2.156.10197.1.301";

/** SignerInfo.digestEncryptionAlgorithm as written: SM2-with-SM3 (…1.501) or SM2-1 (…301.1). */
export type SignatureAlgorithmForm = "sm2-with-sm3" | "sm2-1";
/** EnvelopedData as written: GM/T 0010 (version 0, …301.3) or GmSSL's (version 1, …301.2). */
export type EnvelopeForm = "gmt0010" | "gmssl";

/** How PKCS#7 is written for one peer (what it reads, both forms are always accepted here). */
export interface Pkcs7Profile {
  signatureAlgorithm: SignatureAlgorithmForm;
  envelope: EnvelopeForm;
}

/**
 * Named profiles. `default`: the forms the widest set of verifiers take (see the ADR);
 * `gmssl`: GmSSL 3's own forms; `gmt0010`: the GM/T 0010 text to the letter.
 */
export const PKCS7_PROFILES = {
  default: { signatureAlgorithm: "sm2-with-sm3", envelope: "gmt0010" },
  gmssl: { signatureAlgorithm: "sm2-with-sm3", envelope: "gmssl" },
  gmt0010: { signatureAlgorithm: "sm2-1", envelope: "gmt0010" },
} as const satisfies Record<string, Pkcs7Profile>;

export type Pkcs7ProfileName = keyof typeof PKCS7_PROFILES;

const SIGNATURE_ALGORITHM_OIDS: Record<SignatureAlgorithmForm, string> = {
  "sm2-with-sm3": "1.2.156.10197.1.501",
  "sm2-1": "1.2.156.10197.1.301.1",
};
const ENVELOPE_FORMS: Record<EnvelopeForm, { version: number; keyEncryption: string }> = {
  gmt0010: { version: 0, keyEncryption: OID_SM2_ENCRYPT },
  gmssl: { version: 1, keyEncryption: OID_SM2_ENCRYPT_GMSSL },
};
const SM2_KEY_ENCRYPTION_OIDS = new Set([OID_SM2_ENCRYPT, OID_SM2_ENCRYPT_GMSSL, OID_SM2]);
/** SM4 in CBC mode (GM/T 0006); parameters: the IV as an OCTET STRING. */
export const OID_SM4_CBC = "1.2.156.10197.1.104.2";

const OID_PKCS7_DATA = "1.2.840.113549.1.7.1";
const OID_PKCS7_SIGNED_DATA = "1.2.840.113549.1.7.2";
const OID_PKCS7_ENVELOPED_DATA = "1.2.840.113549.1.7.3";
const OID_ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3";
const OID_ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
const OID_ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5";

/** What a reader accepts as an SM2 signature algorithm in SignerInfo (writers in the wild use all three). */
const SM2_SIGNATURE_OIDS = new Set([OID_SM2_SIGN, OID_SM2_WITH_SM3, OID_SM2]);
const DATA_OIDS = new Set([OID_GM_DATA, OID_PKCS7_DATA]);

function bad(message: string, cause?: unknown): GmCryptoError {
  return new GmCryptoError("BAD_PKCS7", message, cause === undefined ? undefined : { cause });
}

// ---------------------------------------------------------------------------------------------
// SignedData

export interface SignOptionsCommon {
  signerKey: Sm2PrivateKey;
  signerCert: Certificate;
  /** SM2 user ID for Z_A; default "1234567812345678". The verifier must use the same. */
  userId?: string;
  /** Default now. */
  signingTime?: Date;
  /** Put the signer's certificate into the SignedData (default true). */
  includeCertificates?: boolean;
  /** More certificates to include (intermediate CAs), when includeCertificates is not false. */
  chain?: Certificate[];
  /** SignerInfo.digestEncryptionAlgorithm; default "sm2-with-sm3" (1.2.156.10197.1.501). */
  signatureAlgorithm?: SignatureAlgorithmForm;
}

export interface CreateSignedDataOptions extends SignOptionsCommon {
  content: Uint8Array;
  /** true: the content is not carried (the receipt's agency signature is detached). */
  detached: boolean;
}

export interface CreateSignedDataFromDigestOptions extends SignOptionsCommon {
  /** SM3 of the content (plain SM3, no Z_A), e.g. from createSm3() fed chunk by chunk. */
  digest: Uint8Array;
}

function checkSigner(opts: SignOptionsCommon): void {
  if (!(opts.signerCert instanceof Certificate))
    throw new GmCryptoError("BAD_INPUT", "signerCert must be a Certificate");
  if (!opts.signerCert.publicKey.equals(opts.signerKey.publicKey)) {
    throw new GmCryptoError("BAD_KEY", "the signer key does not belong to the signer certificate");
  }
  if (!opts.signerCert.allows("digitalSignature") && !opts.signerCert.allows("nonRepudiation")) {
    throw new GmCryptoError("BAD_CERTIFICATE", "the signer certificate's keyUsage does not allow signing");
  }
}

function signatureAlgorithmOid(form: SignatureAlgorithmForm | undefined): string {
  const oidValue = SIGNATURE_ALGORITHM_OIDS[form ?? "sm2-with-sm3"];
  if (!oidValue) throw new GmCryptoError("BAD_INPUT", `signatureAlgorithm must be sm2-with-sm3 or sm2-1`);
  return oidValue;
}

function buildSignedData(
  opts: SignOptionsCommon,
  digest: Uint8Array,
  content: Uint8Array | undefined,
): Buffer {
  checkSigner(opts);
  if (!(digest instanceof Uint8Array) || digest.length !== 32) {
    throw new GmCryptoError("BAD_INPUT", "the content digest must be 32 bytes (SM3)");
  }
  const signingTime = opts.signingTime ?? new Date();
  if (!(signingTime instanceof Date) || Number.isNaN(signingTime.getTime())) {
    throw new GmCryptoError("BAD_INPUT", "signingTime must be a valid Date");
  }
  // Written on bytes (der-bytes.ts): the same DER asn1js would give, at a fraction of the cost.
  const signedAttributes = derSetOfBytes([
    bytesAttribute(OID_ATTR_CONTENT_TYPE, derOid(OID_GM_DATA)),
    bytesAttribute(OID_ATTR_SIGNING_TIME, derTime(signingTime)),
    bytesAttribute(OID_ATTR_MESSAGE_DIGEST, derOctets(digest)),
  ]); // SET OF (tag 0x31): what is signed
  const signature = sign(
    signedAttributes,
    opts.signerKey,
    opts.userId === undefined ? {} : { userId: opts.userId },
  );
  const implicitAttributes = Buffer.from(signedAttributes);
  implicitAttributes[0] = 0xa0; // the same SET as [0] IMPLICIT in SignerInfo

  const signerInfo = tlv(
    0x30,
    derUnsignedInteger(1),
    bytesIssuerAndSerial(opts.signerCert),
    derAlgorithm(OID_SM3),
    implicitAttributes,
    derAlgorithm(signatureAlgorithmOid(opts.signatureAlgorithm)),
    derOctets(signature),
  );
  const encapsulated =
    content === undefined
      ? tlv(0x30, derOid(OID_GM_DATA))
      : tlv(0x30, derOid(OID_GM_DATA), tlv(0xa0, derOctets(content)));
  const fields: Buffer[] = [derUnsignedInteger(1), tlv(0x31, derAlgorithm(OID_SM3)), encapsulated];
  if (opts.includeCertificates !== false) {
    // [0] IMPLICIT SET OF Certificate
    fields.push(
      derSetOfBytes(
        [opts.signerCert, ...(opts.chain ?? [])].map((c) => c.derView),
        0xa0,
      ),
    );
  }
  fields.push(tlv(0x31, signerInfo));
  return bytesContentInfo(OID_GM_SIGNED_DATA, tlv(0x30, ...fields));
}

function bytesContentInfo(type: string, content: Buffer): Buffer {
  return tlv(0x30, derOid(type), tlv(0xa0, content));
}

function bytesIssuerAndSerial(cert: Certificate): Buffer {
  return tlv(0x30, cert.issuerDerView, derUnsignedInteger(cert.serial));
}

function bytesAttribute(type: string, value: Buffer): Buffer {
  return tlv(0x30, derOid(type), tlv(0x31, value));
}

/** A GM/T 0010 SignedData (DER ContentInfo) over `content`, attached or detached. */
export function createSignedData(opts: CreateSignedDataOptions): Buffer {
  if (!(opts.content instanceof Uint8Array)) throw new GmCryptoError("BAD_INPUT", "content must be bytes");
  return buildSignedData(opts, sm3(opts.content), opts.detached ? undefined : opts.content);
}

/**
 * The same detached SignedData as createSignedData({ detached: true }), from the SM3 digest of
 * content hashed elsewhere (a large file hashed as a stream): the signature covers the
 * authenticated attributes, which hold only the digest.
 */
export function createSignedDataFromDigest(opts: CreateSignedDataFromDigestOptions): Buffer {
  return buildSignedData(opts, opts.digest, undefined);
}

export interface SignerInfoData {
  version: number;
  /** IssuerAndSerialNumber (v1) or subjectKeyIdentifier (v3, CMS). */
  issuerDer: Buffer | undefined;
  serial: bigint | undefined;
  subjectKeyIdentifier: Buffer | undefined;
  digestAlgorithm: string;
  signatureAlgorithm: string;
  /** The authenticated attributes re-tagged as SET OF (0x31): the bytes the signature covers. */
  signedAttributes: Buffer | undefined;
  contentType: string | undefined;
  messageDigest: Buffer | undefined;
  signingTime: Date | undefined;
  /** DER SEQUENCE { r, s }. */
  signature: Buffer;
}

export interface SignedDataInfo {
  contentType: string;
  /** The carried content; undefined when detached. */
  content: Buffer | undefined;
  /** The SM2 certificates carried (others are skipped). */
  certificates: Certificate[];
  signers: SignerInfoData[];
}

function readAttributes(
  node: asn1js.BaseBlock,
): Pick<SignerInfoData, "signedAttributes" | "contentType" | "messageDigest" | "signingTime"> {
  const attrs = implicitChildren(node, 0);
  if (!attrs || attrs.length === 0) throw bad("empty authenticated attributes");
  const signedAttributes = Buffer.from(encodingOf(node));
  signedAttributes[0] = 0x31;
  let contentType: string | undefined;
  let messageDigest: Buffer | undefined;
  let signingTime: Date | undefined;
  const seen = new Set<string>();
  for (const attr of attrs) {
    const parts = seq(attr, 2, 2);
    const type = parts && oid(parts[0]);
    const values = parts && setItems(parts[1]);
    if (!type || !values) throw bad("bad attribute");
    if (seen.has(type)) throw bad(`attribute ${type} appears twice`);
    seen.add(type);
    if (
      type === OID_ATTR_CONTENT_TYPE ||
      type === OID_ATTR_MESSAGE_DIGEST ||
      type === OID_ATTR_SIGNING_TIME
    ) {
      if (values.length !== 1) throw bad(`attribute ${type} must have exactly one value`);
    }
    if (type === OID_ATTR_CONTENT_TYPE) contentType = oid(values[0]) ?? undefined;
    if (type === OID_ATTR_MESSAGE_DIGEST) messageDigest = octets(values[0]) ?? undefined;
    if (type === OID_ATTR_SIGNING_TIME) signingTime = readTime(values[0]) ?? undefined;
    if (
      (type === OID_ATTR_CONTENT_TYPE && !contentType) ||
      (type === OID_ATTR_MESSAGE_DIGEST && !messageDigest) ||
      (type === OID_ATTR_SIGNING_TIME && !signingTime)
    ) {
      throw bad(`bad value of attribute ${type}`);
    }
  }
  return { signedAttributes, contentType, messageDigest, signingTime };
}

function readSignerInfo(node: asn1js.BaseBlock): SignerInfoData {
  const f = seq(node, 5, 7);
  if (!f) throw bad("SignerInfo is not a SEQUENCE of 5 to 7 fields");
  const version = integer(f[0]);
  if (version === null) throw bad("bad SignerInfo version");
  let issuerDer: Buffer | undefined;
  let serial: bigint | undefined;
  let subjectKeyIdentifier: Buffer | undefined;
  const sid = f[1]!;
  const ias = seq(sid, 2, 2);
  if (ias) {
    serial = integer(ias[1]) ?? undefined;
    if (!(ias[0] instanceof asn1js.Sequence) || serial === undefined) throw bad("bad issuerAndSerialNumber");
    issuerDer = encodingOf(ias[0]);
  } else if (isContext(sid, 0)) {
    subjectKeyIdentifier = implicitOctets(sid) ?? undefined;
    if (!subjectKeyIdentifier) throw bad("bad subjectKeyIdentifier");
  } else {
    throw bad("bad signer identifier");
  }
  const digestAlgorithm = algorithmOid(f[2]);
  if (!digestAlgorithm) throw bad("bad digestAlgorithm");
  let i = 3;
  let attributes: ReturnType<typeof readAttributes> = {
    signedAttributes: undefined,
    contentType: undefined,
    messageDigest: undefined,
    signingTime: undefined,
  };
  if (isContext(f[i], 0)) attributes = readAttributes(f[i++]!);
  const signatureAlgorithm = algorithmOid(f[i++]);
  const signature = octets(f[i++]);
  if (!signatureAlgorithm || !signature) throw bad("bad digestEncryptionAlgorithm or encryptedDigest");
  if (i < f.length && !isContext(f[i], 1)) throw bad("unexpected field after encryptedDigest");
  return {
    version: Number(version),
    issuerDer,
    serial,
    subjectKeyIdentifier,
    digestAlgorithm,
    signatureAlgorithm,
    ...attributes,
    signature,
  };
}

function unwrap(der: Uint8Array, types: Set<string>, what: string): asn1js.BaseBlock[] {
  if (!(der instanceof Uint8Array)) throw bad(`${what} must be bytes`);
  const ci = seq(parseDer(der), 2, 2);
  if (!ci) throw bad(`not a DER ContentInfo (truncated or not PKCS#7)`);
  const type = oid(ci[0]);
  if (!type || !types.has(type)) throw bad(`ContentInfo is ${type ?? "?"}, not ${what}`);
  const body = seq(explicitChild(ci[1], 0));
  if (!body) throw bad(`bad ${what} body`);
  return body;
}

/** Reads a SignedData without verifying anything: for inspection and independent cross-checks. */
export function parseSignedData(der: Uint8Array): SignedDataInfo {
  const f = unwrap(der, new Set([OID_GM_SIGNED_DATA, OID_PKCS7_SIGNED_DATA]), "SignedData");
  if (f.length < 4 || f.length > 6) throw bad("SignedData must have 4 to 6 fields");
  if (integer(f[0]) === null || !setItems(f[1])) throw bad("bad SignedData version or digestAlgorithms");
  const eci = seq(f[2], 1, 2);
  const contentType = eci && oid(eci[0]);
  if (!eci || !contentType) throw bad("bad encapsulated contentInfo");
  let content: Buffer | undefined;
  if (eci.length === 2) {
    const inner = explicitChild(eci[1], 0);
    content = (inner && octets(inner)) ?? undefined;
    if (!content) throw bad("the encapsulated content is not an OCTET STRING");
  }
  const certificates: Certificate[] = [];
  let i = 3;
  for (; i < f.length - 1; i++) {
    if (isContext(f[i], 0)) {
      for (const c of implicitChildren(f[i], 0) ?? []) {
        try {
          certificates.push(Certificate.fromDer(encodingOf(c)));
        } catch {
          // not an SM2 certificate (or not one we read): it cannot be the SM2 signer's anyway
        }
      }
    } else if (!isContext(f[i], 1)) {
      throw bad("unexpected field in SignedData");
    }
  }
  const signerNodes = setItems(f[f.length - 1]);
  if (!signerNodes) throw bad("bad signerInfos");
  return { contentType, content, certificates, signers: signerNodes.map(readSignerInfo) };
}

export interface VerifySignedDataOptions {
  /** The content, for a detached SignedData (if the SignedData carries content too, they must be equal). */
  content?: Uint8Array;
  /** Root certificates: when given, the signer's certificate must chain to one of them. */
  trusted?: Certificate[];
  /** SM2 user ID the signer used; default "1234567812345678". */
  userId?: string;
  /** Certificates to find the signer (and intermediates) among, besides those carried. */
  certificates?: Certificate[];
  /** The time at which certificates must be valid; default now. */
  at?: Date;
}

export interface VerifySignedDataResult {
  valid: boolean;
  reason?: string;
  signer?: Certificate;
  signingTime?: Date;
  /** The content that was verified (carried or given). */
  content?: Uint8Array;
}

function findSigner(info: SignerInfoData, certs: Certificate[]): Certificate | undefined {
  return certs.find((c) =>
    info.issuerDer !== undefined && info.serial !== undefined
      ? c.matchesIssuerAndSerial(info.issuerDer, info.serial)
      : info.subjectKeyIdentifier !== undefined && c.subjectKeyIdentifier?.equals(info.subjectKeyIdentifier),
  );
}

function verifySigner(
  info: SignerInfoData,
  eContentType: string,
  content: Buffer,
  certs: Certificate[],
  opts: VerifySignedDataOptions,
): VerifySignedDataResult {
  const signer = findSigner(info, certs);
  if (!signer) return { valid: false, reason: "the signer's certificate is neither carried nor given" };
  const fail = (reason: string): VerifySignedDataResult => ({ valid: false, reason, signer });
  if (info.digestAlgorithm !== OID_SM3) return fail(`digest algorithm ${info.digestAlgorithm} is not SM3`);
  if (!SM2_SIGNATURE_OIDS.has(info.signatureAlgorithm)) {
    return fail(`signature algorithm ${info.signatureAlgorithm} is not SM2`);
  }
  const userId = opts.userId === undefined ? {} : { userId: opts.userId };
  let signatureOk: boolean;
  try {
    if (info.signedAttributes) {
      if (!info.messageDigest) return fail("the authenticated attributes have no messageDigest");
      if (info.contentType !== undefined && info.contentType !== eContentType) {
        return fail("the contentType attribute does not match the content type");
      }
      if (!sm3(content).equals(info.messageDigest)) return fail("the content does not match messageDigest");
      signatureOk = verify(info.signedAttributes, info.signature, signer.publicKey, userId);
    } else {
      signatureOk = verify(content, info.signature, signer.publicKey, userId);
    }
  } catch (cause) {
    if (cause instanceof GmCryptoError && cause.code === "BAD_SIGNATURE_FORMAT") {
      return fail("the signature value is not a DER SM2 signature");
    }
    throw cause;
  }
  if (!signatureOk) return fail("the SM2 signature does not verify");
  if (!signer.allows("digitalSignature") && !signer.allows("nonRepudiation")) {
    return fail("the signer certificate's keyUsage does not allow signing");
  }
  if (opts.trusted) {
    const chain = verifyChain(signer, certs, opts.trusted, opts.at ?? new Date());
    if (!chain.ok) return fail(`certificate chain: ${chain.reason}`);
  }
  return { valid: true, signer, ...(info.signingTime ? { signingTime: info.signingTime } : {}) };
}

/**
 * Verifies every SignerInfo of a SignedData. Returns valid:false with a reason for a signature,
 * digest, certificate or chain that does not check out; throws GmCryptoError BAD_PKCS7 for bytes
 * that are not a SignedData at all (truncated, junk, another content type).
 */
export function verifySignedData(
  der: Uint8Array,
  opts: VerifySignedDataOptions = {},
): VerifySignedDataResult {
  let info: SignedDataInfo;
  try {
    info = parseSignedData(der);
  } catch (cause) {
    if (cause instanceof GmCryptoError) throw cause;
    throw bad("unreadable SignedData", cause);
  }
  if (!DATA_OIDS.has(info.contentType)) {
    return { valid: false, reason: `the signed content type ${info.contentType} is not data` };
  }
  if (info.signers.length === 0) return { valid: false, reason: "no SignerInfo" };
  let content = info.content;
  if (opts.content !== undefined) {
    const given = Buffer.from(opts.content);
    if (content !== undefined && !content.equals(given)) {
      return { valid: false, reason: "the given content differs from the carried content" };
    }
    content = given;
  }
  if (content === undefined) return { valid: false, reason: "detached SignedData: pass the content" };
  const certs = [...info.certificates, ...(opts.certificates ?? [])];
  let first: VerifySignedDataResult | undefined;
  for (const signerInfo of info.signers) {
    const result = verifySigner(signerInfo, info.contentType, content, certs, opts);
    if (!result.valid) return result;
    first ??= result;
  }
  return { ...first!, content };
}

// ---------------------------------------------------------------------------------------------
// EnvelopedData

export interface CreateEnvelopedDataOptions {
  content: Uint8Array;
  /** Encryption certificates (keyUsage keyEncipherment when keyUsage is present). */
  recipients: Certificate[];
  /** Default "gmt0010" (version 0, keyEncryptionAlgorithm 1.2.156.10197.1.301.3). */
  form?: EnvelopeForm;
}

export function createEnvelopedData(opts: CreateEnvelopedDataOptions): Buffer {
  if (!(opts.content instanceof Uint8Array)) throw new GmCryptoError("BAD_INPUT", "content must be bytes");
  if (!Array.isArray(opts.recipients) || opts.recipients.length === 0) {
    throw new GmCryptoError("BAD_INPUT", "at least one recipient certificate is needed");
  }
  for (const r of opts.recipients) {
    if (!(r instanceof Certificate)) throw new GmCryptoError("BAD_INPUT", "recipients must be Certificates");
    if (!r.allows("keyEncipherment")) {
      throw new GmCryptoError(
        "BAD_CERTIFICATE",
        `recipient "${r.subject.text}" has a certificate whose keyUsage does not allow key encipherment`,
      );
    }
  }
  const form = ENVELOPE_FORMS[opts.form ?? "gmt0010"];
  if (!form) throw new GmCryptoError("BAD_INPUT", "form must be gmt0010 or gmssl");
  const key = generateSm4Key();
  const iv = generateSm4Iv();
  const encrypted = sm4CbcEncrypt(key, iv, opts.content);
  const recipientInfos = opts.recipients.map((cert) =>
    tlv(
      0x30,
      derUnsignedInteger(form.version),
      bytesIssuerAndSerial(cert),
      derAlgorithm(form.keyEncryption),
      derOctets(encrypt(key, cert.publicKey, { form: "asn1" })),
    ),
  );
  key.fill(0);
  const encryptedContentInfo = tlv(
    0x30,
    derOid(OID_GM_DATA),
    derAlgorithm(OID_SM4_CBC, derOctets(iv)),
    tlv(0x80, encrypted), // [0] IMPLICIT OCTET STRING
  );
  return bytesContentInfo(
    OID_GM_ENVELOPED_DATA,
    tlv(0x30, derUnsignedInteger(form.version), derSetOfBytes(recipientInfos), encryptedContentInfo),
  );
}

interface RecipientInfoData {
  issuerDer: Buffer;
  serial: bigint;
  keyEncryptionAlgorithm: string;
  encryptedKey: Buffer;
}

function readRecipientInfo(node: asn1js.BaseBlock): RecipientInfoData {
  const f = seq(node, 4, 4);
  const ias = f && seq(f[1], 2, 2);
  const serial = ias && integer(ias[1]);
  const keyEncryptionAlgorithm = f && algorithmOid(f[2]);
  const encryptedKey = f && octets(f[3]);
  if (
    !f ||
    !ias ||
    serial == null ||
    !(ias[0] instanceof asn1js.Sequence) ||
    !keyEncryptionAlgorithm ||
    !encryptedKey
  ) {
    throw bad("bad RecipientInfo (only issuerAndSerialNumber key transport is supported)");
  }
  return { issuerDer: encodingOf(ias[0]), serial, keyEncryptionAlgorithm, encryptedKey };
}

function decryptFailed(message: string, cause?: unknown): GmCryptoError {
  return new GmCryptoError("DECRYPT_FAILED", message, cause === undefined ? undefined : { cause });
}

/** The SM4 key: GM/T 0009 ASN.1 ciphertext (as written here), or a raw C1C3C2 some writers use. */
function unwrapKey(encryptedKey: Buffer, key: Sm2PrivateKey): Buffer {
  try {
    return decrypt(encryptedKey, key, { form: "asn1" });
  } catch (cause) {
    if (
      cause instanceof GmCryptoError &&
      cause.code === "BAD_CIPHERTEXT_FORMAT" &&
      encryptedKey[0] === 0x04
    ) {
      try {
        return decrypt(encryptedKey, key, { form: "C1C3C2" });
      } catch (inner) {
        throw decryptFailed("the content-encryption key does not decrypt with this key", inner);
      }
    }
    throw decryptFailed("the content-encryption key does not decrypt with this key", cause);
  }
}

/**
 * Decrypts an EnvelopedData for the holder of `key` and `cert`. GmCryptoError codes:
 * BAD_PKCS7 (not an EnvelopedData, truncated, unknown algorithms), NOT_A_RECIPIENT (no
 * RecipientInfo for this certificate's issuer and serial number), DECRYPT_FAILED (the key or
 * the content does not decrypt), BAD_KEY (the key does not belong to the certificate).
 */
export function openEnvelopedData(der: Uint8Array, opts: { key: Sm2PrivateKey; cert: Certificate }): Buffer {
  if (!opts.cert.publicKey.equals(opts.key.publicKey)) {
    throw new GmCryptoError("BAD_KEY", "the private key does not belong to the certificate");
  }
  const fast = der instanceof Uint8Array ? readEnvelopeBytes(der) : null;
  if (fast) return openParsed(fast.recipients, fast.iv, fast.encrypted, opts);
  let recipients: RecipientInfoData[];
  let algorithmNode: asn1js.BaseBlock | undefined;
  let encrypted: Buffer | null;
  try {
    const f = unwrap(der, new Set([OID_GM_ENVELOPED_DATA, OID_PKCS7_ENVELOPED_DATA]), "EnvelopedData");
    if (f.length < 3 || f.length > 5 || integer(f[0]) === null) throw bad("bad EnvelopedData");
    const offset = isContext(f[1], 0) ? 1 : 0; // CMS originatorInfo
    const recipientNodes = setItems(f[1 + offset]);
    const eci = seq(f[2 + offset], 2, 5);
    if (!recipientNodes || !eci || !DATA_OIDS.has(oid(eci[0]) ?? "")) throw bad("bad EnvelopedData fields");
    recipients = recipientNodes.map(readRecipientInfo);
    algorithmNode = eci[1];
    encrypted = isContext(eci[2], 0) ? implicitOctets(eci[2]) : null;
    if (!encrypted) throw bad("no encryptedContent");
  } catch (cause) {
    if (cause instanceof GmCryptoError) throw cause;
    throw bad("unreadable EnvelopedData", cause);
  }
  const alg = seq(algorithmNode, 2, 2);
  const iv = alg && octets(alg[1]);
  if (!alg || oid(alg[0]) !== OID_SM4_CBC || !iv || iv.length !== 16) {
    throw bad("the content encryption algorithm is not SM4-CBC with a 16-byte IV");
  }
  return openParsed(recipients, iv, encrypted, opts);
}

/**
 * The common shape of an EnvelopedData read straight from the bytes (strict DER): GM/T 0010 or
 * PKCS#7 content types, issuerAndSerialNumber recipients, SM4-CBC with a 16-byte IV, primitive
 * [0] content. null for anything else, which the asn1js reader then reads or refuses with the
 * precise reason, so this path never accepts what that one refuses.
 */
function readEnvelopeBytes(
  buf: Uint8Array,
): { recipients: RecipientInfoData[]; iv: Buffer; encrypted: Buffer } | null {
  const top = readTlv(buf, 0);
  if (top?.tag !== 0x30 || top.end !== buf.length) return null;
  const ci = children(buf, top);
  if (ci?.length !== 2 || ci[1]!.tag !== 0xa0) return null;
  const type = oidText(buf, ci[0]);
  if (type !== OID_GM_ENVELOPED_DATA && type !== OID_PKCS7_ENVELOPED_DATA) return null;
  const wrapped = children(buf, ci[1]!);
  if (wrapped?.length !== 1 || wrapped[0]!.tag !== 0x30) return null;
  const f = children(buf, wrapped[0]!);
  if (f?.length !== 3 || smallInteger(buf, f[0]) === null || f[1]!.tag !== 0x31 || f[2]!.tag !== 0x30) {
    return null;
  }
  const recipients: RecipientInfoData[] = [];
  for (const ri of children(buf, f[1]!) ?? [null]) {
    const r = ri && ri.tag === 0x30 ? children(buf, ri) : null;
    if (r?.length !== 4 || smallInteger(buf, r[0]) === null || r[1]!.tag !== 0x30 || r[3]!.tag !== 0x04) {
      return null;
    }
    const ias = children(buf, r[1]!);
    const algParts = r[2]!.tag === 0x30 ? children(buf, r[2]!) : null;
    if (ias?.length !== 2 || ias[0]!.tag !== 0x30 || ias[1]!.tag !== 0x02 || !algParts) return null;
    const keyEncryptionAlgorithm = oidText(buf, algParts[0]);
    if (!keyEncryptionAlgorithm || algParts.length > 2) return null;
    if (algParts.length === 2 && (algParts[1]!.tag !== 0x05 || algParts[1]!.end !== algParts[1]!.start))
      return null;
    const serialBytes = slice(buf, ias[1]!);
    if (serialBytes.length === 0 || serialBytes[0]! & 0x80) return null;
    recipients.push({
      issuerDer: slice(buf, ias[0]!, true),
      serial: BigInt(`0x${serialBytes.toString("hex")}`),
      keyEncryptionAlgorithm,
      encryptedKey: slice(buf, r[3]!),
    });
  }
  const eci = children(buf, f[2]!);
  if (eci?.length !== 3 || !DATA_OIDS.has(oidText(buf, eci[0]) ?? "") || eci[2]!.tag !== 0x80) return null;
  const algParts = eci[1]!.tag === 0x30 ? children(buf, eci[1]!) : null;
  if (algParts?.length !== 2 || oidText(buf, algParts[0]) !== OID_SM4_CBC) return null;
  if (algParts[1]!.tag !== 0x04 || algParts[1]!.end - algParts[1]!.start !== 16) return null;
  return { recipients, iv: slice(buf, algParts[1]!), encrypted: slice(buf, eci[2]!) };
}

function openParsed(
  recipients: RecipientInfoData[],
  iv: Buffer,
  encrypted: Buffer,
  opts: { key: Sm2PrivateKey; cert: Certificate },
): Buffer {
  const mine = recipients.find((r) => opts.cert.matchesIssuerAndSerial(r.issuerDer, r.serial));
  if (!mine) {
    throw new GmCryptoError(
      "NOT_A_RECIPIENT",
      `no RecipientInfo for "${opts.cert.subject.text}" (serial ${opts.cert.serialNumber})`,
    );
  }
  if (!SM2_KEY_ENCRYPTION_OIDS.has(mine.keyEncryptionAlgorithm)) {
    throw bad(`key encryption algorithm ${mine.keyEncryptionAlgorithm} is not SM2 encryption`);
  }
  const sm4Key = unwrapKey(mine.encryptedKey, opts.key);
  if (sm4Key.length !== 16)
    throw decryptFailed(`the content-encryption key is ${sm4Key.length} bytes, not 16`);
  try {
    return sm4CbcDecrypt(sm4Key, iv, encrypted);
  } catch (cause) {
    throw decryptFailed("the content does not decrypt (SM4-CBC padding)", cause);
  } finally {
    sm4Key.fill(0);
  }
}

/**
 * A detached SignedData (base64) as a receipt document carries it: the value and the time its
 * signer says it was made (signingTime, ISO 8601; empty when it has none or cannot be read).
 */
export function signatureStamp(signatureBase64: string): { value: string; time: string } {
  let time = "";
  try {
    time =
      parseSignedData(Buffer.from(signatureBase64, "base64")).signers[0]?.signingTime?.toISOString() ?? "";
  } catch {
    // An unreadable signature is still carried as it is; verifying it says what is wrong.
  }
  return { value: signatureBase64, time };
}
