import type { Emit } from "@piaoju/contracts";
import { businessDate } from "../domain/segments.ts";
import { lockBillKind, type StockContext, type Tx } from "./context.ts";
import { applyRules } from "./distribution.ts";

/** What issuance reports back: a number used on a receipt, or a receipt voided before it became formal. */

/**
 * A number was used on a receipt at an issuing point (reported by issuance): the ledger
 * counts it, and the point is topped up if that took it below its rule's threshold.
 */
export async function recordUse(
  ctx: StockContext,
  tx: Tx,
  emit: Emit,
  use: { agencyCode: string; billCode: string; issuingPointCode: string; usedAt: Date },
): Promise<void> {
  await lockBillKind(tx, use.agencyCode, use.billCode);
  await tx.ledgerEntry.create({
    data: {
      agencyCode: use.agencyCode,
      billCode: use.billCode,
      issuingPointCode: use.issuingPointCode,
      movement: "USED",
      quantity: 1,
      businessDate: new Date(`${businessDate(use.usedAt)}T00:00:00Z`),
    },
  });
  await applyRules(ctx, tx, emit, use.agencyCode, use.billCode, use.issuingPointCode);
}

/**
 * A receipt whose number was counted USED never became formal (issuance.ReceiptVoided): the
 * number stays consumed, but as voided (作废) rather than used. The correction is dated on the
 * day of the void: USED -1 and VOIDED +1, so the point's unused count does not move.
 */
export async function recordVoid(
  _ctx: StockContext,
  tx: Tx,
  voided: { agencyCode: string; billCode: string; issuingPointCode: string; voidedAt: Date },
): Promise<void> {
  await lockBillKind(tx, voided.agencyCode, voided.billCode);
  const entry = {
    agencyCode: voided.agencyCode,
    billCode: voided.billCode,
    issuingPointCode: voided.issuingPointCode,
    businessDate: new Date(`${businessDate(voided.voidedAt)}T00:00:00Z`),
  };
  await tx.ledgerEntry.createMany({
    data: [
      { ...entry, movement: "USED", quantity: -1 },
      { ...entry, movement: "VOIDED", quantity: 1 },
    ],
  });
}
