import { contentToVerify } from "@piaoju/contracts";
import { type Certificate, sm3, verifySignedData } from "@piaoju/gm-crypto";

export interface SignatureCheck {
  valid: boolean;
  /** The signer's subject, e.g. CN=…, when the signature verified. */
  signer?: string | undefined;
  signedAt?: string | undefined;
  reason?: string | undefined;
}

export interface Authenticity {
  /** The document's SM3 equals the one issuance recorded. */
  documentIntact: boolean;
  agency: SignatureCheck;
  finance: SignatureCheck;
  /** Signatures good and the document intact: a formal e-receipt as issued. */
  authentic: boolean;
  /** Each signer was also chained to a trusted certificate (false: none is known yet). */
  chained: boolean;
}

/**
 * What each signature must chain to: the agency's to an agency CA, finance's to finance's CA or
 * its pinned certificate; never one side's certificate for the other's signature.
 */
export interface TrustedBySide {
  agency: Certificate[];
  finance: Certificate[];
}

/**
 * Checks a receipt as a verifier would (查验): the document bytes hash to the recorded SM3,
 * the agency's detached SM2 PKCS#7 signature (单位签名) and finance's (监制签名) both verify
 * over what they cover (`contentToVerify`). With trusted certificates known for a side, its signer must also chain to one.
 */
export function verifyReceipt(
  r: { document: string; documentSm3: string; agencySignature: string; financeSignature: string },
  trusted: TrustedBySide,
  at: Date,
): Authenticity {
  const document = Buffer.from(r.document, "base64");
  const documentIntact = sm3(document).toString("hex") === r.documentSm3;
  // What the signatures cover: Header + EInvoiceData from document version 1.2.0, before it the whole.
  const content = contentToVerify(document);
  const agency = check(r.agencySignature, content, trusted.agency, at);
  const finance = check(r.financeSignature, content, trusted.finance, at);
  return {
    documentIntact,
    agency,
    finance,
    authentic: documentIntact && agency.valid && finance.valid,
    chained: trusted.agency.length > 0 && trusted.finance.length > 0,
  };
}

function check(signature: string, content: Buffer, trusted: Certificate[], at: Date): SignatureCheck {
  try {
    const result = verifySignedData(Buffer.from(signature, "base64"), {
      content,
      at,
      ...(trusted.length > 0 ? { trusted } : {}),
    });
    if (!result.valid) return { valid: false, reason: result.reason };
    return {
      valid: true,
      signer: result.signer?.subject.text,
      signedAt: result.signingTime?.toISOString(),
    };
  } catch (error) {
    return { valid: false, reason: error instanceof Error ? error.message : "unreadable signature" };
  }
}
