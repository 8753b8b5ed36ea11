import { receiptApi } from "@piaoju/contracts";
import type { z } from "zod";
import { normalizeQuantity } from "./money.ts";

export { bizSerialNo } from "@piaoju/contracts";

/**
 * A request to issue a receipt, from the API and from payment events alike: the receipt API's
 * internal command (packages/contracts), strict, with its rules across fields (payer code by
 * type, total = sum of lines). Amounts are integer fen; quantities are decimal strings (up to 4
 * places) so that no float ever touches money. Rules against the agency's reference data are
 * in `checkAgainstReference`.
 */
export const issueRequestShape = receiptApi.issueReceiptCommand;

export type IssueRequest = z.infer<typeof issueRequestShape>;

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
