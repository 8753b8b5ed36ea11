import { ReceiptBooked } from "@piaoju/contracts";
import { audit, decideFor, type IssuanceContext, lockReceipt } from "./context.ts";
import { refuseWhileFlushing } from "./red-flush.ts";
import { type Outcome, receiptView, ref } from "./views.ts";

/** 入账/报销 by the payer's organisation: from now on red-flush is refused. */
export function bookReceipt(
  ctx: IssuanceContext,
  actor: string,
  id: string,
  input: { bookedBy: string },
): Promise<Outcome> {
  return ctx.inTransaction(async (tx, emit) => {
    const receipt = await lockReceipt(tx, id);
    if (receipt.status === "BOOKED") return { receipt: receiptView(receipt), changed: false };
    await refuseWhileFlushing(tx, receipt, "booked");
    const status = decideFor(receipt, { type: "book" });
    const bookedAt = ctx.clock();
    const updated = await tx.receipt.update({
      where: { id },
      data: { status, bookedAt, bookedBy: input.bookedBy },
    });
    await audit(tx, actor, "receipt.book", `receipt:${id}`, input);
    emit(ReceiptBooked, { ...ref(updated), bookedAt: bookedAt.toISOString() });
    return { receipt: receiptView(updated), changed: true };
  });
}
