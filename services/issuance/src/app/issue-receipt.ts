import { randomUUID } from "node:crypto";
import { type Emit, ReceiptRequested } from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import { AppError, type FieldIssue } from "@piaoju/runtime";
import type { ReceiptLine } from "../domain/red-flush.ts";
import { checkAgainstReference, type IncomeItem, type IssuingPoint } from "../domain/reference.ts";
import { canonicalRequest, type IssueRequest } from "../domain/request.ts";
import type { Prisma, Receipt } from "../generated/prisma/client.ts";
import { audit, type IssuanceContext, type ReceiptSource, type Tx } from "./context.ts";
import { allocateNumber } from "./numbers.ts";
import { composeReceipt } from "./receipt-content.ts";
import { formatNumber, type ReceiptView, receiptView } from "./views.ts";

export interface IssueOutcome {
  receipt: ReceiptView;
  /** False when the (agency, serial) already had this receipt: a retry. */
  created: boolean;
}

/** What a request names, as the database has it (undefined: not there). */
interface Reference {
  point: IssuingPoint | undefined;
  items: Map<string, IncomeItem>;
  billKind: { name: string } | undefined;
}

/**
 * 开具: issues a receipt for a request, once per (agency, business serial number). A retry of the
 * same request returns the receipt already issued; a different request under the same serial
 * is refused. Concurrent duplicates: the serial's advisory lock makes the second wait and then
 * find the first; the unique index stays the last word if anything slips past.
 */
export async function issueReceipt(
  ctx: IssuanceContext,
  actor: string,
  source: ReceiptSource,
  request: IssueRequest,
): Promise<IssueOutcome> {
  try {
    return await ctx.inTransaction((tx, emit) => issueReceiptIn(ctx, tx, emit, actor, source, request));
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const existing = await ctx.prisma.receipt.findUnique({
      where: {
        agencyCode_bizSerialNo: { agencyCode: request.agencyCode, bizSerialNo: request.bizSerialNo },
      },
    });
    if (!existing) throw error;
    return { receipt: sameOrRefuse(existing, fingerprint(request)), created: false };
  }
}

/** The issue inside a transaction of the caller's (a payment taken from the bus). */
export async function issueReceiptIn(
  ctx: IssuanceContext,
  tx: Tx,
  emit: Emit,
  actor: string,
  source: ReceiptSource,
  request: IssueRequest,
): Promise<IssueOutcome> {
  const requestSm3 = fingerprint(request);
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`receipt:${request.agencyCode}:${request.bizSerialNo}`}, 0))`;
  const existing = await tx.receipt.findUnique({
    where: { agencyCode_bizSerialNo: { agencyCode: request.agencyCode, bizSerialNo: request.bizSerialNo } },
  });
  if (existing) return { receipt: sameOrRefuse(existing, requestSm3), created: false };

  const { point, items, billKind } = await reference(tx, request);
  refuse(checkAgainstReference(request, point, items));

  const number = formatNumber(await allocateNumber(tx, request));
  const issuedAt = ctx.clock();
  const totalFen = BigInt(request.totalFen);
  const lines: ReceiptLine[] = request.items.map((line) => {
    const item = items.get(line.itemCode)!;
    return {
      itemCode: item.code,
      itemName: item.name,
      unit: item.unit,
      quantity: line.quantity,
      standardFen: item.standardFen === null ? null : Number(item.standardFen),
      amountFen: line.amountFen,
    };
  });
  const { checkCode, checkCodeKeyId, document, documentSm3 } = composeReceipt(ctx, {
    billName: billKind?.name,
    billCode: request.billCode,
    number,
    totalFen,
    issuedAt,
    agencyCode: request.agencyCode,
    payer: request.payer,
    payMode: request.payMode,
    bizSerialNo: request.bizSerialNo,
    remark: request.remark,
    handlingPerson: request.handlingPerson,
    checker: request.checker,
    lines,
  });
  const receipt = await tx.receipt.create({
    data: {
      id: randomUUID(),
      agencyCode: request.agencyCode,
      bizSerialNo: request.bizSerialNo,
      issuingPointCode: request.issuingPointCode,
      billCode: request.billCode,
      number: BigInt(number),
      checkCode,
      checkCodeKeyId,
      status: "REQUESTED",
      source,
      totalFen,
      payerType: request.payer.type,
      payerCode: request.payer.code,
      payerName: request.payer.name,
      issuedAt,
      requestSm3,
      request: JSON.parse(JSON.stringify(request)) as Prisma.InputJsonValue,
      document: new Uint8Array(document),
      documentSm3,
      createdBy: actor,
      kind: "BLUE",
      lines: lines as unknown as Prisma.InputJsonValue,
    },
  });
  await audit(tx, actor, "receipt.request", `receipt:${receipt.id}`, {
    bizSerialNo: request.bizSerialNo,
    billCode: request.billCode,
    number,
    source,
  });
  emit(ReceiptRequested, {
    receiptId: receipt.id,
    agencyCode: request.agencyCode,
    issuingPointCode: request.issuingPointCode,
    bizSerialNo: request.bizSerialNo,
    billCode: request.billCode,
    number,
    checkCode,
    totalFen: request.totalFen,
    payerType: request.payer.type,
    issuedAt: issuedAt.toISOString(),
    documentSm3,
    document: document.toString("base64"),
    kind: "blue",
  });
  return { receipt: receiptView(receipt), created: true };
}

/** What a request names, read in the receipt's transaction: its point, items and bill kind. */
async function reference(tx: Tx, request: IssueRequest): Promise<Reference> {
  const point = await tx.issuingPoint.findUnique({
    where: { agencyCode_code: { agencyCode: request.agencyCode, code: request.issuingPointCode } },
  });
  const itemRows = await tx.incomeItem.findMany({
    where: { agencyCode: request.agencyCode, code: { in: request.items.map((i) => i.itemCode) } },
  });
  const billKind = await tx.billKind.findUnique({
    where: { agencyCode_billCode: { agencyCode: request.agencyCode, billCode: request.billCode } },
  });
  return {
    point: point ?? undefined,
    items: new Map<string, IncomeItem>(itemRows.map((i) => [i.code, i])),
    billKind: billKind ?? undefined,
  };
}

function refuse(issues: FieldIssue[]): void {
  if (issues.length > 0) throw AppError.validation(issues.map((i) => ({ ...i, field: `body.${i.field}` })));
}

function fingerprint(request: IssueRequest): string {
  return sm3(canonicalRequest(request)).toString("hex");
}

function sameOrRefuse(existing: Receipt, requestSm3: string): ReceiptView {
  if (existing.requestSm3 === requestSm3) return receiptView(existing);
  throw new AppError(
    "conflict",
    // Which receipt holds the serial is not said: it may be another issuing point's, outside the caller's.
    `business serial number ${existing.bizSerialNo} was used for a different request`,
    { code: "BIZ_SERIAL_REUSED" },
  );
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== "object") return false;
  return e.code === "P2002" || e.code === "23505" || (e.cause !== undefined && isUniqueViolation(e.cause));
}
