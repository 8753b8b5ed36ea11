import { type Certificate, createSignedData, type Sm2PrivateKey } from "@piaoju/gm-crypto";
import type { RejectionCode } from "../api.ts";
import { checkAgencySignature } from "./agency-signature.ts";

/** The CPU-bound half of supervising one receipt, the same inline or in a worker thread. */
export type CryptoOutcome =
  | { ok: true; signerDer: Buffer; financeSignature: Buffer }
  | { ok: false; code: RejectionCode; reason: string };

export interface FinanceSigner {
  key: Sm2PrivateKey;
  certificate: Certificate;
  trustedAgencyCas: Certificate[];
}

/**
 * Checks the agency's signature and chain, and when they hold signs the document as finance
 * right away: the database checks that follow rarely refuse, and signing here keeps the
 * transaction short.
 */
export function receiptCrypto(
  signer: FinanceSigner,
  document: Buffer,
  agencySignature: Buffer,
  at: Date,
): CryptoOutcome {
  const check = checkAgencySignature(document, agencySignature, signer.trustedAgencyCas, at);
  if (!check.ok) return check;
  const financeSignature = createSignedData({
    content: document,
    detached: true,
    signerKey: signer.key,
    signerCert: signer.certificate,
  });
  return { ok: true, signerDer: check.signer.toDer(), financeSignature };
}
