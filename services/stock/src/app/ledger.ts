import { type LedgerSummary, type Movement, summarize } from "../domain/ledger.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import type { StockContext, Tx } from "./context.ts";

/** 领用存: the ledger of a bill kind, of the agency or of one issuing point. */

/**
 * 领用存 of one bill kind over business days [from, to]: of the agency (what came from
 * finance), or of one issuing point (what was distributed to it).
 */
export async function ledger(
  ctx: StockContext,
  q: {
    agencyCode: string;
    billCode: string;
    issuingPointCode?: string | undefined;
    from: string;
    to: string;
  },
  db: Pick<Tx, "ledgerEntry"> = ctx.prisma,
): Promise<LedgerSummary> {
  const scope: Prisma.LedgerEntryWhereInput = q.issuingPointCode
    ? { issuingPointCode: q.issuingPointCode }
    : { movement: { not: "DISTRIBUTED" } }; // a move inside the agency, not a receipt from finance
  const totals = (where: Prisma.LedgerEntryWhereInput) =>
    db.ledgerEntry
      .groupBy({
        by: ["movement"],
        where: { agencyCode: q.agencyCode, billCode: q.billCode, ...scope, ...where },
        _sum: { quantity: true },
      })
      .then((rows) =>
        rows.map((r) => ({ movement: r.movement as Movement, quantity: r._sum.quantity ?? 0 })),
      );
  const from = new Date(`${q.from}T00:00:00Z`);
  const to = new Date(`${q.to}T00:00:00Z`);
  return summarize(
    await totals({ businessDate: { lt: from } }),
    await totals({ businessDate: { gte: from, lte: to } }),
  );
}
