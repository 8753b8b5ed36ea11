import { AppError } from "@piaoju/runtime/errors";

/**
 * A receipt's states (domain.md, Lifecycle):
 *
 *   REQUESTED ─agencySign→ AGENCY_SIGNED ─superviseByFinance→ ISSUED
 *   ISSUED ─redFlush→ RED_FLUSHED            冲红: refunded; a negative receipt replaces it
 *   ISSUED ─exchangeForPaper→ PAPER_EXCHANGED  换开纸质票据; ─returnPaper→ ISSUED (paper taken back)
 *   ISSUED ─book→ BOOKED                       入账/报销 by the payer's organisation: no red-flush after
 *   REQUESTED | AGENCY_SIGNED ─void→ VOIDED    作废: never issued (signing or finance refused it)
 *
 * An issued receipt is corrected by red-flush, never voided: its number is used.
 */
export type ReceiptStatus =
  | "REQUESTED"
  | "AGENCY_SIGNED"
  | "ISSUED"
  | "RED_FLUSHED"
  | "PAPER_EXCHANGED"
  | "BOOKED"
  | "VOIDED";

export type ReceiptCommand =
  | { type: "agencySign" }
  | { type: "superviseByFinance" }
  | { type: "redFlush"; reason: string }
  | { type: "exchangeForPaper" }
  | { type: "returnPaper" }
  | { type: "book" }
  | { type: "void"; reason: string };

export type ReceiptCommandType = ReceiptCommand["type"];

const transitions: Record<ReceiptStatus, Partial<Record<ReceiptCommandType, ReceiptStatus>>> = {
  REQUESTED: { agencySign: "AGENCY_SIGNED", void: "VOIDED" },
  AGENCY_SIGNED: { superviseByFinance: "ISSUED", void: "VOIDED" },
  ISSUED: { redFlush: "RED_FLUSHED", exchangeForPaper: "PAPER_EXCHANGED", book: "BOOKED" },
  PAPER_EXCHANGED: { returnPaper: "ISSUED" },
  BOOKED: {},
  RED_FLUSHED: {},
  VOIDED: {},
};

/** Why a command is refused in a state, when a general "not allowed" would leave the clerk guessing. */
const refusals: Partial<Record<ReceiptStatus, Partial<Record<ReceiptCommandType, string>>>> = {
  BOOKED: {
    redFlush: "the receipt is booked (已入账) by the payer's organisation and can no longer be red-flushed",
  },
  PAPER_EXCHANGED: {
    redFlush: "the receipt was exchanged for paper; the refund follows the paper receipt's process",
  },
  ISSUED: { void: "an issued receipt is red-flushed, not voided" },
  RED_FLUSHED: { redFlush: "the receipt is already red-flushed" },
  REQUESTED: { redFlush: "the receipt is not issued yet (awaiting the agency's signature); void it instead" },
  AGENCY_SIGNED: {
    redFlush: "the receipt is not issued yet (awaiting finance's supervision); void it instead",
  },
};

export const allStatuses = Object.keys(transitions) as ReceiptStatus[];
export const allCommandTypes: readonly ReceiptCommandType[] = [
  "agencySign",
  "superviseByFinance",
  "redFlush",
  "exchangeForPaper",
  "returnPaper",
  "book",
  "void",
];

/** The state after `command`, or a conflict naming the state and the command. Pure. */
export function decide(status: ReceiptStatus, command: ReceiptCommand): ReceiptStatus {
  const next = transitions[status][command.type];
  if (next) return next;
  throw new AppError(
    "conflict",
    refusals[status]?.[command.type] ?? `a receipt in state ${status} cannot ${command.type}`,
    { code: "TRANSITION_REFUSED" },
  );
}

/** The commands a receipt in `status` accepts (for clients deciding which buttons to show). */
export function allowedCommands(status: ReceiptStatus): ReceiptCommandType[] {
  return allCommandTypes.filter((c) => transitions[status][c] !== undefined);
}
