import type { AgencyCaPublished } from "@piaoju/contracts";
import type { z } from "zod";
import type { Prisma, PrismaClient } from "../generated/prisma/client.ts";

export type TrustRole = "AGENCY_CA" | "FINANCE_SUPERVISION" | "FINANCE_CA";
type PublishedCertificate = z.infer<typeof AgencyCaPublished.schema>["certificate"];

/**
 * The platform's public trust list: what the owners publish on the bus (the signing gateway its
 * agency CAs, finance-exchange finance's certificates), kept by fingerprint in the gateway's own
 * table. The gateway reads nobody's files or tables for it.
 */
export class TrustList {
  constructor(private readonly prisma: PrismaClient) {}

  async record(
    tx: Prisma.TransactionClient,
    role: TrustRole,
    c: PublishedCertificate,
    publishedAt: string,
  ): Promise<void> {
    const row = {
      role,
      pem: c.pem,
      subject: c.subject,
      notBefore: new Date(c.notBefore),
      notAfter: new Date(c.notAfter),
      publishedAt: new Date(publishedAt),
    };
    await tx.trustedCertificate.upsert({
      where: { sm3: c.sm3 },
      create: { sm3: c.sm3, ...row },
      update: row,
    });
  }

  list() {
    return this.prisma.trustedCertificate.findMany({
      orderBy: [{ role: "asc" }, { notBefore: "asc" }, { sm3: "asc" }],
    });
  }
}
