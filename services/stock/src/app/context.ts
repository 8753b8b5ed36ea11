import { transactionsWithEvents } from "@piaoju/bus";
import type { Emit } from "@piaoju/contracts";
import { prismaUnitOfWork } from "@piaoju/persistence";
import { AppError } from "@piaoju/runtime";
import type { Prisma, PrismaClient } from "../generated/prisma/client.ts";

export type Tx = Prisma.TransactionClient;

export interface StockDeps {
  prisma: PrismaClient;
  /** Called after a commit that wrote events, so the relay publishes them at once. */
  published: () => void;
  clock: () => Date;
}

/**
 * What every stock use case works with (one file per use case family in app/, each an exported
 * function taking this first). Each change runs in one transaction with its events (outbox) and
 * its audit entry.
 */
export interface StockContext {
  prisma: PrismaClient;
  clock: () => Date;
  /** Runs work in one transaction; the events it emits go to the outbox in that transaction. */
  inTransaction: <T>(work: (tx: Tx, emit: Emit) => Promise<T>) => Promise<T>;
}

export function stockContext(deps: StockDeps): StockContext {
  return {
    prisma: deps.prisma,
    clock: deps.clock,
    inTransaction: transactionsWithEvents({
      unitOfWork: prismaUnitOfWork<Tx>(deps.prisma),
      producer: "stock",
      clock: deps.clock,
      published: deps.published,
    }),
  };
}

export async function lockBillKind(tx: Tx, agencyCode: string, billCode: string): Promise<void> {
  const kinds = await tx.$queryRaw<unknown[]>`
    SELECT 1 FROM bill_kind WHERE agency_code = ${agencyCode} AND bill_code = ${billCode} AND enabled FOR UPDATE`;
  if (kinds.length === 0) {
    throw new AppError(
      "not_found",
      `bill kind ${billCode} is not registered (or disabled) for ${agencyCode}`,
      {
        code: "BILL_KIND_UNKNOWN",
      },
    );
  }
}

export function audit(tx: Tx, actor: string, action: string, subject: string, detail: unknown) {
  return tx.auditLog.create({
    data: { actor, action, subject, detail: JSON.parse(JSON.stringify(detail)) as Prisma.InputJsonValue },
  });
}
