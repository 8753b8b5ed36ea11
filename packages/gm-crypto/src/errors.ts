/**
 * Every failure this package reports is a GmCryptoError. `code` is stable and meant for
 * programs; `message` is meant for people and may change.
 */
export type GmCryptoErrorCode =
  /** A key is malformed, not on the SM2 curve, out of range, or not an SM2 key at all. */
  | "BAD_KEY"
  /** A signature is not 64 raw bytes, or not a canonical DER SEQUENCE { r INTEGER, s INTEGER }. */
  | "BAD_SIGNATURE_FORMAT"
  /** A ciphertext is too short or its ASN.1 does not have the GM/T 0009 shape. */
  | "BAD_CIPHERTEXT_FORMAT"
  /** C1 is not on the curve, C3 does not match, the KDF output is all zero, or PKCS#7 padding is wrong. */
  | "DECRYPT_FAILED"
  /** Any other argument of the wrong length or type: SM4 key/IV length, digest length, user ID length. */
  | "BAD_INPUT"
  /** The Node/OpenSSL underneath lacks an algorithm (for instance sm3 or sm4-cbc). */
  | "UNSUPPORTED"
  /** A certificate is not DER/PEM X.509, or not one with an SM2 public key. */
  | "BAD_CERTIFICATE"
  /** A PKCS#7 (GM/T 0010) message is malformed, truncated, or of an unexpected type or algorithm. */
  | "BAD_PKCS7"
  /** An EnvelopedData has no RecipientInfo for the given certificate (issuer and serial number). */
  | "NOT_A_RECIPIENT"
  /** An XML document cannot be parsed, or has no (or more than one) signature where one is expected. */
  | "BAD_XML";

export class GmCryptoError extends Error {
  override readonly name = "GmCryptoError";
  readonly code: GmCryptoErrorCode;

  constructor(code: GmCryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
