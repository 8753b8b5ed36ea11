import type { TrustedCertificateRow } from "@piaoju/contracts";
import type { Prisma, PrismaClient } from "../generated/prisma/client.ts";

/**
 * The platform's public trust list: what the owners publish on the bus (the signing gateway its
 * agency CAs, finance-exchange finance's certificates), kept by fingerprint in the gateway's own
 * table. The gateway reads nobody's files or tables for it.
 */
export class TrustList {
  constructor(private readonly prisma: PrismaClient) {}

  /** Kept by fingerprint: the same certificate published again changes nothing. */
  async record(tx: Prisma.TransactionClient, row: TrustedCertificateRow): Promise<void> {
    await tx.trustedCertificate.upsert({ where: { sm3: row.sm3 }, create: row, update: row });
  }

  list() {
    return this.prisma.trustedCertificate.findMany({
      orderBy: [{ role: "asc" }, { notBefore: "asc" }, { sm3: "asc" }],
    });
  }
}
