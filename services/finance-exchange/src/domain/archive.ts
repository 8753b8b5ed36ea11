import { contentToVerify } from "@piaoju/contracts";
import { Certificate, parseSignedData, sm3, verifySignedData } from "@piaoju/gm-crypto";

/** The parts of a supervised receipt that the archive keeps and can prove later. */
export interface ArchivableReceipt {
  document: string;
  agencySignature: string;
  financeSignature: string;
}

/**
 * The archive key: SM3 over the document and both signatures (base64, newline-separated).
 * The same content always lands in the same row; anything changed is a different entry.
 */
export function contentSm3(r: ArchivableReceipt): string {
  return sm3(`${r.document}\n${r.agencySignature}\n${r.financeSignature}`).toString("hex");
}

export type SignatureCheck =
  | { ok: true; agencySigner: string; financeCertificate: Certificate }
  | { ok: false; problem: string };

/**
 * Checks both detached signatures over the document: the agency's, and finance's with the
 * certificate finance signs with (when known, by its SM3 fingerprint).
 */
export function checkSignatures(
  r: ArchivableReceipt,
  expect: { financeCertificateSm3?: string | undefined; trustedFinance?: Certificate[] | undefined },
): SignatureCheck {
  const document = contentToVerify(Buffer.from(r.document, "base64"));
  const agency = safeVerify(Buffer.from(r.agencySignature, "base64"), document);
  if (!agency.valid) return { ok: false, problem: `agency signature: ${agency.reason}` };
  const financeDer = Buffer.from(r.financeSignature, "base64");
  const finance = safeVerify(financeDer, document, expect.trustedFinance);
  if (!finance.valid || !finance.signer)
    return { ok: false, problem: `finance signature: ${finance.reason}` };
  if (expect.financeCertificateSm3 && finance.signer.fingerprintSm3() !== expect.financeCertificateSm3) {
    return { ok: false, problem: "finance signature: signed with a certificate other than finance's" };
  }
  return { ok: true, agencySigner: agency.signer?.subject.text ?? "", financeCertificate: finance.signer };
}

function safeVerify(
  der: Buffer,
  content: Buffer,
  trusted?: Certificate[],
): { valid: boolean; reason?: string | undefined; signer?: Certificate | undefined } {
  try {
    const result = verifySignedData(der, { content, ...(trusted ? { trusted } : {}) });
    return { valid: result.valid, reason: result.reason, signer: result.signer };
  } catch (error) {
    return { valid: false, reason: (error as Error).message };
  }
}

/** The certificate a SignedData carries first, DER base64 (kept beside the archived receipt). */
export function carriedCertificate(signatureBase64: string): string | undefined {
  try {
    const cert = parseSignedData(Buffer.from(signatureBase64, "base64")).certificates[0];
    return cert ? Buffer.from(cert.toDer()).toString("base64") : undefined;
  } catch {
    return undefined;
  }
}

export function certificateFromBase64(der: string): Certificate {
  return Certificate.fromDer(Buffer.from(der, "base64"));
}
