import { type Emit, ReceiptIssued, ReceiptSubmittedForSupervision } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import { decide } from "../domain/lifecycle.ts";
import type { IssueRequest } from "../domain/request.ts";
import type { Receipt } from "../generated/prisma/client.ts";
import { audit, type IssuanceContext, lockReceipt, type Tx } from "./context.ts";
import { linesOf } from "./receipt-content.ts";
import { flushOriginal } from "./red-flush.ts";
import { formatNumber, kindOf, ref } from "./views.ts";
import { voidReceiptIn } from "./void-receipt.ts";

/**
 * The signing gateway's and finance's answers (consumed from the bus, in the inbox's
 * transaction). Each locks the receipt's row and decides from its state (domain/lifecycle.ts):
 * an outcome that arrives twice, or after the receipt moved on, finds the state already past
 * it and changes nothing.
 */

/** What the signing gateway said (signing.ReceiptSigned). */
export interface AgencySignature {
  receiptId: string;
  agencyCode: string;
  documentSm3: string;
  signature: string;
  keyId: string;
  signedAt: string;
}

/** What finance said (finance.ReceiptSupervised). */
export interface FinanceSupervision {
  receiptId: string;
  agencyCode: string;
  billCode: string;
  number: string;
  financeSignature: string;
  financeRef: string;
  supervisedAt: string;
}

/** Finance's answer as the receipt's row keeps it. */
interface Supervision {
  financeSignature: Uint8Array<ArrayBuffer>;
  financeRef: string;
  supervisedAt: Date;
}

/** signing.ReceiptSigned: the agency's signature is on the document issuance built. */
export async function agencySigned(
  ctx: IssuanceContext,
  tx: Tx,
  emit: Emit,
  s: AgencySignature,
): Promise<void> {
  const receipt = await lockReceipt(tx, s.receiptId, s.agencyCode);
  if (receipt.status !== "REQUESTED") {
    // A repeat, or a receipt a clerk voided while the signer worked: nothing to do.
    if (receipt.status === "VOIDED") ctx.warn("signature for a voided receipt ignored", { id: receipt.id });
    return;
  }
  if (s.documentSm3 !== receipt.documentSm3) {
    // The signer signed other bytes: keep the receipt waiting and let an operator look (dead letter).
    throw new AppError(
      "conflict",
      `the signature of receipt ${receipt.id} covers document ${s.documentSm3}, not the one issued (${receipt.documentSm3})`,
      { code: "SIGNED_DOCUMENT_MISMATCH" },
    );
  }
  const signed = await tx.receipt.update({
    where: { id: receipt.id },
    data: {
      status: decide(receipt.status, { type: "agencySign" }),
      agencySignature: new Uint8Array(Buffer.from(s.signature, "base64")),
      agencySignedAt: new Date(s.signedAt),
      signingKeyId: s.keyId,
    },
  });
  await audit(tx, `signing:${s.keyId}`, "receipt.agency-sign", `receipt:${receipt.id}`, {
    documentSm3: s.documentSm3,
    signedAt: s.signedAt,
  });
  if (signed.financeSignature && signed.supervisedAt) {
    // Finance's answer came first (the bus does not order two topics): finish now.
    await issue(ctx, tx, emit, signed);
    return;
  }
  emit(ReceiptSubmittedForSupervision, {
    ...ref(signed),
    kind: kindOf(signed),
    ...(signed.originalReceiptId ? { originalReceiptId: signed.originalReceiptId } : {}),
    issuingPointCode: signed.issuingPointCode,
    checkCode: signed.checkCode,
    totalFen: Number(signed.totalFen),
    issuedAt: signed.issuedAt.toISOString(),
    document: Buffer.from(signed.document).toString("base64"),
    documentSm3: signed.documentSm3,
    agencySignature: s.signature,
  });
}

/** signing.ReceiptSigningRefused: the receipt never becomes formal; its number is voided. */
export async function signingRefused(
  ctx: IssuanceContext,
  tx: Tx,
  emit: Emit,
  r: { receiptId: string; agencyCode: string; code: string; reason: string },
): Promise<void> {
  const receipt = await lockReceipt(tx, r.receiptId, r.agencyCode);
  if (receipt.status !== "REQUESTED") return;
  await voidReceiptIn(ctx, tx, emit, receipt, "signing", `signing refused (${r.code}): ${r.reason}`);
}

/** finance.ReceiptSupervised: finance's signature is on it; the receipt is issued. */
export async function supervised(
  ctx: IssuanceContext,
  tx: Tx,
  emit: Emit,
  f: FinanceSupervision,
): Promise<void> {
  const receipt = await lockReceipt(tx, f.receiptId, f.agencyCode);
  if (receipt.billCode !== f.billCode || formatNumber(receipt.number) !== f.number) {
    throw new AppError(
      "conflict",
      `finance supervised ${f.billCode}/${f.number} under receipt ${receipt.id}, which is ${receipt.billCode}/${formatNumber(receipt.number)}`,
      { code: "SUPERVISED_NUMBER_MISMATCH" },
    );
  }
  const supervision: Supervision = {
    financeSignature: new Uint8Array(Buffer.from(f.financeSignature, "base64")),
    financeRef: f.financeRef,
    supervisedAt: new Date(f.supervisedAt),
  };
  if (receipt.status === "REQUESTED") {
    // Ahead of the agency's signature (another topic, another partition): keep it until that comes.
    if (!receipt.financeSignature) await tx.receipt.update({ where: { id: receipt.id }, data: supervision });
    return;
  }
  if (receipt.status !== "AGENCY_SIGNED") {
    if (receipt.status === "VOIDED") {
      ctx.warn("finance supervised a receipt already voided", {
        id: receipt.id,
        financeRef: f.financeRef,
      });
    }
    return;
  }
  // The supervision and the status in one statement: the hot path saves one per receipt.
  await issue(ctx, tx, emit, receipt, supervision);
}

/** finance.ReceiptSupervisionRejected: void, with finance's reason. */
export async function supervisionRejected(
  ctx: IssuanceContext,
  tx: Tx,
  emit: Emit,
  r: { receiptId: string; agencyCode: string; code: string; reason: string },
): Promise<void> {
  const receipt = await lockReceipt(tx, r.receiptId, r.agencyCode);
  if (receipt.status !== "REQUESTED" && receipt.status !== "AGENCY_SIGNED") return;
  await voidReceiptIn(ctx, tx, emit, receipt, "finance", `finance rejected (${r.code}): ${r.reason}`);
}

/**
 * AGENCY_SIGNED + finance's signature → ISSUED, announced with everything delivery needs.
 * `supervision` is finance's answer when it is not on the row yet (written with the status).
 */
async function issue(
  ctx: IssuanceContext,
  tx: Tx,
  emit: Emit,
  receipt: Receipt,
  supervision?: Supervision,
): Promise<void> {
  const issued = await tx.receipt.update({
    where: { id: receipt.id },
    data: { ...supervision, status: decide(receipt.status, { type: "superviseByFinance" }) },
  });
  await audit(tx, `finance:${issued.financeRef ?? ""}`, "receipt.supervise", `receipt:${issued.id}`, {
    financeRef: issued.financeRef,
    supervisedAt: issued.supervisedAt?.toISOString(),
  });
  const request = issued.request as unknown as IssueRequest;
  const lines = await linesOf(tx, issued);
  emit(ReceiptIssued, {
    ...ref(issued),
    kind: kindOf(issued),
    ...(issued.originalReceiptId ? { originalReceiptId: issued.originalReceiptId } : {}),
    bizSerialNo: issued.bizSerialNo,
    issuingPointCode: issued.issuingPointCode,
    checkCode: issued.checkCode,
    issuedAt: issued.issuedAt.toISOString(),
    supervisedAt: issued.supervisedAt!.toISOString(),
    totalFen: Number(issued.totalFen),
    payer: request.payer,
    items: lines.map((l) => ({
      itemCode: l.itemCode,
      itemName: l.itemName,
      unit: l.unit,
      quantity: l.quantity,
      ...(l.standardFen === null ? {} : { standardFen: l.standardFen }),
      amountFen: l.amountFen,
    })),
    ...(request.remark ? { remark: request.remark } : {}),
    handlingPerson: request.handlingPerson,
    ...(request.checker ? { checker: request.checker } : {}),
    document: Buffer.from(issued.document).toString("base64"),
    documentSm3: issued.documentSm3,
    agencySignature: Buffer.from(issued.agencySignature!).toString("base64"),
    financeSignature: Buffer.from(issued.financeSignature!).toString("base64"),
  });
  if (issued.kind === "RED" && issued.originalReceiptId) await flushOriginal(ctx, tx, emit, issued);
}
