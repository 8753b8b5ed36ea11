import { type Bus, consumeEvents, type Subscription } from "@piaoju/bus";
import { topics, trustEventTypes, trustedCertificateOf, trustTopics } from "@piaoju/contracts";
import { prismaUnitOfWork } from "@piaoju/persistence";
import type { Receipts, Tx } from "../app/receipts.ts";
import type { TrustAnchors } from "../app/trust.ts";
import type { PrismaClient } from "../generated/prisma/client.ts";

export const DELIVERY_GROUP = "delivery.receipts";
export const TRUST_GROUP = "delivery.trust";

/**
 * Issued receipts (blue and red), red-flushes and paper exchanges come in once each (inbox);
 * deliveries are planned in the same transaction, and the sender is then woken.
 */
export function consumeIssuanceEvents(w: {
  bus: Bus;
  prisma: PrismaClient;
  receipts: Receipts;
  clock: () => Date;
  published: () => void;
  planned: () => void;
}): Promise<Subscription> {
  return consumeEvents<Tx>(w.bus, prismaUnitOfWork<Tx>(w.prisma), {
    group: DELIVERY_GROUP,
    types: ["issuance.ReceiptIssued", "issuance.ReceiptRedFlushed", "issuance.ReceiptPaperExchanged"],
    topics: [topics.issuance],
    producer: "delivery",
    clock: w.clock,
    published: w.published,
    handle: async (event, tx) => {
      if (event.type === "issuance.ReceiptPaperExchanged") {
        await w.receipts.receivePaperExchanged(tx, event.data);
        return;
      }
      if (event.type === "issuance.ReceiptIssued") await w.receipts.receiveIssued(tx, event.data);
      else if (event.type === "issuance.ReceiptRedFlushed")
        await w.receipts.receiveRedFlushed(tx, event.data);
      else return;
      // The transaction commits after this returns; the sender's next poll picks the deliveries up.
      setTimeout(w.planned, 50).unref();
    },
  });
}

/**
 * The certificates 查验 chains to, as their owners publish them: agency CAs from the signing
 * gateway, finance's supervision certificates and CA from finance-exchange. Its own group, so it
 * reads both topics from their start whatever the receipts' group has read.
 */
export function consumeTrustEvents(w: {
  bus: Bus;
  prisma: PrismaClient;
  trust: TrustAnchors;
  clock: () => Date;
  published: () => void;
}): Promise<Subscription> {
  return consumeEvents<Tx>(w.bus, prismaUnitOfWork<Tx>(w.prisma), {
    group: TRUST_GROUP,
    types: [...trustEventTypes],
    topics: [...trustTopics],
    producer: "delivery",
    clock: w.clock,
    published: w.published,
    handle: async (event, tx) => {
      const row = trustedCertificateOf(event);
      if (row) await w.trust.record(tx, row);
    },
  });
}
