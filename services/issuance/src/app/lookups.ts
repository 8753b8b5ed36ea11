import { withSignatures } from "@piaoju/contracts";
import { signatureStamp } from "@piaoju/gm-crypto";
import { AppError } from "@piaoju/runtime";
import type { IssuanceContext } from "./context.ts";
import { type ReceiptView, receiptView } from "./views.ts";

/** Reading receipts: by id, by business serial, the stored document, and 查验 by the payer. */

export async function findReceipt(ctx: IssuanceContext, id: string): Promise<ReceiptView | undefined> {
  const receipt = await ctx.prisma.receipt.findUnique({ where: { id } });
  return receipt ? receiptView(receipt) : undefined;
}

export async function findBySerial(
  ctx: IssuanceContext,
  agencyCode: string,
  bizSerialNo: string,
): Promise<ReceiptView | undefined> {
  const receipt = await ctx.prisma.receipt.findUnique({
    where: { agencyCode_bizSerialNo: { agencyCode, bizSerialNo } },
  });
  return receipt ? receiptView(receipt) : undefined;
}

/**
 * The document as served: the stored unsigned bytes with the signatures made so far inside
 * `<EInvoiceSignature>` (agency once signed, finance once supervised). Taking that element out
 * gives the stored bytes back, whose SM3 is the receipt's documentSm3.
 */
export async function receiptDocument(
  ctx: IssuanceContext,
  id: string,
): Promise<{ agencyCode: string; document: Buffer } | undefined> {
  const receipt = await ctx.prisma.receipt.findUnique({
    where: { id },
    select: { agencyCode: true, document: true, agencySignature: true, financeSignature: true },
  });
  if (!receipt) return undefined;
  const stamp = (der: Uint8Array | null) =>
    der ? signatureStamp(Buffer.from(der).toString("base64")) : undefined;
  return {
    agencyCode: receipt.agencyCode,
    document: withSignatures(Buffer.from(receipt.document), {
      agency: stamp(receipt.agencySignature),
      finance: stamp(receipt.financeSignature),
    }),
  };
}

/** 查验: a payer checks code + number + check code; the answer is the status, nothing about the payer. */
export async function verifyReceipt(
  ctx: IssuanceContext,
  q: { billCode: string; number: string; checkCode: string },
) {
  const receipt = await ctx.prisma.receipt.findUnique({
    where: { billCode_number: { billCode: q.billCode, number: BigInt(q.number) } },
    select: { status: true, checkCode: true },
  });
  // Unknown number and wrong check code answer alike, so numbers cannot be probed.
  if (!receipt || receipt.checkCode !== q.checkCode) {
    throw new AppError("not_found", `no receipt ${q.billCode}/${q.number} with that check code`, {
      code: "RECEIPT_UNKNOWN",
    });
  }
  return { billCode: q.billCode, number: q.number, status: receipt.status };
}
