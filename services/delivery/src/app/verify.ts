import { contentToVerify, receiptDocumentVersion, signaturesOf, unsignedDocumentOf } from "@piaoju/contracts";
import { type Certificate, parseSignedData, sm3, verifySignedData } from "@piaoju/gm-crypto";

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

/** One certificate of a signer's path, as the console shows it. */
export interface ChainLink {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  sm3: string;
  /** This certificate is one the platform trusts (the path ends here). */
  trusted: boolean;
}

export interface SignatureDetail extends SignatureCheck {
  present: boolean;
  /** SignatureTime as the document carries it. */
  documentTime?: string | undefined;
  /** The signer's path: its certificate, then each issuer found, to a trusted one when there is. */
  chain: ChainLink[];
  /** The path ends at a certificate the platform trusts for this side. */
  chained: boolean;
}

/** 签名验证 of a receipt as served: the document (version, SM3) and each signature with its path. */
export interface ServedVerification {
  documentVersion: string | undefined;
  /** The SM3 issuance recorded (of the stored bytes, <EInvoiceSignature> taken out). */
  documentSm3: string;
  /** The SM3 of the served document with its <EInvoiceSignature> taken out, as a verifier computes it. */
  computedSm3: string;
  documentIntact: boolean;
  agency: SignatureDetail;
  finance: SignatureDetail;
  authentic: boolean;
  verifiedAt: string;
}

/**
 * Verifies the document as it is served (version 1.2.0: both signatures inside
 * <EInvoiceSignature>, ADR 0023), as a verifier holding only that document would: the signatures
 * are read out of it, the SM3 is taken of it with <EInvoiceSignature> removed, each signature is
 * checked over Header + EInvoiceData and chained to what the platform trusts for its side.
 */
export function verifyServedDocument(
  served: Uint8Array,
  recordedSm3: string,
  trusted: TrustedBySide,
  at: Date,
  now: Date,
): ServedVerification {
  const unsigned = unsignedDocumentOf(served);
  const computedSm3 = sm3(unsigned).toString("hex");
  const content = contentToVerify(served);
  const carried = signaturesOf(served);
  const agency = detail(carried.agency, content, trusted.agency, at);
  const finance = detail(carried.finance, content, trusted.finance, at);
  const documentIntact = computedSm3 === recordedSm3;
  return {
    documentVersion: receiptDocumentVersion(unsigned),
    documentSm3: recordedSm3,
    computedSm3,
    documentIntact,
    agency,
    finance,
    authentic: documentIntact && agency.valid && finance.valid && agency.chained && finance.chained,
    verifiedAt: now.toISOString(),
  };
}

function detail(
  carried: { value: string; time: string } | undefined,
  content: Buffer,
  trusted: Certificate[],
  at: Date,
): SignatureDetail {
  if (!carried)
    return {
      present: false,
      valid: false,
      reason: "the document carries no such signature",
      chain: [],
      chained: false,
    };
  const result = check(carried.value, content, trusted, at);
  let chain: ChainLink[] = [];
  try {
    const info = parseSignedData(Buffer.from(carried.value, "base64"));
    const signerInfo = info.signers[0];
    const leaf = info.certificates.find((c) =>
      signerInfo?.issuerDer !== undefined && signerInfo.serial !== undefined
        ? c.matchesIssuerAndSerial(signerInfo.issuerDer, signerInfo.serial)
        : true,
    );
    if (leaf) chain = pathOf(leaf, [...info.certificates, ...trusted], trusted);
  } catch {
    // An unreadable signature has no path; the check above says why.
  }
  const chained = result.valid && trusted.length > 0 && chain.at(-1)?.trusted === true;
  return { present: true, documentTime: carried.time || undefined, ...result, chain, chained };
}

/** Follows issuers from the leaf (by name and a signature that verifies) until a trusted certificate or none. */
function pathOf(leaf: Certificate, pool: Certificate[], trusted: Certificate[]): ChainLink[] {
  const links: ChainLink[] = [];
  let current: Certificate | undefined = leaf;
  for (let depth = 0; current && depth < 8; depth++) {
    const c: Certificate = current;
    const isTrusted = trusted.some((t) => t.equals(c));
    links.push({
      subject: c.subject.text,
      issuer: c.issuer.text,
      serialNumber: c.serialNumber,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      sm3: c.fingerprintSm3(),
      trusted: isTrusted,
    });
    if (isTrusted) break;
    current = pool.find((p) => !p.equals(c) && p.subjectDer.equals(c.issuerDer) && c.isSignedBy(p));
  }
  return links;
}
