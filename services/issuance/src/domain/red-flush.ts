import { AppError } from "@piaoju/runtime/errors";
import type { ReceiptStatus } from "./lifecycle.ts";

/** A receipt as the red-flush (冲红) rules see it. */
export interface FlushCandidate {
  status: ReceiptStatus;
  kind: "BLUE" | "RED";
}

/** The red receipt of an original that is not voided: in progress, or issued. */
export interface LiveRed {
  status: ReceiptStatus;
  reason: string | null;
}

/**
 * Why an original cannot be red-flushed now, or undefined when it can. Pure.
 *
 * Each refusal has its own code so a business system can act on it: exchanged for paper (the
 * paper receipt's refund process applies, seed 3(3)3), booked (报销/入账: refused outright),
 * already red-flushed, a red-flush still on its way through signing and supervision, or not
 * issued yet (void it instead). A red receipt is never itself red-flushed.
 */
export function redFlushRefusal(original: FlushCandidate, live: LiveRed | undefined): AppError | undefined {
  const refuse = (code: string, message: string) => new AppError("conflict", message, { code });
  if (original.kind === "RED") return refuse("RED_RECEIPT", "a red receipt cannot itself be red-flushed");
  if (live?.status === "ISSUED" || original.status === "RED_FLUSHED") {
    return refuse("ALREADY_RED_FLUSHED", "the receipt is already red-flushed");
  }
  if (live) {
    return refuse(
      "RED_FLUSH_IN_PROGRESS",
      "a red-flush of this receipt is on its way through signing and supervision",
    );
  }
  switch (original.status) {
    case "ISSUED":
      return undefined;
    case "PAPER_EXCHANGED":
      return refuse(
        "PAPER_EXCHANGED",
        "the receipt was exchanged for paper (换开); the refund follows the paper receipt's process",
      );
    case "BOOKED":
      return refuse(
        "BOOKED",
        "the receipt is booked (已入账/已报销) by the payer's organisation and can no longer be red-flushed",
      );
    case "VOIDED":
      return refuse("VOIDED", "the receipt is void; there is nothing to red-flush");
    default:
      return refuse(
        "NOT_ISSUED",
        `the receipt is not issued yet (${original.status}); a receipt is red-flushed once finance supervised it`,
      );
  }
}

/**
 * Whether a red-flush request repeats the one that made `live`: a retry gets the same red
 * receipt back, while a different request for an original already being flushed is refused.
 */
export function isSameRedFlush(live: LiveRed, reason: string): boolean {
  return live.reason === reason;
}

/** A printed line of a receipt. */
export interface ReceiptLine {
  itemCode: string;
  itemName: string;
  unit: string;
  quantity: string;
  standardFen: number | null;
  amountFen: number;
}

/** The red receipt's lines: the original's, amounts negated (the whole receipt is flushed). */
export function redLines(lines: readonly ReceiptLine[]): ReceiptLine[] {
  return lines.map((line) => ({ ...line, amountFen: -line.amountFen }));
}
