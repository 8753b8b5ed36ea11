import { ReceiptDocumentError, signedContentOf } from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import { GrpcCode, grpcCodeName } from "@piaoju/runtime/errors";

/**
 * The decisions of signing a receipt, without I/O: which key signs for an agency, whether the
 * document is the one issuance hashed, what a device's answer means for the receipt (signed,
 * refused for good, or try again later), and the stable id of the event that answers a receipt.
 */

/** Key id for an agency: an explicit mapping first, else the pattern (`agency-{agencyCode}`). */
export function keyIdFor(agencyCode: string, mapping: ReadonlyMap<string, string>, pattern: string): string {
  return mapping.get(agencyCode) ?? pattern.replaceAll("{agencyCode}", agencyCode);
}

/**
 * Whether `keyId` is an agency's key: one the explicit mapping names, or the pattern's form for
 * some agency code. The signing policy lets only the receipt signers use these.
 */
export function isAgencyKey(keyId: string, mapping: ReadonlyMap<string, string>, pattern: string): boolean {
  if ([...mapping.values()].includes(keyId)) return true;
  const [before, after] = pattern.split("{agencyCode}") as [string, string];
  return (
    pattern.split("{agencyCode}").length === 2 &&
    keyId.length > before.length + after.length &&
    keyId.startsWith(before) &&
    keyId.endsWith(after) &&
    /^[0-9A-Za-z]+$/.test(keyId.slice(before.length, keyId.length - after.length))
  );
}

/** Parses `110101=agency-110101-2026,110102=shared-key` into a map. */
export function parseKeyMapping(text: string | undefined): Map<string, string> {
  const mapping = new Map<string, string>();
  for (const pair of (text ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf("=");
    if (eq <= 0 || eq === pair.length - 1) throw new Error(`"${pair}" is not agencyCode=keyId`);
    mapping.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return mapping;
}

export type DocumentCheck = { ok: true; content: Buffer } | { ok: false; code: string; reason: string };

/**
 * What the agency signs of the document (its Header + EInvoiceData from version 1.2.0, the whole
 * document before: `signedContentOf`), if SM3 of the document is the digest issuance announced.
 */
export function checkDocument(documentBase64: string, documentSm3: string): DocumentCheck {
  const document = Buffer.from(documentBase64, "base64");
  const actual = sm3(document).toString("hex");
  if (actual !== documentSm3) {
    return {
      ok: false,
      code: "DOCUMENT_DIGEST_MISMATCH",
      reason: `SM3 of the document is ${actual}, the request says ${documentSm3}`,
    };
  }
  try {
    return { ok: true, content: signedContentOf(document) };
  } catch (error) {
    if (!(error instanceof ReceiptDocumentError)) throw error;
    return { ok: false, code: "DOCUMENT_MALFORMED", reason: error.message };
  }
}

export type DeviceVerdict =
  | { kind: "refuse"; code: string; reason: string }
  | { kind: "no-key" }
  | { kind: "retry"; reason: string };

/**
 * What a failed Sign means for the receipt. Only answers about the request itself are final;
 * everything that could be the device's or the network's passing state is tried again later.
 */
export function judgeSignFailure(code: number, message: string, keyId: string): DeviceVerdict {
  switch (code) {
    case GrpcCode.NOT_FOUND:
      return { kind: "no-key" };
    case GrpcCode.FAILED_PRECONDITION:
      return {
        kind: "refuse",
        code: "NO_CERTIFICATE",
        reason: `key ${keyId} has no usable certificate: ${message}`.slice(0, 500),
      };
    case GrpcCode.INVALID_ARGUMENT:
    case GrpcCode.OUT_OF_RANGE:
      return {
        kind: "refuse",
        code: "DEVICE_REFUSED",
        reason: message.slice(0, 500) || "refused by the device",
      };
    default:
      return { kind: "retry", reason: `${grpcCodeName(code) ?? code}: ${message}` };
  }
}

export function noKeyRefusal(agencyCode: string, keyId: string): { code: string; reason: string } {
  return { code: "NO_AGENCY_KEY", reason: `no signing key ${keyId} for agency ${agencyCode} on the devices` };
}

/**
 * The id of the event answering a receipt: the same for every delivery of its request, so a
 * replay that got past this service's own record would still be dropped by consumers' inboxes.
 */
export function answerEventId(receiptId: string): string {
  const hex = sm3(Buffer.from(`piaoju.signing.answer/${receiptId.toLowerCase()}`)).toString("hex");
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
