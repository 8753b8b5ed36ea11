import { type Bus, consumeEvents, type Subscription } from "@piaoju/bus";
import { trustEventTypes, trustedCertificateOf, trustTopics } from "@piaoju/contracts";
import { prismaUnitOfWork } from "@piaoju/persistence";
import type { TrustList } from "../app/trust.ts";
import type { Prisma, PrismaClient } from "../generated/prisma/client.ts";

export const TRUST_GROUP = "gateway.trust";
type Tx = Prisma.TransactionClient;

/** The certificates the owners publish, into the public trust list (GET /api/v1/trust). */
export function consumeTrustEvents(w: {
  bus: Bus;
  prisma: PrismaClient;
  trust: TrustList;
  clock: () => Date;
  published: () => void;
}): Promise<Subscription> {
  return consumeEvents<Tx>(w.bus, prismaUnitOfWork<Tx>(w.prisma), {
    group: TRUST_GROUP,
    types: [...trustEventTypes],
    topics: [...trustTopics],
    producer: "gateway",
    clock: w.clock,
    published: w.published,
    handle: async (event, tx) => {
      const row = trustedCertificateOf(event);
      if (row) await w.trust.record(tx, row);
    },
  });
}
