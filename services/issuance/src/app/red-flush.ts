import { randomUUID } from "node:crypto";
import { type Emit, ReceiptRedFlushed, ReceiptRequested } from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import { AppError } from "@piaoju/runtime";
import { decide } from "../domain/lifecycle.ts";
import { isSameRedFlush, redFlushRefusal, redLines } from "../domain/red-flush.ts";
import type { IssueRequest } from "../domain/request.ts";
import type { Prisma, Receipt } from "../generated/prisma/client.ts";
import { audit, type IssuanceContext, lockReceipt, type Tx } from "./context.ts";
import { allocateNumber } from "./numbers.ts";
import { composeReceipt, linesOf } from "./receipt-content.ts";
import { formatNumber, type Outcome, receiptView, ref } from "./views.ts";

/**
 * 冲红: creates the red receipt of an issued one, with its own number (the original's
 * issuing point, the same gap-free allocation), check code and document, negative amounts,
 * and sends it down the same signing and supervision path. The original becomes RED_FLUSHED
 * when the red receipt is issued. A retry (same reason) gets the same red receipt back;
 * concurrent requests queue on the original's row lock, so one red receipt is made.
 */
export function redFlush(
  ctx: IssuanceContext,
  actor: string,
  originalId: string,
  input: { reason: string; handlingPerson: string },
): Promise<Outcome> {
  return ctx.inTransaction((tx, emit) => redFlushIn(ctx, tx, emit, actor, originalId, input));
}

/** The red-flush inside a transaction of the caller's (a payment's refund taken from the bus). */
export async function redFlushIn(
  ctx: IssuanceContext,
  tx: Tx,
  emit: Emit,
  actor: string,
  originalId: string,
  input: { reason: string; handlingPerson: string },
): Promise<Outcome> {
  const original = await lockReceipt(tx, originalId);
  const live = await liveRedOf(tx, original.id);
  if (live && isSameRedFlush(live, input.reason)) return { receipt: receiptView(live), changed: false };
  const refusal = redFlushRefusal(original, live ?? undefined);
  if (refusal) throw refusal;
  const red = await createRed(ctx, tx, emit, actor, original, input);
  return { receipt: receiptView(red), changed: true };
}

async function createRed(
  ctx: IssuanceContext,
  tx: Tx,
  emit: Emit,
  actor: string,
  original: Receipt,
  input: { reason: string; handlingPerson: string },
): Promise<Receipt> {
  const request = original.request as unknown as IssueRequest;
  const lines = redLines(await linesOf(tx, original));
  const totalFen = -original.totalFen;
  const number = formatNumber(await allocateNumber(tx, original));
  const issuedAt = ctx.clock();
  // The red receipt's own serial: one per attempt, so a red receipt voided by signing or
  // finance can be followed by another without touching the (agency, serial) uniqueness.
  const attempts = await tx.receipt.count({ where: { originalReceiptId: original.id } });
  const bizSerialNo = `red:${original.billCode}${formatNumber(original.number)}${attempts ? `:${attempts + 1}` : ""}`;
  const billKind = await tx.billKind.findUnique({
    where: { agencyCode_billCode: { agencyCode: original.agencyCode, billCode: original.billCode } },
  });
  const { checkCode, checkCodeKeyId, document, documentSm3 } = composeReceipt(ctx, {
    billName: billKind?.name,
    billCode: original.billCode,
    number,
    totalFen,
    issuedAt,
    agencyCode: original.agencyCode,
    payer: request.payer,
    checkCodePayerCode: original.payerCode ?? "",
    payMode: request.payMode,
    bizSerialNo,
    remark: input.reason,
    handlingPerson: input.handlingPerson,
    lines,
    related: { billCode: original.billCode, number: formatNumber(original.number) },
  });
  const redRequest = {
    ...request,
    bizSerialNo,
    items: request.items.map((i) => ({ ...i, amountFen: -i.amountFen })),
    totalFen: Number(totalFen),
    remark: input.reason,
    handlingPerson: input.handlingPerson,
  };
  const red = await tx.receipt.create({
    data: {
      id: randomUUID(),
      agencyCode: original.agencyCode,
      bizSerialNo,
      issuingPointCode: original.issuingPointCode,
      billCode: original.billCode,
      number: BigInt(number),
      checkCode,
      checkCodeKeyId,
      status: "REQUESTED",
      source: original.source,
      totalFen,
      payerType: original.payerType,
      payerCode: original.payerCode,
      payerName: original.payerName,
      issuedAt,
      requestSm3: sm3(JSON.stringify(["red", original.id, input.reason])).toString("hex"),
      request: redRequest as unknown as Prisma.InputJsonValue,
      document: new Uint8Array(document),
      documentSm3,
      createdBy: actor,
      kind: "RED",
      originalReceiptId: original.id,
      lines: lines as unknown as Prisma.InputJsonValue,
      reason: input.reason,
    },
  });
  await audit(tx, actor, "receipt.red-flush", `receipt:${original.id}`, {
    redReceiptId: red.id,
    number,
    reason: input.reason,
  });
  emit(ReceiptRequested, {
    receiptId: red.id,
    agencyCode: red.agencyCode,
    issuingPointCode: red.issuingPointCode,
    bizSerialNo,
    billCode: red.billCode,
    number,
    checkCode,
    totalFen: Number(totalFen),
    payerType: request.payer.type,
    issuedAt: issuedAt.toISOString(),
    documentSm3,
    document: document.toString("base64"),
    kind: "red",
    originalReceiptId: original.id,
  });
  return red;
}

/** The red receipt is issued (in the caller's transaction): its original is now red-flushed. */
export async function flushOriginal(ctx: IssuanceContext, tx: Tx, emit: Emit, red: Receipt): Promise<void> {
  const original = await lockReceipt(tx, red.originalReceiptId!, red.agencyCode);
  if (original.status !== "ISSUED") {
    // Paper exchange and booking are refused while a red-flush is on its way, so this is a repeat.
    if (original.status !== "RED_FLUSHED") {
      ctx.warn("red receipt issued for an original not in ISSUED", { id: original.id, red: red.id });
    }
    return;
  }
  const at = ctx.clock();
  const reason = red.reason ?? "red-flushed";
  await tx.receipt.update({
    where: { id: original.id },
    data: { status: decide(original.status, { type: "redFlush", reason }), redFlushedAt: at },
  });
  await audit(tx, red.createdBy, "receipt.red-flushed", `receipt:${original.id}`, {
    redReceiptId: red.id,
    redNumber: formatNumber(red.number),
    reason,
  });
  emit(ReceiptRedFlushed, {
    ...ref(original),
    redReceiptId: red.id,
    redBillCode: red.billCode,
    redNumber: formatNumber(red.number),
    reason,
    redFlushedAt: at.toISOString(),
  });
}

/** Paper exchange and booking are refused while a red-flush of the receipt is on its way. */
export async function refuseWhileFlushing(tx: Tx, receipt: Receipt, what: string): Promise<void> {
  const live = await liveRedOf(tx, receipt.id);
  if (live && live.status !== "ISSUED") {
    throw new AppError(
      "conflict",
      `the receipt is being red-flushed (red receipt ${live.id}) and cannot be ${what}`,
      { code: "RED_FLUSH_IN_PROGRESS" },
    );
  }
}

/** The original's red receipt that is not voided (in progress or issued), if any. */
function liveRedOf(tx: Tx, originalId: string): Promise<Receipt | null> {
  return tx.receipt.findFirst({
    where: { originalReceiptId: originalId, kind: "RED", status: { not: "VOIDED" } },
    orderBy: { issuedAt: "desc" },
  });
}
