/**
 * X.509 v3 certificates with SM2 keys, signed SM2-with-SM3 (GM/T 0015 profile, RFC 5280 shapes),
 * built and read with asn1js directly. A development CA (DevCa) issues them; verifyChain checks a
 * leaf up to a trusted root.
 *
 * Why not pkijs: pkijs 3.x depends on asn1js 3 (this package is on asn1js 4; two copies break the
 * instanceof checks both libraries rely on), and pkijs signs and verifies through WebCrypto, which
 * has no SM2 or SM3: a custom engine would have had to do every SM2 step here anyway. The
 * certificate profile we need is small, so it is encoded directly.
 *
 * Certificate signatures are SM2 with the default user ID "1234567812345678" over the DER of
 * TBSCertificate (GB/T 20518 / GM/T 0015; also what OpenSSL 3 uses when verifying).
 */
import { createHash, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import { OID_EC_PUBLIC_KEY, OID_SM2_CURVE } from "./asn1.ts";
import {
  algorithm,
  algorithmOid,
  der,
  encodeTime,
  encodingOf,
  explicit,
  explicitChild,
  integer,
  isContext,
  octets,
  oid,
  parseDer,
  raw,
  readString,
  readTime,
  seq,
  setItems,
  unsignedBytes,
} from "./der.ts";
import { GmCryptoError } from "./errors.ts";
import { Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";
import { sign, verify } from "./signature.ts";
import { sm3 } from "./sm3.ts";

/** SM2 signature with SM3 (GM/T 0006): the certificate signature algorithm. */
export const OID_SM2_WITH_SM3 = "1.2.156.10197.1.501";
export const OID_SM3 = "1.2.156.10197.1.401";

const OID_EXT_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_EXT_KEY_USAGE = "2.5.29.15";
const OID_EXT_SUBJECT_KEY_ID = "2.5.29.14";
const OID_EXT_AUTHORITY_KEY_ID = "2.5.29.35";
/** Extensions this code understands; another one marked critical makes a certificate unusable (RFC 5280 §4.2). */
const KNOWN_EXTENSIONS = new Set([
  OID_EXT_BASIC_CONSTRAINTS,
  OID_EXT_KEY_USAGE,
  OID_EXT_SUBJECT_KEY_ID,
  OID_EXT_AUTHORITY_KEY_ID,
  "2.5.29.17", // subjectAltName
  "2.5.29.37", // extKeyUsage
  "2.5.29.32", // certificatePolicies
  "2.5.29.31", // cRLDistributionPoints
]);

const NAME_OIDS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.5": "serialNumber",
  "1.2.840.113549.1.9.1": "emailAddress",
};

export type KeyUsage =
  | "digitalSignature"
  | "nonRepudiation"
  | "keyEncipherment"
  | "dataEncipherment"
  | "keyAgreement"
  | "keyCertSign"
  | "cRLSign"
  | "encipherOnly"
  | "decipherOnly";

const KEY_USAGE_BITS: readonly KeyUsage[] = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
];

/** What a leaf certificate is for: SM2 certificates come in pairs, one to sign, one to encrypt. */
export type CertificateUsage = "sign" | "encrypt" | "sign+encrypt";

const USAGE_BITS: Record<CertificateUsage, KeyUsage[]> = {
  sign: ["digitalSignature", "nonRepudiation"],
  encrypt: ["keyEncipherment", "dataEncipherment", "keyAgreement"],
  "sign+encrypt": [
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
  ],
};

export interface NameAttribute {
  readonly oid: string;
  /** Short name (CN, O, OU, C, …) when known. */
  readonly name: string | undefined;
  readonly value: string;
}

/** A distinguished name, read. `text` is "CN=…, O=…" in encoding order. */
export interface DistinguishedName {
  readonly commonName: string | undefined;
  readonly organization: string | undefined;
  readonly organizationalUnit: string | undefined;
  readonly country: string | undefined;
  readonly attributes: readonly NameAttribute[];
  readonly text: string;
}

/** A distinguished name, to write. */
export interface NameInput {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
  /** Two letters, e.g. "CN". */
  country?: string;
}

export interface CertificateExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
}

function badCert(message: string, cause?: unknown): GmCryptoError {
  return new GmCryptoError("BAD_CERTIFICATE", message, cause === undefined ? undefined : { cause });
}

/** @internal */
export function encodeName(name: NameInput): asn1js.Sequence {
  const rdn = (type: string, value: asn1js.BaseBlock) =>
    new asn1js.Set({
      value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: type }), value] })],
    });
  const rdns: asn1js.Set[] = [];
  const text = (label: string, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.length === 0 || value.length > 256) {
      throw new GmCryptoError("BAD_INPUT", `${label} must be a non-empty string of at most 256 characters`);
    }
    return value;
  };
  const country = text("country", name.country);
  if (country !== undefined) {
    if (!/^[A-Z]{2}$/.test(country))
      throw new GmCryptoError("BAD_INPUT", "country must be two capital letters");
    rdns.push(rdn("2.5.4.6", new asn1js.PrintableString({ value: country })));
  }
  const o = text("organization", name.organization);
  if (o !== undefined) rdns.push(rdn("2.5.4.10", new asn1js.Utf8String({ value: o })));
  const ou = text("organizationalUnit", name.organizationalUnit);
  if (ou !== undefined) rdns.push(rdn("2.5.4.11", new asn1js.Utf8String({ value: ou })));
  const cn = text("commonName", name.commonName);
  if (cn === undefined) throw new GmCryptoError("BAD_INPUT", "commonName is required");
  rdns.push(rdn("2.5.4.3", new asn1js.Utf8String({ value: cn })));
  return new asn1js.Sequence({ value: rdns });
}

function readName(node: unknown): DistinguishedName | null {
  const rdns = seq(node);
  if (!rdns) return null;
  const attributes: NameAttribute[] = [];
  for (const rdn of rdns) {
    const atvs = setItems(rdn);
    if (!atvs || atvs.length === 0) return null;
    for (const atv of atvs) {
      const parts = seq(atv, 2, 2);
      const type = parts && oid(parts[0]);
      if (!parts || !type) return null;
      const value = readString(parts[1]) ?? Buffer.from(encodingOf(parts[1]!)).toString("hex");
      attributes.push({ oid: type, name: NAME_OIDS[type], value });
    }
  }
  const first = (o: string) => attributes.find((a) => a.oid === o)?.value;
  return Object.freeze({
    commonName: first("2.5.4.3"),
    organization: first("2.5.4.10"),
    organizationalUnit: first("2.5.4.11"),
    country: first("2.5.4.6"),
    attributes: Object.freeze(attributes),
    text: attributes.map((a) => `${a.name ?? a.oid}=${a.value}`).join(", "),
  });
}

function keyUsageBitString(usages: readonly KeyUsage[]): asn1js.BitString {
  const bits = usages.map((u) => KEY_USAGE_BITS.indexOf(u));
  const last = Math.max(...bits);
  const bytes = Buffer.alloc((last >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return new asn1js.BitString({ valueHex: bytes, unusedBits: bytes.length * 8 - (last + 1) });
}

function readKeyUsage(value: Buffer): KeyUsage[] | null {
  const node = parseDer(value);
  if (!(node instanceof asn1js.BitString) || node.idBlock.isConstructed) return null;
  const bytes = node.valueBlock.valueHexView;
  const total = bytes.length * 8 - node.valueBlock.unusedBits;
  const out: KeyUsage[] = [];
  KEY_USAGE_BITS.forEach((usage, i) => {
    if (i < total && (bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0) out.push(usage);
  });
  return out;
}

function extension(type: string, critical: boolean, value: asn1js.BaseBlock): asn1js.Sequence {
  const items: asn1js.BaseBlock[] = [new asn1js.ObjectIdentifier({ value: type })];
  if (critical) items.push(new asn1js.Boolean({ value: true }));
  items.push(new asn1js.OctetString({ valueHex: der(value) }));
  return new asn1js.Sequence({ value: items });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (what OpenSSL computes too). */
export function keyIdentifier(publicKey: Sm2PublicKey): Buffer {
  return createHash("sha1").update(publicKey.toRaw()).digest();
}

function splitPem(pem: string, label: string): Buffer[] {
  if (typeof pem !== "string") throw badCert("PEM must be a string");
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`, "g");
  return [...pem.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

const parsed = new Map<string, Certificate>();
const MAX_PARSED = 512;

export class Certificate {
  readonly #der: Buffer;
  readonly #tbs: Buffer;
  readonly #signature: Buffer;
  readonly #issuerDer: Buffer;
  readonly #subjectDer: Buffer;
  readonly serial: bigint;
  /** Lower-case hex, even length, no sign byte. */
  readonly serialNumber: string;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: Sm2PublicKey;
  /** 1, 2 or 3 (X.509 v1 certificates have no extensions: never CAs here). */
  readonly version: number;
  /** The OID of the algorithm the issuer signed with (SM2-with-SM3 for every certificate we make). */
  readonly signatureAlgorithm: string;
  readonly extensions: readonly CertificateExtension[];
  /** basicConstraints cA. */
  readonly isCa: boolean;
  /** basicConstraints pathLenConstraint, when present. */
  readonly pathLength: number | undefined;
  /** null when the certificate has no keyUsage extension (any use is allowed then). */
  readonly keyUsage: readonly KeyUsage[] | null;
  readonly subjectKeyIdentifier: Buffer | undefined;
  readonly authorityKeyIdentifier: Buffer | undefined;

  private constructor(input: Uint8Array) {
    const bytes = Buffer.from(input);
    const top = seq(parseDer(bytes), 3, 3);
    if (!top) throw badCert("not a DER X.509 Certificate SEQUENCE { tbs, algorithm, signature }");
    const [tbsNode, algNode, sigNode] = top as [asn1js.BaseBlock, asn1js.BaseBlock, asn1js.BaseBlock];
    const tbs = seq(tbsNode, 6, 10);
    if (!tbs) throw badCert("TBSCertificate is not a SEQUENCE");
    let i = 0;
    let version = 0n;
    if (isContext(tbs[0], 0)) {
      const v = integer(explicitChild(tbs[0], 0));
      if (v === null) throw badCert("bad version");
      version = v;
      i++;
    }
    if (version < 0n || version > 2n) throw badCert(`unknown X.509 version ${version + 1n}`);
    const serial = integer(tbs[i++]);
    if (serial === null || serial < 0n) throw badCert("bad serial number");
    const innerAlg = algorithmOid(tbs[i++]);
    const outerAlg = algorithmOid(algNode);
    if (!innerAlg || innerAlg !== outerAlg)
      throw badCert("signature algorithms inside and outside TBS differ");
    const issuerNode = tbs[i++]!;
    const issuer = readName(issuerNode);
    const validity = seq(tbs[i++], 2, 2);
    const notBefore = validity && readTime(validity[0]);
    const notAfter = validity && readTime(validity[1]);
    const subjectNode = tbs[i++];
    const subject = readName(subjectNode);
    const spkiNode = tbs[i++];
    if (!issuer || !subject || !notBefore || !notAfter || !spkiNode || !subjectNode) {
      throw badCert("bad issuer, validity or subject");
    }
    const spki = seq(spkiNode, 2, 2);
    const spkiAlg = spki && seq(spki[0], 2, 2);
    if (!spkiAlg || oid(spkiAlg[0]) !== OID_EC_PUBLIC_KEY || oid(spkiAlg[1]) !== OID_SM2_CURVE) {
      throw badCert("the subject public key is not an SM2 key (id-ecPublicKey, curve 1.2.156.10197.1.301)");
    }
    let publicKey: Sm2PublicKey;
    try {
      publicKey = Sm2PublicKey.fromDer(encodingOf(spkiNode));
    } catch (cause) {
      throw badCert("the subject public key is not a valid SM2 point", cause);
    }
    const extensions: CertificateExtension[] = [];
    for (; i < tbs.length; i++) {
      const node = tbs[i];
      if (isContext(node, 1) || isContext(node, 2)) continue; // issuer/subject unique IDs
      if (!isContext(node, 3) || version !== 2n) throw badCert("unexpected field in TBSCertificate");
      const list = seq(explicitChild(node, 3), 1);
      if (!list) throw badCert("bad extensions");
      for (const ext of list) {
        const parts = seq(ext, 2, 3);
        const type = parts && oid(parts[0]);
        if (!parts || !type) throw badCert("bad extension");
        let critical = false;
        if (parts.length === 3) {
          if (!(parts[1] instanceof asn1js.Boolean)) throw badCert("bad extension criticality");
          critical = parts[1].getValue();
        }
        const value = octets(parts[parts.length - 1]);
        if (!value) throw badCert("bad extension value");
        if (extensions.some((e) => e.oid === type)) throw badCert(`extension ${type} appears twice`);
        extensions.push(Object.freeze({ oid: type, critical, value }));
      }
    }
    if (!(sigNode instanceof asn1js.BitString) || sigNode.valueBlock.unusedBits !== 0) {
      throw badCert("bad signature BIT STRING");
    }

    this.#der = bytes;
    this.#tbs = encodingOf(tbsNode);
    this.#signature = Buffer.from(sigNode.valueBlock.valueHexView);
    this.#issuerDer = encodingOf(issuerNode);
    this.#subjectDer = encodingOf(subjectNode);
    this.serial = serial;
    this.serialNumber = unsignedBytes(serial).toString("hex");
    this.issuer = issuer;
    this.subject = subject;
    this.notBefore = notBefore;
    this.notAfter = notAfter;
    this.publicKey = publicKey;
    this.version = Number(version) + 1;
    this.signatureAlgorithm = innerAlg;
    this.extensions = Object.freeze(extensions);

    const ext = (type: string) => extensions.find((e) => e.oid === type)?.value;
    const bc = ext(OID_EXT_BASIC_CONSTRAINTS);
    let isCa = false;
    let pathLength: number | undefined;
    if (bc) {
      const items = seq(parseDer(bc), 0, 2);
      if (!items) throw badCert("bad basicConstraints");
      for (const item of items) {
        if (item instanceof asn1js.Boolean) isCa = item.getValue();
        else if (item instanceof asn1js.Integer) pathLength = Number(item.toBigInt());
        else throw badCert("bad basicConstraints");
      }
    }
    this.isCa = isCa;
    this.pathLength = pathLength;
    const ku = ext(OID_EXT_KEY_USAGE);
    const usages = ku ? readKeyUsage(ku) : null;
    if (ku && !usages) throw badCert("bad keyUsage");
    this.keyUsage = usages ? Object.freeze(usages) : null;
    const ski = ext(OID_EXT_SUBJECT_KEY_ID);
    this.subjectKeyIdentifier = ski ? (octets(parseDer(ski)) ?? undefined) : undefined;
    const aki = ext(OID_EXT_AUTHORITY_KEY_ID);
    if (aki) {
      const items = seq(parseDer(aki));
      const keyId = items?.find((n) => isContext(n, 0));
      this.authorityKeyIdentifier =
        keyId && !keyId.idBlock.isConstructed && keyId instanceof asn1js.Primitive
          ? Buffer.from(keyId.valueBlock.valueHexView)
          : undefined;
    }
  }

  /**
   * Parsed certificates are kept by their DER (a Certificate is immutable): the device reads the
   * same recipient and signer certificates in request after request, and parsing one (asn1js, the
   * key's import) costs far more than the SM2 operation it is used for.
   */
  static fromDer(der: Uint8Array): Certificate {
    if (!(der instanceof Uint8Array)) throw badCert("certificate DER must be bytes");
    const id = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("latin1");
    let cert = parsed.get(id);
    if (!cert) {
      cert = new Certificate(der);
      if (parsed.size >= MAX_PARSED) parsed.clear();
      parsed.set(id, cert);
    }
    return cert;
  }

  /** The first "-----BEGIN CERTIFICATE-----" block. */
  static fromPem(pem: string): Certificate {
    const [first] = splitPem(pem, "CERTIFICATE");
    if (!first) throw badCert("no -----BEGIN CERTIFICATE----- block");
    return new Certificate(first);
  }

  /** Every CERTIFICATE block of a PEM bundle, in order. */
  static allFromPem(pem: string): Certificate[] {
    return splitPem(pem, "CERTIFICATE").map((d) => new Certificate(d));
  }

  toDer(): Buffer {
    return Buffer.from(this.#der);
  }

  toPem(): string {
    const b64 = this.#der.toString("base64").replace(/.{1,64}/g, "$&\n");
    return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
  }

  /** SM3 of the DER, hex. */
  fingerprintSm3(): string {
    return sm3(this.#der).toString("hex");
  }

  /** The encoded issuer Name (for IssuerAndSerialNumber and name matching). */
  get issuerDer(): Buffer {
    return Buffer.from(this.#issuerDer);
  }

  /** @internal the issuer Name's bytes themselves (not a copy): never modify them. */
  get issuerDerView(): Buffer {
    return this.#issuerDer;
  }

  /** @internal the certificate's DER itself (not a copy): never modify it. */
  get derView(): Buffer {
    return this.#der;
  }

  get subjectDer(): Buffer {
    return Buffer.from(this.#subjectDer);
  }

  /** The exact bytes the issuer signed. */
  get tbsDer(): Buffer {
    return Buffer.from(this.#tbs);
  }

  /** The issuer's signature value (DER SEQUENCE { r, s }). */
  get signatureValue(): Buffer {
    return Buffer.from(this.#signature);
  }

  equals(other: Certificate): boolean {
    return this.#der.equals(other.#der);
  }

  /** Whether `issuer`'s key made this certificate's SM2-with-SM3 signature (default user ID). */
  isSignedBy(issuer: Certificate | Sm2PublicKey): boolean {
    if (this.signatureAlgorithm !== OID_SM2_WITH_SM3) return false;
    const key = issuer instanceof Certificate ? issuer.publicKey : issuer;
    try {
      return verify(this.#tbs, this.#signature, key);
    } catch {
      return false; // a signature value that is not DER cannot verify
    }
  }

  /** Whether keyUsage (if present) allows every one of `usages`. */
  allows(...usages: KeyUsage[]): boolean {
    return this.keyUsage === null || usages.every((u) => this.keyUsage!.includes(u));
  }

  isValidAt(at: Date): boolean {
    return at.getTime() >= this.notBefore.getTime() && at.getTime() <= this.notAfter.getTime();
  }

  /** Same issuer Name and serial number (what IssuerAndSerialNumber identifies). */
  matchesIssuerAndSerial(issuerDer: Uint8Array, serial: bigint): boolean {
    return this.serial === serial && this.#issuerDer.equals(Buffer.from(issuerDer));
  }
}

/** @internal the inputs of buildCertificate (tests craft unusual certificates with it). */
export interface BuildOptions {
  issuerName: asn1js.Sequence;
  subjectName: asn1js.Sequence;
  publicKey: Sm2PublicKey;
  signer: Sm2PrivateKey;
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  usages: KeyUsage[];
  authorityKeyId: Buffer;
  pathLength?: number;
  extraExtensions?: { oid: string; critical: boolean; value: asn1js.BaseBlock }[];
}

/** @internal builds and signs a v3 certificate; DevCa is the public way in. */
export function buildCertificate(o: BuildOptions): Certificate {
  const sigAlg = algorithm(OID_SM2_WITH_SM3);
  // basicConstraints only on CAs (critical, cA TRUE). On a leaf it would be an empty SEQUENCE
  // (cA FALSE is the DEFAULT, so DER omits it), which GmSSL refuses when critical; RFC 5280
  // §4.2.1.9 lets end-entity certificates leave the extension out, and no verifier requires it.
  const extensions = [
    ...(o.ca
      ? [
          extension(
            OID_EXT_BASIC_CONSTRAINTS,
            true,
            new asn1js.Sequence({
              value: [
                new asn1js.Boolean({ value: true }),
                ...(o.pathLength === undefined ? [] : [new asn1js.Integer({ value: o.pathLength })]),
              ],
            }),
          ),
        ]
      : []),
    extension(OID_EXT_KEY_USAGE, true, keyUsageBitString(o.usages)),
    extension(
      OID_EXT_SUBJECT_KEY_ID,
      false,
      new asn1js.OctetString({ valueHex: keyIdentifier(o.publicKey) }),
    ),
    extension(
      OID_EXT_AUTHORITY_KEY_ID,
      false,
      new asn1js.Sequence({
        value: [new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: o.authorityKeyId })],
      }),
    ),
    ...(o.extraExtensions ?? []).map((e) => extension(e.oid, e.critical, e.value)),
  ];
  const tbs = new asn1js.Sequence({
    value: [
      explicit(0, new asn1js.Integer({ value: 2 })),
      asn1js.Integer.fromBigInt(o.serial),
      sigAlg,
      o.issuerName,
      new asn1js.Sequence({ value: [encodeTime(o.notBefore), encodeTime(o.notAfter)] }),
      o.subjectName,
      raw(o.publicKey.toDer()),
      explicit(3, new asn1js.Sequence({ value: extensions })),
    ],
  });
  const tbsDer = der(tbs);
  const signature = sign(tbsDer, o.signer);
  const cert = new asn1js.Sequence({
    value: [raw(tbsDer), algorithm(OID_SM2_WITH_SM3), new asn1js.BitString({ valueHex: signature })],
  });
  return Certificate.fromDer(der(cert));
}

const DAY_MS = 86_400_000;
/** notBefore is set this far in the past, so a certificate is usable at once on a machine whose clock is a little behind. */
const BACKDATE_MS = 5 * 60_000;

function checkDays(days: number | undefined, fallback: number): number {
  const d = days ?? fallback;
  if (!Number.isFinite(d) || d <= 0)
    throw new GmCryptoError("BAD_INPUT", "validDays must be a positive number");
  return d;
}

/** A positive serial of 16 random bytes (RFC 5280: at most 20 octets, unpredictable). */
function randomSerial(): bigint {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return BigInt(`0x${bytes.toString("hex")}`);
}

export interface IssueOptions {
  subject: { commonName: string; organization?: string; organizationalUnit?: string; country?: string };
  publicKey: Sm2PublicKey;
  usage: CertificateUsage;
  /** Default 365. */
  validDays?: number;
  /** Default 16 random bytes. */
  serial?: bigint;
}

/**
 * A development certificate authority: a self-signed SM2 root that issues leaf certificates.
 * For tests, demos and development installations; production certificates come from a licensed CA.
 */
export class DevCa {
  readonly certificate: Certificate;
  readonly privateKey: Sm2PrivateKey;

  private constructor(certificate: Certificate, privateKey: Sm2PrivateKey) {
    this.certificate = certificate;
    this.privateKey = privateKey;
  }

  /** A fresh key and self-signed root "CN=<name>", valid `validDays` (default 3650). */
  static async create(opts: { name: string; validDays?: number }): Promise<DevCa> {
    const key = Sm2PrivateKey.generate();
    const days = checkDays(opts.validDays, 3650);
    const now = Date.now();
    const name = encodeName({ commonName: opts.name });
    const certificate = buildCertificate({
      issuerName: name,
      subjectName: name,
      publicKey: key.publicKey,
      signer: key,
      serial: randomSerial(),
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + days * DAY_MS),
      ca: true,
      usages: ["digitalSignature", "keyCertSign", "cRLSign"],
      authorityKeyId: keyIdentifier(key.publicKey),
    });
    return new DevCa(certificate, key);
  }

  /** A CA saved earlier (its certificate and key); the key must match the certificate. */
  static load(certificate: Certificate, privateKey: Sm2PrivateKey): DevCa {
    if (!certificate.publicKey.equals(privateKey.publicKey)) {
      throw new GmCryptoError("BAD_KEY", "the private key does not belong to the CA certificate");
    }
    if (!certificate.isCa) throw badCert("not a CA certificate (basicConstraints cA is not true)");
    return new DevCa(certificate, privateKey);
  }

  issue(opts: IssueOptions): Certificate {
    const usages = USAGE_BITS[opts.usage];
    if (!usages) throw new GmCryptoError("BAD_INPUT", `usage must be sign, encrypt or sign+encrypt`);
    if (!(opts.publicKey instanceof Sm2PublicKey))
      throw new GmCryptoError("BAD_KEY", "publicKey must be an Sm2PublicKey");
    const serial = opts.serial ?? randomSerial();
    if (typeof serial !== "bigint" || serial <= 0n || unsignedBytes(serial).length > 20) {
      throw new GmCryptoError("BAD_INPUT", "serial must be a positive bigint of at most 20 bytes");
    }
    const days = checkDays(opts.validDays, 365);
    const now = Date.now();
    const notAfter = new Date(Math.min(now + days * DAY_MS, this.certificate.notAfter.getTime()));
    return buildCertificate({
      issuerName: raw(this.certificate.subjectDer) as asn1js.Sequence,
      subjectName: encodeName(opts.subject),
      publicKey: opts.publicKey,
      signer: this.privateKey,
      serial,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter,
      ca: false,
      usages,
      authorityKeyId: this.certificate.subjectKeyIdentifier ?? keyIdentifier(this.certificate.publicKey),
    });
  }
}

export type ChainResult = { ok: true } | { ok: false; reason: string };

const MAX_CHAIN = 8;

function describe(cert: Certificate): string {
  return `"${cert.subject.text}" (serial ${cert.serialNumber})`;
}

function unknownCritical(cert: Certificate): string | undefined {
  return cert.extensions.find((e) => e.critical && !KNOWN_EXTENSIONS.has(e.oid))?.oid;
}

/**
 * Checks that `leaf` chains to one of `trusted` through `chain` (intermediates, any order):
 * each signature (SM2-with-SM3, default user ID), each validity period at `at` (default now),
 * issuers with basicConstraints cA and keyUsage keyCertSign, pathLenConstraint, and no unknown
 * critical extension. The leaf's own keyUsage is for the caller to check (`allows()`), since
 * only it knows what the leaf is being used for. A trusted certificate ends the path: it is not
 * itself checked beyond its validity period.
 */
export function verifyChain(
  leaf: Certificate,
  chain: Certificate[],
  trusted: Certificate[],
  at: Date = new Date(),
): ChainResult {
  if (!(leaf instanceof Certificate)) return { ok: false, reason: "leaf is not a Certificate" };
  if (trusted.length === 0) return { ok: false, reason: "no trusted certificates given" };
  const isTrusted = (c: Certificate) => trusted.some((t) => t.equals(c));
  let current = leaf;
  let intermediates = 0;
  for (let depth = 0; depth <= MAX_CHAIN; depth++) {
    if (!current.isValidAt(at)) {
      return {
        ok: false,
        reason: `${describe(current)} is not valid at ${at.toISOString()} (valid ${current.notBefore.toISOString()} to ${current.notAfter.toISOString()})`,
      };
    }
    const critical = unknownCritical(current);
    if (critical)
      return { ok: false, reason: `${describe(current)} has an unknown critical extension ${critical}` };
    if (isTrusted(current)) return { ok: true };
    const candidates = [...trusted, ...chain].filter(
      (c) =>
        !c.equals(current) &&
        c.subjectDer.equals(current.issuerDer) &&
        (current.authorityKeyIdentifier === undefined ||
          c.subjectKeyIdentifier === undefined ||
          c.subjectKeyIdentifier.equals(current.authorityKeyIdentifier)),
    );
    if (candidates.length === 0) {
      // A self-signed certificate that is not trusted ends here too.
      return {
        ok: false,
        reason: `no issuer found for ${describe(current)} (issuer "${current.issuer.text}")`,
      };
    }
    const issuer = candidates.find((c) => current.isSignedBy(c));
    if (!issuer) {
      return {
        ok: false,
        reason: `the signature on ${describe(current)} does not verify with its issuer's key`,
      };
    }
    if (!issuer.isCa)
      return { ok: false, reason: `issuer ${describe(issuer)} is not a CA (basicConstraints)` };
    if (!issuer.allows("keyCertSign")) {
      return { ok: false, reason: `issuer ${describe(issuer)} keyUsage does not allow keyCertSign` };
    }
    if (current !== leaf) intermediates++;
    if (issuer.pathLength !== undefined && intermediates > issuer.pathLength) {
      return { ok: false, reason: `path length constraint of ${describe(issuer)} exceeded` };
    }
    current = issuer;
  }
  return { ok: false, reason: `chain longer than ${MAX_CHAIN}` };
}

/**
 * A PKCS#10 certification request (RFC 2986) for an SM2 key, for the online certificate
 * application to a licensed CA: subject, the key's SubjectPublicKeyInfo, no attributes, signed
 * SM2-with-SM3 (`1.2.156.10197.1.501`, GM/T 0015) with the default user ID, as OpenSSL and
 * GmSSL verify a CSR. Returns DER.
 */
export function createCertificationRequest(subject: NameInput, key: Sm2PrivateKey): Buffer {
  if (!(key instanceof Sm2PrivateKey)) throw new GmCryptoError("BAD_KEY", "key must be an Sm2PrivateKey");
  const info = der(
    new asn1js.Sequence({
      value: [
        new asn1js.Integer({ value: 0 }),
        encodeName(subject),
        raw(key.publicKey.toDer()),
        new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [] }),
      ],
    }),
  );
  const signature = sign(info, key);
  return der(
    new asn1js.Sequence({
      value: [raw(info), algorithm(OID_SM2_WITH_SM3), new asn1js.BitString({ valueHex: signature })],
    }),
  );
}

/** PEM ("CERTIFICATE REQUEST") of a DER certification request. */
export function certificationRequestPem(csrDer: Uint8Array): string {
  const b64 = Buffer.from(csrDer)
    .toString("base64")
    .replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}-----END CERTIFICATE REQUEST-----\n`;
}
