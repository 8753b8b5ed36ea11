import { transactionsWithEvents } from "@piaoju/bus";
import type { Emit } from "@piaoju/contracts";
import { prismaUnitOfWork, type UnitOfWork } from "@piaoju/persistence";
import { AppError } from "@piaoju/runtime";
import type { Keyring, Sealer } from "@piaoju/sealing";
import { decide, type ReceiptCommand } from "../domain/lifecycle.ts";
import type { Prisma, PrismaClient, Receipt } from "../generated/prisma/client.ts";

export type Tx = Prisma.TransactionClient;

export type ReceiptSource = "API" | "ONLINE" | "PAYMENT";

export interface IssuanceDeps {
  prisma: PrismaClient;
  /** Called after a commit that wrote events, so the relay publishes them at once. */
  published: () => void;
  clock: () => Date;
  /** PIAOJU_CHECK_CODE_KEY: the root keys of the agencies' check-code secrets, current first. */
  checkCodeKeys: Keyring;
  /** Seals personal data kept outside receipts (常用交款人) and makes its lookup hashes. */
  sealer: Sealer;
  /** Where an outcome that changes nothing but deserves a look is said (the service's logger). */
  warn?: (message: string, detail: Record<string, unknown>) => void;
}

/**
 * What every issuance use case works with (one file per use case in app/, each an exported
 * function taking this first). Each change runs in one transaction with its events (outbox) and
 * its audit entry.
 */
export interface IssuanceContext {
  prisma: PrismaClient;
  clock: () => Date;
  checkCodeKeys: Keyring;
  sealer: Sealer;
  warn: (message: string, detail: Record<string, unknown>) => void;
  /** Runs work in one transaction; the events it emits go to the outbox in that transaction. */
  inTransaction: <T>(work: (tx: Tx, emit: Emit) => Promise<T>) => Promise<T>;
}

export function issuanceContext(deps: IssuanceDeps): IssuanceContext {
  return {
    prisma: deps.prisma,
    clock: deps.clock,
    checkCodeKeys: deps.checkCodeKeys,
    sealer: deps.sealer,
    warn: deps.warn ?? (() => {}),
    inTransaction: transactionsWithEvents({
      unitOfWork: issuanceUnitOfWork(deps.prisma),
      producer: "issuance",
      clock: deps.clock,
      published: deps.published,
    }),
  };
}

/** Issuers of one point queue on its run's row lock; Prisma's default 5 s wait is short under load. */
export function issuanceUnitOfWork(prisma: PrismaClient): UnitOfWork<Tx> {
  return prismaUnitOfWork<Tx>(prisma, { maxWait: 30_000, timeout: 60_000 });
}

export function audit(tx: Tx, actor: string, action: string, subject: string, detail: unknown) {
  return tx.auditLog.create({
    data: { actor, action, subject, detail: JSON.parse(JSON.stringify(detail)) as Prisma.InputJsonValue },
  });
}

/** Locks a receipt's row for the rest of the transaction; 404 when unknown (or of another agency). */
export async function lockReceipt(tx: Tx, id: string, agencyCode?: string): Promise<Receipt> {
  const rows = await tx.$queryRaw<
    Array<{ id: string }>
  >`SELECT id FROM receipt WHERE id = ${id}::uuid FOR UPDATE`;
  const receipt = rows.length ? await tx.receipt.findUnique({ where: { id } }) : null;
  if (!receipt || (agencyCode !== undefined && receipt.agencyCode !== agencyCode)) {
    throw new AppError("not_found", `receipt ${id} does not exist`, { code: "RECEIPT_UNKNOWN" });
  }
  return receipt;
}

/** Red receipts accept only void; blue ones follow the lifecycle. */
export function decideFor(receipt: Receipt, command: ReceiptCommand) {
  if (receipt.kind === "RED" && command.type !== "void") {
    throw new AppError("conflict", `a red receipt cannot ${command.type}`, { code: "RED_RECEIPT" });
  }
  return decide(receipt.status, command);
}
