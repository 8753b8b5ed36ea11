import { describe, expect, it } from "vitest";
import type { CatalogEvent } from "./catalog.ts";
import { trustedCertificateOf } from "./trust.ts";

const certificate = {
  pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
  sm3: "ab".repeat(32),
  subject: "CN=Agency CA",
  notBefore: "2026-01-01T00:00:00.000Z",
  notAfter: "2036-01-01T00:00:00.000Z",
};
const event = (type: string, data: Record<string, unknown>) => ({ type, data }) as unknown as CatalogEvent;

describe("a published certificate, as a trust list keeps it", () => {
  it("trusts an agency CA for agency signatures, and finance's certificates by the role they were published in", () => {
    const at = "2026-12-03T00:00:00.000Z";
    expect(
      trustedCertificateOf(event("signing.AgencyCaPublished", { certificate, publishedAt: at })),
    ).toEqual({
      sm3: certificate.sm3,
      role: "AGENCY_CA",
      pem: certificate.pem,
      subject: certificate.subject,
      notBefore: new Date(certificate.notBefore),
      notAfter: new Date(certificate.notAfter),
      publishedAt: new Date(at),
    });
    const finance = (role: string) =>
      trustedCertificateOf(
        event("finance.FinanceCertificatePublished", { role, certificate, publishedAt: at }),
      )?.role;
    expect([finance("ca"), finance("supervision")]).toEqual(["FINANCE_CA", "FINANCE_SUPERVISION"]);
  });

  it("keeps nothing of any other event", () => {
    expect(trustedCertificateOf(event("issuance.ReceiptIssued", { certificate }))).toBeUndefined();
  });
});
