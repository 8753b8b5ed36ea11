import type { CatalogEvent } from "./catalog.ts";
import { topics } from "./topics.ts";

/**
 * What a verifier keeps of a published certificate (signing.AgencyCaPublished,
 * finance.FinanceCertificatePublished), written once for every service that keeps a trust list
 * in its own table (the gateway's public list, delivery's 查验): the role it is trusted in, and
 * the row, keyed by its SM3 fingerprint.
 */
export type TrustRole = "AGENCY_CA" | "FINANCE_SUPERVISION" | "FINANCE_CA";

export interface TrustedCertificateRow {
  sm3: string;
  role: TrustRole;
  pem: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  publishedAt: Date;
}

/** The events a trust list is built from, and their topics. */
export const trustEventTypes = ["signing.AgencyCaPublished", "finance.FinanceCertificatePublished"] as const;
export const trustTopics = [topics.signing, topics.finance] as const;

/** The row a trust event asks a verifier to keep; undefined for any other event. */
export function trustedCertificateOf(event: CatalogEvent): TrustedCertificateRow | undefined {
  let role: TrustRole;
  if (event.type === "signing.AgencyCaPublished") role = "AGENCY_CA";
  else if (event.type === "finance.FinanceCertificatePublished")
    role = event.data.role === "ca" ? "FINANCE_CA" : "FINANCE_SUPERVISION";
  else return undefined;
  const c = event.data.certificate;
  return {
    sm3: c.sm3,
    role,
    pem: c.pem,
    subject: c.subject,
    notBefore: new Date(c.notBefore),
    notAfter: new Date(c.notAfter),
    publishedAt: new Date(event.data.publishedAt),
  };
}
