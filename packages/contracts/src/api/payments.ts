import { z } from "zod";
import { agencyCode, billCode } from "../events/common.ts";
import { issuingPointCode } from "../events/stock.ts";
import { bizSerialNo, fen, freeText, payerCodeProblem, referenceCode, singleLine } from "../fields/rules.ts";
import { payer, receiptLine } from "./receipts.ts";

/**
 * The payment API's request bodies (缴款), written once: the gateway validates the business
 * API with them and relays only what they parsed; the payment service validates the command
 * with the same rules. The payer and the lines follow the receipt's rules, because the receipt
 * issued on payment is built from them: a payment the receipt service would refuse is refused
 * when it is asked for, not after the money came.
 */

const day = z.iso.date();

/** 滞纳金 (late-payment surcharge): accrues on the fine after the deadline. */
export const surcharge = z.strictObject({
  fineItemCode: referenceCode.describe("the item the surcharge runs on (the fine)"),
  deadline: day.describe("the last day to pay without surcharge (Asia/Shanghai)"),
  itemCode: referenceCode.describe("the income item the surcharge is receipted under"),
});

/** What a business system sends to create a payment notice (POST /api/v1/payments). The agency is the app's own. */
export const createPaymentFields = {
  bizSerialNo,
  decisionNo: singleLine(64).optional().describe("处罚决定书编号, for the bank's query-and-pay"),
  payer,
  items: z.array(receiptLine).min(1).max(100),
  surcharge: surcharge.optional(),
  issuingPointCode,
  billCode,
  remark: freeText(500).optional(),
};

function payerCodeValid(r: { payer: { type: 1 | 2; code: string } }, ctx: z.RefinementCtx): void {
  const problem = payerCodeProblem(r.payer.type, r.payer.code);
  if (problem) {
    ctx.addIssue({
      code: "custom",
      path: ["payer", "code"],
      message: problem,
      params: { rule: r.payer.type === 1 ? "id_card_number" : "unified_social_credit_code" },
    });
  }
}

export const createPaymentBody = z.strictObject(createPaymentFields).superRefine(payerCodeValid);
export type CreatePaymentBody = z.infer<typeof createPaymentBody>;

/** The internal command (POST /v1/payments on the payment service): the body and the app's agency. */
export const createPaymentCommand = z
  .strictObject({ agencyCode, ...createPaymentFields })
  .superRefine(payerCodeValid);
export type CreatePaymentCommand = z.infer<typeof createPaymentCommand>;

export const closePaymentBody = z.strictObject({ reason: freeText(200, { required: true }) });

/** 退款 by the original route, full or partial. */
export const refundBody = z.strictObject({
  refundSerialNo: z
    .string()
    .trim()
    .regex(/^[\w.-]{1,64}$/, "letters, digits, . _ - (at most 64)")
    .describe("the caller's refund serial (退款流水号): the same serial again is the same refund"),
  amountFen: fen,
  reason: freeText(200, { required: true }),
});

/** Where the results of an app's payments are pushed (HMAC-SM3 signed with the secret). */
export const callbackTargetFields = {
  url: z.url(),
  secret: z.string().min(16).max(128),
};
export const callbackTargetBody = z.strictObject(callbackTargetFields);
export const callbackTargetCommand = z.strictObject({ agencyCode, ...callbackTargetFields });
