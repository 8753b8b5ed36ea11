import { agencyCode, billCode, issuingPointCode, payerSchema, paymentItemSchema } from "@piaoju/contracts";
import type { FieldIssue } from "@piaoju/runtime/errors";
import { z } from "zod";
import { normalizeQuantity } from "./money.ts";
import { payerCodeProblem } from "./payer.ts";

/** 业务流水号: the business system's serial number for the payment, the idempotency key per agency. */
export const bizSerialNo = z
  .string()
  .regex(/^[0-9A-Za-z_.:-]{1,64}$/, "a business serial number is 1-64 letters, digits, _ . : or -");

const fen = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/**
 * The shape of a request to issue a receipt, from the API and from payment events alike.
 * Amounts are integer fen; quantities are decimal strings (up to 4 places) so that no float
 * ever touches money. Rules across fields are in `checkIssueRequest`, rules against the
 * agency's reference data in `checkAgainstReference`.
 */
export const issueRequestShape = z.object({
  agencyCode,
  issuingPointCode,
  billCode,
  bizSerialNo,
  payer: payerSchema.extend({
    code: z.string().regex(/^[0-9A-Z]{18}$/, "18 digits or capital letters"),
    name: z.string().trim().min(1).max(200),
    phone: z
      .string()
      .regex(/^\+?[0-9 -]{5,20}$/, "5-20 digits")
      .optional(),
    email: z.email().max(200).optional(),
  }),
  items: z
    .array(paymentItemSchema.extend({ amountFen: fen }))
    .min(1)
    .max(100),
  totalFen: fen,
  payMode: z.string().trim().min(1).max(32).optional(),
  remark: z.string().max(500).optional(),
  handlingPerson: z.string().trim().min(1).max(64),
  checker: z.string().trim().min(1).max(64).optional(),
});

export type IssueRequest = z.infer<typeof issueRequestShape>;

/** Rules across fields; paths are relative to the request (the API prefixes them with `body`). */
export function checkIssueRequest(request: IssueRequest): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const codeProblem = payerCodeProblem(request.payer.type, request.payer.code);
  if (codeProblem) {
    issues.push({
      field: "payer.code",
      rule: request.payer.type === 1 ? "id_card_number" : "unified_social_credit_code",
      message: codeProblem,
    });
  }
  const sum = request.items.reduce((acc, item) => acc + BigInt(item.amountFen), 0n);
  if (sum !== BigInt(request.totalFen)) {
    issues.push({
      field: "totalFen",
      rule: "total_equals_sum_of_items",
      message: `totalFen ${request.totalFen} is not the sum of the items' amountFen (${sum})`,
    });
  }
  return issues;
}

/**
 * The request in one canonical form (fixed key order, normalised quantities, no absent keys):
 * two requests that mean the same receipt have the same fingerprint, so a retry is recognised
 * and a different request under the same serial number is not.
 */
export function canonicalRequest(request: IssueRequest): string {
  const p = request.payer;
  return JSON.stringify([
    request.agencyCode,
    request.issuingPointCode,
    request.billCode,
    request.bizSerialNo,
    [p.type, p.code, p.name, p.account ?? null, p.bank ?? null, p.phone ?? null, p.email ?? null],
    request.items.map((i) => [i.itemCode, normalizeQuantity(i.quantity), i.amountFen]),
    request.totalFen,
    request.payMode ?? null,
    request.remark ?? null,
    request.handlingPerson,
    request.checker ?? null,
  ]);
}
