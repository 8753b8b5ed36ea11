import type { TrustRole as PublishedRole, TrustedCertificateRow } from "@piaoju/contracts";
import { Certificate } from "@piaoju/gm-crypto";
import type { PrismaClient } from "../generated/prisma/client.ts";
import type { Tx } from "./receipts.ts";

/** CONFIGURED: from PIAOJU_TRUSTED_CA_PEM, trusted for both sides as that variable always was. */
export type TrustRole = PublishedRole | "CONFIGURED";

export interface TrustedEntry {
  role: TrustRole;
  sm3: string;
  subject: string;
  pem: string;
  certificate: Certificate;
}

/**
 * The certificates 查验 chains to. By default what their owners published on the bus: the agency
 * CAs (the signing gateway) and finance's supervision certificates and CA (finance-exchange), kept
 * in delivery's own table. `PIAOJU_TRUSTED_CA_PEM`, when set, replaces them all (an operator's
 * override: a licensed CA bundle pinned by hand).
 */
export class TrustAnchors {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly override: Certificate[] | undefined,
  ) {}

  /** From the bus: kept by fingerprint; the same certificate published again changes nothing. */
  async record(tx: Tx, row: TrustedCertificateRow): Promise<void> {
    await tx.trustedCertificate.upsert({ where: { sm3: row.sm3 }, create: row, update: row });
  }

  /** Whether the set comes from the override rather than from the bus. */
  get overridden(): boolean {
    return this.override !== undefined;
  }

  /** What each side's signer must chain to (the override serves both sides, as it always did). */
  async bySide(): Promise<{ agency: Certificate[]; finance: Certificate[] }> {
    const entries = await this.list();
    if (this.override) {
      const all = entries.map((e) => e.certificate);
      return { agency: all, finance: all };
    }
    return {
      agency: entries.filter((e) => e.role === "AGENCY_CA").map((e) => e.certificate),
      finance: entries.filter((e) => e.role !== "AGENCY_CA").map((e) => e.certificate),
    };
  }

  /** Every trusted certificate now (the override, or what was published). */
  async list(): Promise<TrustedEntry[]> {
    if (this.override) {
      return this.override.map((certificate) => ({
        role: "CONFIGURED",
        sm3: certificate.fingerprintSm3(),
        subject: certificate.subject.text,
        pem: certificate.toPem(),
        certificate,
      }));
    }
    const rows = await this.prisma.trustedCertificate.findMany({
      orderBy: [{ role: "asc" }, { sm3: "asc" }],
    });
    const entries: TrustedEntry[] = [];
    for (const row of rows) {
      // What the bus carried was validated as one PEM; a certificate that still will not parse is left out.
      try {
        const certificate = Certificate.fromPem(row.pem);
        if (certificate.fingerprintSm3() !== row.sm3) continue;
        entries.push({
          role: row.role as TrustRole,
          sm3: row.sm3,
          subject: row.subject,
          pem: row.pem,
          certificate,
        });
      } catch {}
    }
    return entries;
  }
}
