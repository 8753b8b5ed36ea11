import { type Bus, consumeEvents, type Subscription } from "@piaoju/bus";
import { topics } from "@piaoju/contracts";
import { prismaUnitOfWork } from "@piaoju/persistence";
import type { StockContext, Tx } from "../app/context.ts";
import { receiveIn } from "../app/segments.ts";
import { recordUse, recordVoid } from "../app/usage.ts";
import type { PrismaClient } from "../generated/prisma/client.ts";

export const STOCK_FINANCE_GROUP = "stock.finance-intake";
export const STOCK_USAGE_GROUP = "stock.usage-intake";

interface Wiring {
  bus: Bus;
  prisma: PrismaClient;
  stock: StockContext;
  clock: () => Date;
  published: () => void;
}

/** Segments finance issued (finance.SegmentIssued) come into stock, once each. */
export function consumeFinanceEvents(w: Wiring): Promise<Subscription> {
  return consumeEvents<Tx>(w.bus, prismaUnitOfWork<Tx>(w.prisma), {
    group: STOCK_FINANCE_GROUP,
    types: ["finance.SegmentIssued"],
    topics: [topics.finance],
    producer: "stock",
    clock: w.clock,
    published: w.published,
    handle: async (event, tx, emit) => {
      if (event.type !== "finance.SegmentIssued") return;
      await receiveIn(w.stock, tx, emit, {
        agencyCode: event.data.agencyCode,
        billCode: event.data.billCode,
        startNumber: BigInt(event.data.startNumber),
        endNumber: BigInt(event.data.endNumber),
        source: "FINANCE",
        financeRef: event.data.financeRef,
      });
    },
  });
}

/**
 * Numbers issuance used (issuance.ReceiptRequested: a number taken for a receipt) count
 * into the 领用存 ledger, once each, and top their issuing point up by its rule. A receipt
 * voided before it became formal (issuance.ReceiptVoided, after its request on the same
 * partition) moves its number from used to voided.
 */
export function consumeIssuanceEvents(w: Wiring): Promise<Subscription> {
  return consumeEvents<Tx>(w.bus, prismaUnitOfWork<Tx>(w.prisma), {
    group: STOCK_USAGE_GROUP,
    types: ["issuance.ReceiptRequested", "issuance.ReceiptVoided"],
    topics: [topics.issuance],
    producer: "stock",
    clock: w.clock,
    published: w.published,
    handle: async (event, tx, emit) => {
      if (event.type === "issuance.ReceiptVoided") {
        await recordVoid(w.stock, tx, { ...event.data, voidedAt: new Date(event.data.voidedAt) });
        return;
      }
      if (event.type !== "issuance.ReceiptRequested") return;
      await recordUse(w.stock, tx, emit, {
        agencyCode: event.data.agencyCode,
        billCode: event.data.billCode,
        issuingPointCode: event.data.issuingPointCode,
        usedAt: new Date(event.data.issuedAt),
      });
    },
  });
}
