/** A receipt as this agency submitted it for supervision, with what finance answered (if it did). */
export interface IssuedHere {
  receiptId: string;
  billCode: string;
  number: string;
  issuedAt: string;
  status: "QUEUED" | "BATCHED" | "SUPERVISED" | "REJECTED";
  documentSm3: string;
  agencySignatureSm3: string;
  financeSignatureSm3?: string | undefined;
  rejectionCode?: string | undefined;
}

/** A receipt finance lists as supervised (downloaded), with the outcome of checking its signatures. */
export interface SupervisedThere {
  receiptId: string;
  billCode: string;
  number: string;
  financeRef: string;
  supervisedAt: string;
  documentSm3: string;
  agencySignatureSm3: string;
  financeSignatureSm3: string;
  /** Why the signatures do not verify, when they do not. */
  signatureProblem?: string | undefined;
  archivedAs?: string | undefined;
}

export type DifferenceKind =
  | "MISSING_AT_FINANCE"
  | "UNKNOWN_HERE"
  | "REJECTED_HERE_SUPERVISED_THERE"
  | "DOCUMENT_MISMATCH"
  | "AGENCY_SIGNATURE_MISMATCH"
  | "FINANCE_SIGNATURE_MISMATCH"
  | "SIGNATURE_INVALID";

export interface Difference {
  kind: DifferenceKind;
  billCode: string;
  number: string;
  receiptId?: string;
  financeRef?: string;
  /** What an agency's ticket manager reads: what differs, the likely cause, what to do. */
  explanation: string;
}

export interface ReconciliationResult {
  summary: {
    issuedHere: number;
    supervisedHere: number;
    rejectedHere: number;
    pendingHere: number;
    supervisedThere: number;
    matched: number;
    differences: number;
    byKind: Partial<Record<DifferenceKind, number>>;
  };
  differences: Difference[];
}

const keyOf = (r: { billCode: string; number: string }) => `${r.billCode}/${r.number}`;

/**
 * 对账: compares one day's receipts issued here with those finance supervised for that day,
 * number by number, and explains every difference. Pure: the caller fetches both sides.
 */
export function reconcile(
  here: readonly IssuedHere[],
  there: readonly SupervisedThere[],
): ReconciliationResult {
  const theirs = new Map<string, SupervisedThere>();
  for (const t of there) theirs.set(keyOf(t), t);
  const ours = new Map<string, IssuedHere>();
  for (const h of here) ours.set(keyOf(h), h);
  const differences: Difference[] = [];
  let matched = 0;

  for (const h of ours.values()) {
    const t = theirs.get(keyOf(h));
    if (!t) {
      if (h.status !== "REJECTED") differences.push(missingAtFinance(h));
      continue;
    }
    const found = compareOne(h, t);
    if (found.length === 0) matched++;
    differences.push(...found);
  }
  for (const t of theirs.values()) {
    if (ours.has(keyOf(t))) continue;
    differences.push({
      kind: "UNKNOWN_HERE",
      billCode: t.billCode,
      number: t.number,
      receiptId: t.receiptId,
      financeRef: t.financeRef,
      explanation:
        `finance supervised ${keyOf(t)} (ref ${t.financeRef}, ${t.supervisedAt}) but this platform never ` +
        "submitted it: a receipt issued outside the platform with this agency's numbers, or a number " +
        "misused. Check who issued it before the audit (审验).",
    });
  }
  const byKind: Partial<Record<DifferenceKind, number>> = {};
  for (const d of differences) byKind[d.kind] = (byKind[d.kind] ?? 0) + 1;
  return {
    summary: {
      issuedHere: ours.size,
      supervisedHere: [...ours.values()].filter((h) => h.status === "SUPERVISED").length,
      rejectedHere: [...ours.values()].filter((h) => h.status === "REJECTED").length,
      pendingHere: [...ours.values()].filter((h) => h.status === "QUEUED" || h.status === "BATCHED").length,
      supervisedThere: theirs.size,
      matched,
      differences: differences.length,
      byKind,
    },
    differences: differences.sort((a, b) => keyOf(a).localeCompare(keyOf(b)) || a.kind.localeCompare(b.kind)),
  };
}

function missingAtFinance(h: IssuedHere): Difference {
  const base = {
    kind: "MISSING_AT_FINANCE" as const,
    billCode: h.billCode,
    number: h.number,
    receiptId: h.receiptId,
  };
  if (h.status === "SUPERVISED") {
    return {
      ...base,
      explanation:
        `finance answered that it supervised ${keyOf(h)}, yet its list for the day does not have it: ` +
        "finance lost or removed the record. Ask finance to re-register it; the supervised copy is archived here.",
    };
  }
  return {
    ...base,
    explanation:
      `${keyOf(h)} was issued here at ${h.issuedAt} but finance never got it ` +
      `(it is ${h.status === "QUEUED" ? "still queued for upload" : "in an upload finance has not answered"}), ` +
      "e.g. finance or the ferry was down. It is sent again automatically; if it stays, check the exchange's queue.",
  };
}

function compareOne(h: IssuedHere, t: SupervisedThere): Difference[] {
  const base = { billCode: h.billCode, number: h.number, receiptId: h.receiptId, financeRef: t.financeRef };
  const found: Difference[] = [];
  if (h.status === "REJECTED") {
    found.push({
      ...base,
      kind: "REJECTED_HERE_SUPERVISED_THERE",
      explanation:
        `finance rejected ${keyOf(h)} here (${h.rejectionCode ?? "no code"}) and the receipt was voided, yet ` +
        `finance lists it as supervised (ref ${t.financeRef}). Ask finance to void it.`,
    });
  }
  if (h.documentSm3 !== t.documentSm3) {
    found.push({
      ...base,
      kind: "DOCUMENT_MISMATCH",
      explanation:
        `the document finance supervised for ${keyOf(h)} (SM3 ${t.documentSm3.slice(0, 16)}…) is not the one ` +
        `submitted here (SM3 ${h.documentSm3.slice(0, 16)}…): another receipt took the number, or the document changed.`,
    });
  }
  if (h.agencySignatureSm3 !== t.agencySignatureSm3) {
    found.push({
      ...base,
      kind: "AGENCY_SIGNATURE_MISMATCH",
      explanation: `the agency signature finance holds for ${keyOf(h)} is not the one this platform made.`,
    });
  }
  if (h.financeSignatureSm3 && h.financeSignatureSm3 !== t.financeSignatureSm3) {
    found.push({
      ...base,
      kind: "FINANCE_SIGNATURE_MISMATCH",
      explanation:
        `finance's signature on ${keyOf(h)} in the download differs from the one it returned at supervision: ` +
        "finance re-signed it (e.g. a new certificate). Both are kept; ask finance which is authoritative.",
    });
  }
  if (t.signatureProblem) {
    found.push({
      ...base,
      kind: "SIGNATURE_INVALID",
      explanation: `the downloaded ${keyOf(h)} does not verify: ${t.signatureProblem}. It was not archived.`,
    });
  }
  return found;
}

/** The report as a ticket manager reads it. */
export function renderReport(input: {
  agencyCode: string;
  day: string;
  createdAt: string;
  result: ReconciliationResult;
}): string {
  const s = input.result.summary;
  const lines = [
    `对账报告 reconciliation ${input.agencyCode} ${input.day} (made ${input.createdAt})`,
    `  issued here ${s.issuedHere} (supervised ${s.supervisedHere}, rejected ${s.rejectedHere}, pending ${s.pendingHere}); ` +
      `supervised at finance ${s.supervisedThere}; matched ${s.matched}; differences ${s.differences}`,
  ];
  for (const d of input.result.differences) {
    lines.push(`  - ${d.kind} ${d.billCode}/${d.number}${d.financeRef ? ` (finance ${d.financeRef})` : ""}`);
    lines.push(`      ${d.explanation}`);
  }
  return lines.join("\n");
}
