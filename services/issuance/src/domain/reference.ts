import type { FieldIssue } from "@piaoju/runtime/errors";
import { amountForStandard } from "./money.ts";
import type { IssueRequest } from "./request.ts";

/** 收入项目: what the agency may charge for, with its standard (收费标准) when one applies. */
export interface IncomeItem {
  code: string;
  name: string;
  unit: string;
  standardFen: bigint | null;
  enabled: boolean;
}

/** 开票点: a place (window, machine, system) that issues receipts from its own numbers. */
export interface IssuingPoint {
  code: string;
  name: string;
  enabled: boolean;
}

/**
 * Refuses what the agency's reference data does not allow: an unknown or disabled issuing
 * point or item, and an amount that is not quantity × standard where a standard applies.
 */
export function checkAgainstReference(
  request: IssueRequest,
  point: IssuingPoint | undefined,
  items: ReadonlyMap<string, IncomeItem>,
): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (!point?.enabled) {
    issues.push({
      field: "issuingPointCode",
      rule: "issuing_point_enabled",
      message: point
        ? `issuing point ${request.issuingPointCode} is disabled`
        : `issuing point ${request.issuingPointCode} does not exist for agency ${request.agencyCode}`,
    });
  }
  request.items.forEach((line, index) => {
    const item = items.get(line.itemCode);
    if (!item?.enabled) {
      issues.push({
        field: `items.${index}.itemCode`,
        rule: "income_item_enabled",
        message: item
          ? `income item ${line.itemCode} is disabled`
          : `income item ${line.itemCode} does not exist for agency ${request.agencyCode}`,
      });
      return;
    }
    if (item.standardFen !== null) {
      const expected = amountForStandard(line.quantity, item.standardFen);
      if (expected !== BigInt(line.amountFen)) {
        issues.push({
          field: `items.${index}.amountFen`,
          rule: "amount_equals_quantity_times_standard",
          message: `amountFen ${line.amountFen} is not quantity ${line.quantity} × standard ${item.standardFen} fen (${expected})`,
        });
      }
    }
  });
  return issues;
}
