/**
 * @piaoju/gm-crypto — the Chinese national algorithms (国密) for Piaoju: SM3, HMAC-SM3, SM4,
 * SM2 keys, SM2 signatures (GM/T 0003.2) and SM2 encryption (GM/T 0003.4). See README.md.
 */

export type { BytesLike } from "./bytes.ts";
export type { CreateCmsDetachedOptions } from "./cms.ts";
export {
  cmsSignedAttributes,
  createCmsDetached,
  OID_ATTR_SIGNING_CERTIFICATE_V2,
  OID_CMS_DATA,
  OID_CMS_SIGNED_DATA,
} from "./cms.ts";
export type { SignatureFormat } from "./der-signature.ts";
export { signatureDerToRaw, signatureRawToDer } from "./der-signature.ts";
export type { CiphertextForm, CiphertextOptions } from "./encryption.ts";
export { convertCiphertext, decrypt, encrypt, sm3Kdf } from "./encryption.ts";
export type { GmCryptoErrorCode } from "./errors.ts";
export { GmCryptoError } from "./errors.ts";
export { generateSm2KeyPair, Sm2PrivateKey, Sm2PublicKey } from "./keys.ts";
export type { Sm2Backend } from "./native.ts";
export { sm2Backend } from "./native.ts";
export type {
  CreateEnvelopedDataOptions,
  CreateSignedDataFromDigestOptions,
  CreateSignedDataOptions,
  EnvelopeForm,
  Pkcs7Profile,
  Pkcs7ProfileName,
  SignatureAlgorithmForm,
  SignedDataInfo,
  SignerInfoData,
  SignOptionsCommon,
  VerifySignedDataOptions,
  VerifySignedDataResult,
} from "./pkcs7.ts";
export {
  createEnvelopedData,
  createSignedData,
  createSignedDataFromDigest,
  OID_GM_DATA,
  OID_GM_ENVELOPED_DATA,
  OID_GM_SIGNED_DATA,
  OID_SM2_ENCRYPT,
  OID_SM2_ENCRYPT_GMSSL,
  OID_SM2_SIGN,
  OID_SM4_CBC,
  openEnvelopedData,
  PKCS7_PROFILES,
  parseSignedData,
  signatureStamp,
  verifySignedData,
} from "./pkcs7.ts";
export { sealSm4, unsealSm4 } from "./seal.ts";
export type { DigestSignOptions, SignOptions, VerifyOptions } from "./signature.ts";
export {
  computeDigest,
  createSm2DigestHash,
  Sm2Signer,
  Sm2Verifier,
  sign,
  signDigest,
  verify,
  verifyDigest,
} from "./signature.ts";
export { createHmacSm3, createSm3, hmacSm3, sm3 } from "./sm3.ts";
export type { Sm4Padding } from "./sm4.ts";
export {
  generateSm4Iv,
  generateSm4Key,
  SM4_BLOCK_LENGTH,
  SM4_GCM_SUPPORTED,
  SM4_KEY_LENGTH,
  sm4CbcDecrypt,
  sm4CbcEncrypt,
  sm4EcbDecrypt,
  sm4EcbEncrypt,
} from "./sm4.ts";
export type {
  CertificateExtension,
  CertificateUsage,
  ChainResult,
  DistinguishedName,
  IssueOptions,
  KeyUsage,
  NameAttribute,
  NameInput,
} from "./x509.ts";
export {
  Certificate,
  certificationRequestPem,
  createCertificationRequest,
  DevCa,
  OID_SM2_WITH_SM3,
  OID_SM3,
  verifyChain,
} from "./x509.ts";
export type { SignXmlOptions, VerifyXmlOptions, VerifyXmlResult } from "./xml-signature.ts";
export {
  signXml,
  verifyXml,
  XML_C14N_10,
  XML_EXC_C14N,
  XMLDSIG_ENVELOPED,
  XMLDSIG_NS,
  XMLDSIG_SM2_SM3,
  XMLDSIG_SM2_SM3_LEGACY,
  XMLDSIG_SM3,
} from "./xml-signature.ts";
export { DEFAULT_USER_ID } from "./za.ts";
