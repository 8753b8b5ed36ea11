import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

/**
 * The platform's internal certificate authority for service identities (mutual TLS between
 * services), and the certificates it issues.
 *
 * ECDSA P-256 with SHA-256, not SM2: Node's TLS (OpenSSL 3.0) refuses an SM2 certificate outright
 * ("unknown certificate type"), so SM2 stays the algorithm of receipts and documents and P-256 is
 * the transport's (docs/adr/0010-service-identity-mtls.md). A service's identity is the URI
 * subject alternative name `spiffe://piaoju/<identity>` (also the CN, for people); the server
 * takes a caller's identity from it and from nothing the caller says.
 */

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type EngineCrypto = ConstructorParameters<typeof pkijs.CryptoEngine>[0]["crypto"];
const crypto = new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as EngineCrypto });
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const HASH = "SHA-256";
const DAY_MS = 86_400_000;
/** notBefore a little in the past, so a certificate works at once on a machine whose clock is behind. */
const BACKDATE_MS = 5 * 60_000;

export const IDENTITY_PREFIX = "spiffe://piaoju/";
/** A service identity: the service's name (`signing-gateway`, `issuance`, …). */
export const IDENTITY_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};

/** PEM of the CA certificate and of its PKCS#8 private key. */
export interface ServiceCa {
  certificatePem: string;
  keyPem: string;
}

/** A service's certificate (leaf, then the CA) and its PKCS#8 private key, PEM. */
export interface ServiceCertificate {
  identity: string;
  certificatePem: string;
  keyPem: string;
  notAfter: Date;
}

export class ServiceIdentityError extends Error {
  override readonly name = "ServiceIdentityError";
}

function name(commonName: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({
        type: OID.organization,
        value: new asn1js.Utf8String({ value: "Piaoju" }),
      }),
      new pkijs.AttributeTypeAndValue({
        type: OID.commonName,
        value: new asn1js.Utf8String({ value: commonName }),
      }),
    ],
  });
}

/** A positive random serial of 16 bytes (RFC 5280: at most 20 octets, unpredictable). */
function serial(): asn1js.Integer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01;
  return new asn1js.Integer({ valueHex: bytes });
}

/** The bit string of keyUsage: bit 0 digitalSignature, 5 keyCertSign, 6 cRLSign. */
function keyUsage(bits: number[]): asn1js.BitString {
  let value = 0;
  for (const bit of bits) value |= 0x80 >> bit;
  const unused = bits.length === 0 ? 0 : 7 - Math.max(...bits);
  return new asn1js.BitString({ valueHex: new Uint8Array([value]).buffer, unusedBits: unused });
}

function extension(extnID: string, critical: boolean, value: asn1js.BaseBlock): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

async function keyIdOf(publicKey: CryptoKey): Promise<ArrayBuffer> {
  const spki = await webcrypto.subtle.exportKey("spki", publicKey);
  const info = pkijs.PublicKeyInfo.fromBER(spki);
  return webcrypto.subtle.digest("SHA-1", info.subjectPublicKey.valueBlock.valueHexView);
}

function pem(label: string, der: ArrayBuffer | Uint8Array): string {
  const base64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString("base64");
  return `-----BEGIN ${label}-----\n${base64.replace(/.{64}/g, "$&\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

interface Build {
  subject: string;
  publicKey: CryptoKey;
  issuerName: pkijs.RelativeDistinguishedNames;
  issuerKey: CryptoKey;
  issuerKeyId: ArrayBuffer;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  identity?: string;
}

async function build(o: Build): Promise<string> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = serial();
  cert.subject = name(o.subject);
  cert.issuer = o.issuerName;
  cert.notBefore.value = o.notBefore;
  cert.notAfter.value = o.notAfter;
  await cert.subjectPublicKeyInfo.importKey(o.publicKey, crypto);
  const extensions = [
    extension(
      OID.basicConstraints,
      true,
      new pkijs.BasicConstraints({ cA: o.ca, ...(o.ca ? { pathLenConstraint: 0 } : {}) }).toSchema(),
    ),
    extension(OID.keyUsage, true, keyUsage(o.ca ? [0, 5, 6] : [0])),
    extension(OID.subjectKeyId, false, new asn1js.OctetString({ valueHex: await keyIdOf(o.publicKey) })),
    extension(
      OID.authorityKeyId,
      false,
      new pkijs.AuthorityKeyIdentifier({
        keyIdentifier: new asn1js.OctetString({ valueHex: o.issuerKeyId }),
      }).toSchema(),
    ),
  ];
  if (o.identity !== undefined) {
    extensions.push(
      extension(
        OID.extKeyUsage,
        false,
        new pkijs.ExtKeyUsage({ keyPurposes: [OID.serverAuth, OID.clientAuth] }).toSchema(),
      ),
      extension(
        OID.subjectAltName,
        false,
        new pkijs.GeneralNames({
          names: [new pkijs.GeneralName({ type: 6, value: `${IDENTITY_PREFIX}${o.identity}` })],
        }).toSchema(),
      ),
    );
  }
  cert.extensions = extensions;
  await cert.sign(o.issuerKey, HASH, crypto);
  return pem("CERTIFICATE", cert.toSchema(true).toBER(false));
}

async function generate(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function exportKey(key: CryptoKey): Promise<string> {
  return pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", key));
}

/** A fresh self-signed CA, `CN=<name>`, valid `validDays` (default 3650). */
export async function createServiceCa(
  options: { name?: string; validDays?: number; notBefore?: Date } = {},
): Promise<ServiceCa> {
  const keys = await generate();
  const issuerName = name(options.name ?? "Piaoju service CA");
  const notBefore = options.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const certificatePem = await build({
    subject: options.name ?? "Piaoju service CA",
    publicKey: keys.publicKey,
    issuerName,
    issuerKey: keys.privateKey,
    issuerKeyId: await keyIdOf(keys.publicKey),
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.validDays ?? 3650) * DAY_MS),
    ca: true,
  });
  return { certificatePem, keyPem: await exportKey(keys.privateKey) };
}

/**
 * A certificate for the service `identity` from `ca`: ECDSA P-256, serverAuth and clientAuth (a
 * service both serves and calls), URI SAN `spiffe://piaoju/<identity>`; `validDays` default 90,
 * never past the CA's own end. `notBefore`/`notAfter` set the period exactly (tests use it for
 * expired certificates).
 */
export async function issueServiceCertificate(
  ca: ServiceCa,
  options: { identity: string; validDays?: number; notBefore?: Date; notAfter?: Date },
): Promise<ServiceCertificate> {
  if (!IDENTITY_PATTERN.test(options.identity)) {
    throw new ServiceIdentityError(
      `identity "${options.identity}": lower-case letters, digits and '-', starting with a letter (a service's name)`,
    );
  }
  const caCert = new X509Certificate(ca.certificatePem);
  const caKey = await importPrivateKey(ca.keyPem);
  if (!caCert.checkPrivateKey(createPrivateKey(ca.keyPem))) {
    throw new ServiceIdentityError("the CA key does not belong to the CA certificate");
  }
  const caSchema = pkijs.Certificate.fromBER(caCert.raw);
  const caPublic = await webcrypto.subtle.importKey(
    "spki",
    caCert.publicKey.export({ type: "spki", format: "der" }),
    ALGORITHM,
    true,
    ["verify"],
  );
  const keys = await generate();
  const notBefore = options.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const caEnd = new Date(caCert.validTo).getTime();
  const notAfter =
    options.notAfter ?? new Date(Math.min(notBefore.getTime() + (options.validDays ?? 90) * DAY_MS, caEnd));
  const leaf = await build({
    subject: options.identity,
    publicKey: keys.publicKey,
    issuerName: caSchema.subject,
    issuerKey: caKey,
    issuerKeyId: await keyIdOf(caPublic),
    notBefore,
    notAfter,
    ca: false,
    identity: options.identity,
  });
  return {
    identity: options.identity,
    certificatePem: `${leaf}${ca.certificatePem}`,
    keyPem: await exportKey(keys.privateKey),
    notAfter,
  };
}

async function importPrivateKey(keyPem: string): Promise<CryptoKey> {
  const der = createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" });
  return webcrypto.subtle.importKey("pkcs8", der, ALGORITHM, false, ["sign"]);
}

/**
 * The service identity a certificate names (its `spiffe://piaoju/<identity>` URI SAN), or
 * undefined when it names none or several.
 */
export function identityOfSubjectAltName(subjectAltName: string | undefined): string | undefined {
  if (!subjectAltName) return undefined;
  const identities = subjectAltName
    .split(/,\s*/)
    .filter((entry) => entry.startsWith(`URI:${IDENTITY_PREFIX}`))
    .map((entry) => entry.slice(`URI:${IDENTITY_PREFIX}`.length));
  if (identities.length !== 1) return undefined;
  const identity = identities[0] as string;
  return IDENTITY_PATTERN.test(identity) ? identity : undefined;
}

/** The identity of a PEM certificate (the first one of a chain). */
export function identityOfCertificate(certificatePem: string | Buffer): string | undefined {
  return identityOfSubjectAltName(new X509Certificate(certificatePem).subjectAltName);
}
