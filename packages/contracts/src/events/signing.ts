import { z } from "zod";
import { defineEvent } from "../event.ts";
import { topics } from "../topics.ts";
import { agencyCode, isoTime, publishedCertificate, sm3Hex } from "./common.ts";

/**
 * The signing gateway signed a receipt's document with the agency's key (单位签名): it
 * consumes `issuance.ReceiptRequested` and answers with this, once per receipt (a replayed
 * request yields the same event id, so consumers' inboxes drop the repeat).
 */
export const ReceiptSigned = defineEvent({
  type: "signing.ReceiptSigned",
  topic: topics.signing,
  version: 1,
  schema: z.object({
    receiptId: z.uuid(),
    agencyCode,
    /** SM3 of the document that was signed; issuance checks it is the one it built. */
    documentSm3: sm3Hex,
    /** Detached PKCS#7 SignedData per GM/T 0010 (DER, base64), with the signer's certificate. */
    signature: z.base64(),
    /** SM3 fingerprint of the signer's certificate. */
    certificateSm3: sm3Hex,
    keyId: z.string().min(1).max(128),
    signedAt: isoTime,
  }),
  partitionKey: (d) => d.receiptId,
});

/**
 * The signing gateway will not sign a receipt (no key for the agency, the document does not
 * match its digest, a certificate out of validity). Transient faults (a device down) are
 * retried, never reported here.
 */
export const ReceiptSigningRefused = defineEvent({
  type: "signing.ReceiptSigningRefused",
  topic: topics.signing,
  version: 1,
  schema: z.object({
    receiptId: z.uuid(),
    agencyCode,
    code: z.string().min(1).max(64),
    reason: z.string().min(1).max(500),
    refusedAt: isoTime,
  }),
  partitionKey: (d) => d.receiptId,
});

/**
 * The signing gateway publishes a CA that agency signing certificates chain to (单位证书的 CA):
 * the development CA of its keystore (embedded), and every issuer in the chains its devices
 * hold for agency keys. Sent on start, when it finds a new one, and again now and then, so a
 * consumer that joins late learns them all. Verifiers (delivery, the gateway's public trust
 * list) take it as a root for agency signatures.
 */
export const AgencyCaPublished = defineEvent({
  type: "signing.AgencyCaPublished",
  topic: topics.signing,
  version: 1,
  schema: z.object({
    certificate: publishedCertificate,
    publishedAt: isoTime,
  }),
  partitionKey: (d) => `trust:${d.certificate.sm3}`,
});

export const signingEvents = { ReceiptSigned, ReceiptSigningRefused, AgencyCaPublished } as const;
