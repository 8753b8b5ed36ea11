import { sm3 } from "@piaoju/gm-crypto";
import { newCheckCode } from "../domain/check-code.ts";
import { buildReceiptDocument, type ReceiptDocumentInput, shanghaiDateTime } from "../domain/document.ts";
import type { ReceiptLine } from "../domain/red-flush.ts";
import type { IssueRequest } from "../domain/request.ts";
import type { Receipt } from "../generated/prisma/client.ts";
import type { IssuanceContext, Tx } from "./context.ts";

/** What a receipt prints, shared by issuing, red-flushing and announcing it: lines, items, bill name. */

/** When stock never said the bill kind's name, the document still needs an EInvoiceName. */
const DEFAULT_BILL_NAME = "财政电子票据";

/** The billing name used when stock never told issuance the bill kind's name. */
export function billNameOr(name: string | undefined): string {
  return name ?? DEFAULT_BILL_NAME;
}

/** A printed line as the document builder takes it. */
export function documentItem(line: ReceiptLine) {
  return {
    code: line.itemCode,
    name: line.itemName,
    unit: line.unit,
    quantity: line.quantity,
    standardFen: line.standardFen === null ? null : BigInt(line.standardFen),
    amountFen: BigInt(line.amountFen),
  };
}

/** The printed lines: kept at issue time; receipts from before that was kept read the items now. */
export async function linesOf(tx: Tx, receipt: Receipt): Promise<ReceiptLine[]> {
  if (receipt.lines) return receipt.lines as unknown as ReceiptLine[];
  const request = receipt.request as unknown as IssueRequest;
  const items = await tx.incomeItem.findMany({
    where: { agencyCode: receipt.agencyCode, code: { in: request.items.map((i) => i.itemCode) } },
  });
  const byCode = new Map(items.map((i) => [i.code, i]));
  return request.items.map((line) => {
    const item = byCode.get(line.itemCode);
    return {
      itemCode: line.itemCode,
      itemName: item?.name ?? line.itemCode,
      unit: item?.unit ?? "",
      quantity: line.quantity,
      standardFen: item?.standardFen == null ? null : Number(item.standardFen),
      amountFen: line.amountFen,
    };
  });
}

/**
 * A new receipt's check code (keyed, under the current key) and its document, with the document's
 * SM3: what issuing and red-flushing both make, from the same fields.
 */
export function composeReceipt(
  ctx: Pick<IssuanceContext, "checkCodeKeys">,
  input: Omit<ReceiptDocumentInput, "checkCode" | "billName" | "items"> & {
    billName: string | undefined;
    lines: readonly ReceiptLine[];
    /** The payer code the check code is keyed on, when not the document's (a red receipt's: the original's). */
    checkCodePayerCode?: string;
  },
): { checkCode: string; checkCodeKeyId: string; document: Buffer; documentSm3: string } {
  const { checkCode, checkCodeKeyId } = newCheckCode(ctx.checkCodeKeys, {
    billCode: input.billCode,
    number: input.number,
    issueDate: shanghaiDateTime(input.issuedAt).date,
    totalFen: input.totalFen,
    agencyCode: input.agencyCode,
    payerCode: input.checkCodePayerCode ?? input.payer.code,
    bizSerialNo: input.bizSerialNo,
  });
  const { lines, billName, checkCodePayerCode: _, ...fields } = input;
  const document = buildReceiptDocument({
    ...fields,
    billName: billNameOr(billName),
    checkCode,
    items: lines.map(documentItem),
  });
  return { checkCode, checkCodeKeyId, document, documentSm3: sm3(document).toString("hex") };
}
