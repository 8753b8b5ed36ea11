import type { z } from "zod";
import type { auditFinding } from "../api.ts";

export type AuditFinding = z.infer<typeof auditFinding>;

/** What finance knows about one number of the bill code when it checks an audit report (审验). */
export interface SupervisedNumber {
  number: string;
  voided: boolean;
  issuedInPeriod: boolean;
}

/**
 * Checks an agency's report of used, voided and destroyed numbers against the stock finance issued
 * and the receipts finance supervised. Pure: the caller loads the facts.
 */
export function auditFindings(input: {
  used: readonly string[];
  voided: readonly string[];
  destroyed: readonly string[];
  isIssued: (number: string) => boolean;
  supervised: ReadonlyMap<string, SupervisedNumber>;
}): AuditFinding[] {
  const findings: AuditFinding[] = [];
  const seen = new Map<string, string>();
  const lists = [
    ["used", input.used],
    ["voided", input.voided],
    ["destroyed", input.destroyed],
  ] as const;
  for (const [list, numbers] of lists) {
    for (const number of numbers) {
      const earlier = seen.get(number);
      if (earlier !== undefined) {
        findings.push({
          code: "DOUBLE_REPORTED",
          number,
          message: `reported ${earlier === list ? "twice as" : `as ${earlier} and as`} ${list}`,
        });
        continue;
      }
      seen.set(number, list);
      if (!input.isIssued(number)) {
        findings.push({
          code: "NOT_ISSUED",
          number,
          message: `reported ${list}, but finance never issued it to the agency`,
        });
        continue;
      }
      const receipt = input.supervised.get(number);
      if (list === "used" && !receipt) {
        findings.push({
          code: "NOT_SUPERVISED",
          number,
          message: "reported used, but finance never supervised a receipt with it",
        });
      }
      if (list !== "used" && receipt && !receipt.voided) {
        findings.push({
          code: "VOIDED_BUT_SUPERVISED",
          number,
          message: `reported ${list}, but it is a supervised receipt that was not voided`,
        });
      }
    }
  }
  for (const receipt of input.supervised.values()) {
    if (receipt.issuedInPeriod && !seen.has(receipt.number)) {
      findings.push({
        code: "UNREPORTED",
        number: receipt.number,
        message: "supervised in the period but missing from the report",
      });
    }
  }
  return findings;
}
