import { type Emit, ReceiptVoided } from "@piaoju/contracts";
import { decide } from "../domain/lifecycle.ts";
import type { Receipt } from "../generated/prisma/client.ts";
import { audit, type IssuanceContext, lockReceipt, type Tx } from "./context.ts";
import { type Outcome, receiptView, ref } from "./views.ts";

/** 作废 by a clerk, before the receipt is issued; its number stays used and counts as voided. */
export function voidReceipt(
  ctx: IssuanceContext,
  actor: string,
  id: string,
  input: { reason: string },
): Promise<Outcome> {
  return ctx.inTransaction(async (tx, emit) => {
    const receipt = await lockReceipt(tx, id);
    if (receipt.status === "VOIDED") return { receipt: receiptView(receipt), changed: false };
    decide(receipt.status, { type: "void", reason: input.reason });
    return {
      receipt: receiptView(await voidReceiptIn(ctx, tx, emit, receipt, actor, input.reason)),
      changed: true,
    };
  });
}

/**
 * Voids a receipt locked by the caller (a clerk, or signing or finance refusing it):
 * ReceiptVoided tells stock to count its number as voided.
 */
export async function voidReceiptIn(
  ctx: IssuanceContext,
  tx: Tx,
  emit: Emit,
  receipt: Receipt,
  actor: string,
  reason: string,
): Promise<Receipt> {
  const at = ctx.clock();
  const voided = await tx.receipt.update({
    where: { id: receipt.id },
    data: { status: decide(receipt.status, { type: "void", reason }), reason, voidedAt: at },
  });
  await audit(tx, actor, "receipt.void", `receipt:${receipt.id}`, { reason, from: receipt.status });
  emit(ReceiptVoided, {
    ...ref(voided),
    issuingPointCode: voided.issuingPointCode,
    reason: reason.slice(0, 500),
    voidedAt: at.toISOString(),
  });
  return voided;
}
