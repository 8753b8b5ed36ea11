import {
  type Certificate,
  GmCryptoError,
  parseSignedData,
  verifyChain,
  verifySignedData,
} from "@piaoju/gm-crypto";
import type { RejectionCode } from "../api.ts";

export type SignatureCheck =
  | { ok: true; signer: Certificate }
  | { ok: false; code: RejectionCode; reason: string };

/**
 * Checks the agency's detached PKCS#7 SignedData over the document, then that the signer's
 * certificate chains to one of the CAs finance trusts for agency certificates. Whether the
 * certificate is this agency's is the caller's question (it needs the binding table).
 */
export function checkAgencySignature(
  document: Uint8Array,
  signatureDer: Uint8Array,
  trusted: Certificate[],
  at: Date,
): SignatureCheck {
  let signature: ReturnType<typeof verifySignedData>;
  try {
    signature = verifySignedData(signatureDer, { content: document, at });
  } catch (error) {
    if (error instanceof GmCryptoError) {
      return {
        ok: false,
        code: "BAD_SIGNATURE_FORMAT",
        reason: `agencySignature is not a PKCS#7 SignedData: ${error.message}`,
      };
    }
    throw error;
  }
  if (!signature.valid || !signature.signer) {
    return {
      ok: false,
      code: "BAD_AGENCY_SIGNATURE",
      reason: `the agency signature does not verify: ${signature.reason}`,
    };
  }
  // Agency certificates usually come straight from a trusted CA; only when they do not are the
  // certificates carried in the SignedData (intermediate CAs) read, which costs a second parse.
  let chain = verifyChain(signature.signer, [], trusted, at);
  if (!chain.ok)
    chain = verifyChain(signature.signer, parseSignedData(signatureDer).certificates, trusted, at);
  if (!chain.ok) {
    return {
      ok: false,
      code: "CERTIFICATE_UNTRUSTED",
      reason: `the agency certificate is not trusted: ${chain.reason}`,
    };
  }
  return { ok: true, signer: signature.signer };
}
