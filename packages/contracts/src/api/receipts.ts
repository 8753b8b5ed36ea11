import { z } from "zod";
import { agencyCode, billCode, billNumber } from "../events/common.ts";
import { issuingPointCode } from "../events/stock.ts";
import {
  bankAccount,
  bizSerialNo,
  email,
  fen,
  freeText,
  payerCode,
  payerCodeProblem,
  personName,
  phone,
  referenceCode,
  singleLine,
} from "../fields/rules.ts";

/**
 * The receipt API's request bodies, written once: the gateway validates the business API with
 * them and builds the internal command from what they parsed; the receipt service validates the
 * same command with the same rules. Objects are strict: a field neither side knows is refused
 * (400 naming it), so nothing a caller adds (`source`, `status`, …) can reach a receipt.
 */

/** 交款人. `code` is checked by `type` (ID card number or unified social credit code) in `issueReceiptBody`. */
export const payer = z.strictObject({
  type: z.union([z.literal(1), z.literal(2)], "1 (a person) or 2 (an organisation)"),
  code: payerCode,
  name: personName(200),
  account: bankAccount.optional(),
  bank: singleLine(200).optional(),
  phone: phone.optional(),
  email: email.optional(),
});

/** A quantity: a decimal string with at most 4 places, more than zero. */
export const quantity = z
  .string()
  .regex(/^\d{1,9}(\.\d{1,4})?$/, "a decimal with at most 4 places")
  .refine((q) => /[1-9]/.test(q), "more than zero");

export const receiptLine = z.strictObject({
  itemCode: referenceCode,
  quantity,
  amountFen: fen,
});

/** What a business system sends to issue a receipt (POST /api/v1/receipts). The agency is the app's own. */
export const issueReceiptFields = {
  issuingPointCode,
  billCode,
  bizSerialNo,
  payer,
  items: z.array(receiptLine).min(1).max(100),
  totalFen: fen,
  payMode: singleLine(32).optional(),
  remark: freeText(500).optional(),
  handlingPerson: personName(64),
  checker: personName(64).optional(),
};

/** Rules across fields of an issue request: the payer code by type, the total against the lines. */
function checkAcrossFields(
  r: { payer: { type: 1 | 2; code: string }; items: { amountFen: number }[]; totalFen: number },
  ctx: z.RefinementCtx,
): void {
  const problem = payerCodeProblem(r.payer.type, r.payer.code);
  if (problem) {
    ctx.addIssue({
      code: "custom",
      path: ["payer", "code"],
      message: problem,
      params: { rule: r.payer.type === 1 ? "id_card_number" : "unified_social_credit_code" },
    });
  }
  const sum = r.items.reduce((acc, item) => acc + BigInt(item.amountFen), 0n);
  if (sum !== BigInt(r.totalFen)) {
    ctx.addIssue({
      code: "custom",
      path: ["totalFen"],
      message: `totalFen ${r.totalFen} is not the sum of the items' amountFen (${sum})`,
      params: { rule: "total_equals_sum_of_items" },
    });
  }
}

export const issueReceiptBody = z.strictObject(issueReceiptFields).superRefine(checkAcrossFields);
export type IssueReceiptBody = z.infer<typeof issueReceiptBody>;

/**
 * The internal command (POST /v1/receipts on the receipt service): the business body and the
 * agency, which the gateway takes from the app and never from the body. How the receipt came
 * (接口开具 or 在线开具) is the platform's: the receipt service reads it from the caller.
 */
export const issueReceiptCommand = z
  .strictObject({ agencyCode, ...issueReceiptFields })
  .superRefine(checkAcrossFields);
export type IssueReceiptCommand = z.infer<typeof issueReceiptCommand>;

export const reason = freeText(500, { required: true });

export const redFlushBody = z.strictObject({ reason, handlingPerson: personName(64) });
export const paperExchangeBody = z.strictObject({ paperBillCode: billCode, paperNumber: billNumber });
export const paperReturnBody = z.strictObject({ reason });
export const bookBody = z.strictObject({ bookedBy: singleLine(200) });
export const voidBody = z.strictObject({ reason });
