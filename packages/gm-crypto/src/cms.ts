/**
 * CMS SignedData (RFC 5652) with SM2/SM3 and the international content-type identifiers, for
 * readers that know CMS but not GM/T 0010's own ContentInfo OIDs: a PDF signature's /Contents
 * (ISO 32000 12.8.3.3, adbe.pkcs7.detached) is parsed by PDF readers' CMS code (NSS, OpenSSL),
 * which refuse a ContentInfo of type 1.2.156.10197.6.1.4.2.2 before they look at the algorithms.
 *
 * The private key is not here: `sign` gets the DER SET OF signed attributes (what the signature
 * covers) and answers the DER SM2 signature over SM3(Z_A ‖ those bytes), as a signing device's
 * Sign with format RAW_DER does. So the SignedData can be built where the document is, while the
 * key stays in the device.
 *
 * Signed attributes: contentType (id-data), signingTime, messageDigest (SM3 of the content),
 * and signingCertificateV2 (RFC 5035, ESSCertIDv2 with SM3 as its hash and the issuer/serial),
 * which binds the signer's certificate into what is signed.
 */
import { derAlgorithm, derOctets, derOid, derSetOf, derTime, derUnsignedInteger, tlv } from "./der-bytes.ts";
import { GmCryptoError } from "./errors.ts";
import { sm3 } from "./sm3.ts";
import { type Certificate, OID_SM2_WITH_SM3, OID_SM3 } from "./x509.ts";

export const OID_CMS_DATA = "1.2.840.113549.1.7.1";
export const OID_CMS_SIGNED_DATA = "1.2.840.113549.1.7.2";
export const OID_ATTR_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47";
const OID_ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3";
const OID_ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
const OID_ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5";

export interface CreateCmsDetachedOptions {
  /** SM3 of the content (plain SM3, no Z_A). */
  digest: Uint8Array;
  signerCert: Certificate;
  /** Intermediate and root certificates to carry beside the signer's (none by default). */
  chain?: Certificate[];
  signingTime: Date;
  /** DER SM2 signature over SM3(Z_A ‖ signedAttributes), Z_A with the default user ID. */
  sign: (signedAttributes: Buffer) => Promise<Uint8Array>;
}

function attribute(type: string, value: Buffer): Buffer {
  return tlv(0x30, derOid(type), tlv(0x31, value));
}

/** The signed attributes as the signature covers them (a DER SET OF, tag 0x31). */
export function cmsSignedAttributes(opts: Omit<CreateCmsDetachedOptions, "sign" | "chain">): Buffer {
  if (!(opts.digest instanceof Uint8Array) || opts.digest.length !== 32) {
    throw new GmCryptoError("BAD_INPUT", "digest must be 32 bytes (SM3)");
  }
  if (!(opts.signingTime instanceof Date) || Number.isNaN(opts.signingTime.getTime())) {
    throw new GmCryptoError("BAD_INPUT", "signingTime must be a valid Date");
  }
  const cert = opts.signerCert;
  const essCertIdV2 = tlv(
    0x30,
    derAlgorithm(OID_SM3),
    derOctets(sm3(cert.derView)),
    // IssuerSerial: GeneralNames { directoryName [4] issuer }, serialNumber
    tlv(0x30, tlv(0x30, tlv(0xa4, cert.issuerDerView)), derUnsignedInteger(cert.serial)),
  );
  return derSetOf([
    attribute(OID_ATTR_CONTENT_TYPE, derOid(OID_CMS_DATA)),
    attribute(OID_ATTR_SIGNING_TIME, derTime(opts.signingTime)),
    attribute(OID_ATTR_MESSAGE_DIGEST, derOctets(opts.digest)),
    attribute(OID_ATTR_SIGNING_CERTIFICATE_V2, tlv(0x30, tlv(0x30, essCertIdV2))),
  ]);
}

/**
 * A detached CMS SignedData (DER ContentInfo id-signedData) by one SM2 signer: version 1,
 * issuerAndSerialNumber, digest SM3 (1.2.156.10197.1.401), signature SM2-with-SM3
 * (1.2.156.10197.1.501), the signer's certificate and `chain` carried.
 */
export async function createCmsDetached(opts: CreateCmsDetachedOptions): Promise<Buffer> {
  const signedAttributes = cmsSignedAttributes(opts);
  const signature = Buffer.from(await opts.sign(Buffer.from(signedAttributes)));
  if (signature.length < 8 || signature[0] !== 0x30) {
    throw new GmCryptoError("BAD_SIGNATURE_FORMAT", "the signer did not answer a DER SM2 signature");
  }
  const implicit = Buffer.from(signedAttributes);
  implicit[0] = 0xa0; // the same SET as [0] IMPLICIT in SignerInfo
  const cert = opts.signerCert;
  const signerInfo = tlv(
    0x30,
    derUnsignedInteger(1),
    tlv(0x30, cert.issuerDerView, derUnsignedInteger(cert.serial)),
    derAlgorithm(OID_SM3),
    implicit,
    derAlgorithm(OID_SM2_WITH_SM3),
    derOctets(signature),
  );
  const signedData = tlv(
    0x30,
    derUnsignedInteger(1),
    tlv(0x31, derAlgorithm(OID_SM3)),
    tlv(0x30, derOid(OID_CMS_DATA)),
    tlv(0xa0, ...[cert, ...(opts.chain ?? [])].map((c) => c.derView)),
    tlv(0x31, signerInfo),
  );
  return tlv(0x30, derOid(OID_CMS_SIGNED_DATA), tlv(0xa0, signedData));
}
