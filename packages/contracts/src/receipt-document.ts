/**
 * The receipt document's signed form, in one place (domain.md): `<EInvoice>{Header}{EInvoiceData}
 * <EInvoiceSignature>{agency}{finance}</EInvoiceSignature></EInvoice>`.
 *
 * Issuance builds and stores the unsigned document (its SM3 is the receipt's `documentSm3`). What
 * the signatures cover depends on the document's version, read from its Header:
 * - from 1.2.0: the bytes of `<Header>` through `</EInvoiceData>` inclusive (the agency signs them;
 *   finance checks the agency's signature over them and signs the same bytes);
 * - before 1.2.0 (1.1.0: receipts issued earlier) or with no Version: the whole unsigned document,
 *   XML declaration included.
 * The served document carries both signatures inside `<EInvoiceSignature>`; taking that element out
 * gives back the stored unsigned bytes, so a receipt issued under either version stays verifiable as
 * it was issued: how it is served changed, never what was signed.
 */

/** The version issuance writes in new documents' Header. */
export const RECEIPT_DOCUMENT_VERSION = "1.2.0";
/** From this version on the signatures cover Header + EInvoiceData; before it, the whole document. */
const SIGNED_PORTION_SINCE = [1, 2, 0];

function signedInPortion(version: string | undefined): boolean {
  if (version === undefined) return false;
  const parts = version.split(".").map(Number);
  for (let i = 0; i < SIGNED_PORTION_SINCE.length; i++) {
    const a = parts[i] ?? 0;
    const b = SIGNED_PORTION_SINCE[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

const SIGNATURE_OPEN = "<EInvoiceSignature>";
const SIGNATURE_CLOSE = "</EInvoiceSignature>";
const DOCUMENT_CLOSE = "</EInvoice>";

export class ReceiptDocumentError extends Error {
  override name = "ReceiptDocumentError";
}

/** One party's signature as carried in the document: detached PKCS#7 (GM/T 0010), SM2. */
export interface DocumentSignature {
  /** The SignedData, base64. */
  value: string;
  /** When it was made (ISO 8601). */
  time: string;
}

export interface DocumentSignatures {
  agency?: DocumentSignature | undefined;
  finance?: DocumentSignature | undefined;
}

const latin1 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");

/** The document's Header Version (`1.1.0`, `1.2.0`), or undefined when it has none. */
export function receiptDocumentVersion(document: Uint8Array): string | undefined {
  return /<Header>(?:(?!<\/Header>).)*?<Version>([0-9.]+)<\/Version>/s.exec(latin1(document))?.[1];
}

/**
 * The stored unsigned bytes of a served document: `<EInvoiceSignature>…</EInvoiceSignature>` taken
 * out (a document without one is returned as it is).
 */
export function unsignedDocumentOf(document: Uint8Array): Buffer {
  const bytes = Buffer.from(document.buffer, document.byteOffset, document.byteLength);
  const text = latin1(document);
  const open = text.lastIndexOf(SIGNATURE_OPEN);
  if (open < 0) return bytes;
  const close = text.indexOf(SIGNATURE_CLOSE, open);
  if (close < 0) throw new ReceiptDocumentError("EInvoiceSignature is not closed");
  return Buffer.concat([bytes.subarray(0, open), bytes.subarray(close + SIGNATURE_CLOSE.length)]);
}

/**
 * The bytes the agency and finance signatures cover, from an unsigned or a signed document of any
 * version: Header + EInvoiceData from 1.2.0 on, else (earlier receipts, a document with no Version)
 * the whole unsigned document. Throws ReceiptDocumentError for a 1.2.0 document without them.
 */
export function signedContentOf(document: Uint8Array): Buffer {
  const unsigned = unsignedDocumentOf(document);
  if (!signedInPortion(receiptDocumentVersion(unsigned))) return unsigned;
  const text = latin1(unsigned);
  const start = text.indexOf("<Header>");
  const endTag = "</EInvoiceData>";
  const end = text.lastIndexOf(endTag);
  if (start < 0 || end < start) throw new ReceiptDocumentError("the document has no Header and EInvoiceData");
  return unsigned.subarray(start, end + endTag.length);
}

const signatureElement = (name: string, s: DocumentSignature) =>
  `<${name}><SignatureFormat>DETACH</SignatureFormat><SignatureAlgorithm>SM2</SignatureAlgorithm>` +
  `<SignatureTime>${s.time}</SignatureTime><SignatureValue>${s.value}</SignatureValue></${name}>`;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const TIME = /^[0-9T:.+\-Z]*$/;

/**
 * The document as it is served: the unsigned bytes with `<EInvoiceSignature>` holding the
 * signatures there are, inserted before `</EInvoice>`. Deterministic: the same receipt is served
 * as the same bytes.
 */
export function withSignatures(unsigned: Uint8Array, signatures: DocumentSignatures): Buffer {
  const bytes = unsignedDocumentOf(unsigned);
  const parts: string[] = [];
  for (const [name, s] of [
    ["InvoicingPartySignature", signatures.agency],
    ["SupervisorPartySignature", signatures.finance],
  ] as const) {
    if (!s) continue;
    if (!BASE64.test(s.value) || !TIME.test(s.time))
      throw new ReceiptDocumentError(`${name} is not base64 with a time`);
    parts.push(signatureElement(name, s));
  }
  if (parts.length === 0) return bytes;
  const text = latin1(bytes);
  const close = text.lastIndexOf(DOCUMENT_CLOSE);
  if (close < 0) throw new ReceiptDocumentError("the document has no </EInvoice>");
  return Buffer.concat([
    bytes.subarray(0, close),
    Buffer.from(`${SIGNATURE_OPEN}${parts.join("")}${SIGNATURE_CLOSE}`, "latin1"),
    bytes.subarray(close),
  ]);
}

/** The signatures a served document carries (none for an unsigned one). */
export function signaturesOf(document: Uint8Array): DocumentSignatures {
  const text = latin1(document);
  const open = text.lastIndexOf(SIGNATURE_OPEN);
  if (open < 0) return {};
  const block = text.slice(open, text.indexOf(SIGNATURE_CLOSE, open));
  const read = (name: string): DocumentSignature | undefined => {
    const m = new RegExp(
      `<${name}>.*?<SignatureTime>([^<]*)</SignatureTime><SignatureValue>([^<]*)</SignatureValue></${name}>`,
      "s",
    ).exec(block);
    return m ? { time: m[1] ?? "", value: m[2] ?? "" } : undefined;
  };
  return { agency: read("InvoicingPartySignature"), finance: read("SupervisorPartySignature") };
}

/**
 * For a verifier: what the signatures must cover, never throwing; a 1.2.0 document that lacks
 * Header or EInvoiceData gives its whole unsigned bytes, so its signatures fail to verify.
 */
export function contentToVerify(document: Uint8Array): Buffer {
  try {
    return signedContentOf(document);
  } catch (error) {
    if (error instanceof ReceiptDocumentError) return unsignedDocumentOf(document);
    throw error;
  }
}
