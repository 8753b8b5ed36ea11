import { ReceiptPaperExchanged } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import { audit, decideFor, type IssuanceContext, lockReceipt } from "./context.ts";
import { refuseWhileFlushing } from "./red-flush.ts";
import { type Outcome, receiptView, ref } from "./views.ts";

/** 换开: the e-receipt is exchanged for a paper one (recorded by its code and number). */
export function exchangeForPaper(
  ctx: IssuanceContext,
  actor: string,
  id: string,
  paper: { paperBillCode: string; paperNumber: string },
): Promise<Outcome> {
  return ctx.inTransaction(async (tx, emit) => {
    const receipt = await lockReceipt(tx, id);
    if (
      receipt.status === "PAPER_EXCHANGED" &&
      receipt.paperBillCode === paper.paperBillCode &&
      receipt.paperNumber === paper.paperNumber
    ) {
      return { receipt: receiptView(receipt), changed: false };
    }
    await refuseWhileFlushing(tx, receipt, "exchanged for paper");
    const status = decideFor(receipt, { type: "exchangeForPaper" });
    const taken = await tx.receipt.findFirst({
      where: { paperBillCode: paper.paperBillCode, paperNumber: paper.paperNumber },
      select: { id: true },
    });
    if (taken) {
      throw new AppError(
        "conflict",
        `paper receipt ${paper.paperBillCode}/${paper.paperNumber} is already recorded for another receipt`,
        { code: "PAPER_NUMBER_TAKEN" },
      );
    }
    const at = ctx.clock();
    const updated = await tx.receipt.update({
      where: { id },
      data: { status, ...paper, paperExchangedAt: at },
    });
    await audit(tx, actor, "receipt.paper-exchange", `receipt:${id}`, paper);
    emit(ReceiptPaperExchanged, { ...ref(updated), ...paper, returned: false, at: at.toISOString() });
    return { receipt: receiptView(updated), changed: true };
  });
}

/** The paper receipt was taken back: the e-receipt is valid again. */
export function returnPaper(
  ctx: IssuanceContext,
  actor: string,
  id: string,
  input: { reason: string },
): Promise<Outcome> {
  return ctx.inTransaction(async (tx, emit) => {
    const receipt = await lockReceipt(tx, id);
    const status = decideFor(receipt, { type: "returnPaper" });
    const paper = { paperBillCode: receipt.paperBillCode!, paperNumber: receipt.paperNumber! };
    const at = ctx.clock();
    const updated = await tx.receipt.update({
      where: { id },
      data: { status, paperBillCode: null, paperNumber: null, paperExchangedAt: null },
    });
    await audit(tx, actor, "receipt.paper-return", `receipt:${id}`, { ...paper, reason: input.reason });
    emit(ReceiptPaperExchanged, { ...ref(updated), ...paper, returned: true, at: at.toISOString() });
    return { receipt: receiptView(updated), changed: true };
  });
}
