import { createPrivateKey, type KeyObject, randomBytes, webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

/**
 * Small RSA X.509 chains for the simulators (SHA256withRSA, RFC 5280 shapes), made with pkijs over
 * WebCrypto: a root, a middle certificate it issues, and leaves the middle issues, as UnionPay's
 * acp root → middle → signing certificate are. Test material only.
 */
type CryptoKey = webcrypto.CryptoKey;
type EngineCrypto = ConstructorParameters<typeof pkijs.CryptoEngine>[0]["crypto"];
const engine = new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as EngineCrypto });
const ALGORITHM = {
  name: "RSASSA-PKCS1-v1_5",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
} as const;

export interface IssuedCert {
  certificatePem: string;
  /** The serial, in decimal (UnionPay's certId). */
  serialDecimal: string;
  privateKey: KeyObject;
  /** For issuing further certificates. */
  signer: { key: CryptoKey; name: pkijs.RelativeDistinguishedNames; keyId: ArrayBuffer };
}

/** A Name of one attribute per RDN (C, O, OU, CN each its own SET), encoded by hand and read back. */
function rdn(attrs: Array<[string, string]>): pkijs.RelativeDistinguishedNames {
  const der = new asn1js.Sequence({
    value: attrs.map(
      ([type, value]) =>
        new asn1js.Set({
          value: [
            new asn1js.Sequence({
              value: [new asn1js.ObjectIdentifier({ value: type }), new asn1js.Utf8String({ value })],
            }),
          ],
        }),
    ),
  }).toBER(false);
  return pkijs.RelativeDistinguishedNames.fromBER(der);
}

function pem(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{64}/g, "$&\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}

async function keyIdOf(publicKey: CryptoKey): Promise<ArrayBuffer> {
  const spki = await webcrypto.subtle.exportKey("spki", publicKey);
  const info = pkijs.PublicKeyInfo.fromBER(spki);
  return webcrypto.subtle.digest("SHA-1", info.subjectPublicKey.valueBlock.valueHexView);
}

function ext(extnID: string, critical: boolean, value: asn1js.BaseBlock): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

/**
 * A certificate: `issuer` undefined for a self-signed root. `subject` as [OID, value] pairs
 * (C 2.5.4.6, O 2.5.4.10, OU 2.5.4.11, CN 2.5.4.3).
 */
export async function issueCert(o: {
  subject: Array<[string, string]>;
  ca: boolean;
  issuer?: IssuedCert["signer"];
  notBefore?: Date;
  notAfter?: Date;
}): Promise<IssuedCert> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const name = rdn(o.subject);
  const keyId = await keyIdOf(keys.publicKey);
  const signer = o.issuer ?? { key: keys.privateKey, name, keyId };
  const serialBytes = randomBytes(8);
  serialBytes[0] = ((serialBytes[0] as number) & 0x3f) | 0x10;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: serialBytes });
  cert.subject = name;
  cert.issuer = signer.name;
  const notBefore = o.notBefore ?? new Date(Date.now() - 3_600_000);
  cert.notBefore.value = notBefore;
  cert.notAfter.value = o.notAfter ?? new Date(notBefore.getTime() + 5 * 365 * 86_400_000);
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  const usage = o.ca ? 0x80 | 0x04 | 0x02 : 0x80 | 0x40;
  cert.extensions = [
    ext("2.5.29.19", true, new pkijs.BasicConstraints({ cA: o.ca }).toSchema()),
    ext("2.5.29.15", true, new asn1js.BitString({ valueHex: new Uint8Array([usage]).buffer, unusedBits: 1 })),
    ext("2.5.29.14", false, new asn1js.OctetString({ valueHex: keyId })),
    ext(
      "2.5.29.35",
      false,
      new pkijs.AuthorityKeyIdentifier({
        keyIdentifier: new asn1js.OctetString({ valueHex: signer.keyId }),
      }).toSchema(),
    ),
  ];
  await cert.sign(signer.key, "SHA-256", engine);
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    certificatePem: pem(cert.toSchema(true).toBER(false)),
    serialDecimal: BigInt(`0x${Buffer.from(serialBytes).toString("hex")}`).toString(10),
    privateKey: createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" }),
    signer: { key: keys.privateKey, name, keyId },
  };
}
