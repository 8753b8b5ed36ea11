import { AppError } from "@piaoju/runtime";
import type { NontaxClearing, NontaxClearingRequest } from "../api.ts";
import { iso, type SimContext } from "./context.ts";

type Row = Record<string, unknown>;

/**
 * 资金清分指令: the agency sends its day's money of one finance special account; the non-tax
 * system passes it to the agency bank (ACCEPTED) and answers for the transfer later (DONE or
 * REFUSED). Idempotent by the agency's instruction id: a repeat is answered with the one stored
 * (200), one that differs from it is refused (409 CLEARING_CONFLICT); no instruction is taken twice.
 */
export async function receiveClearing(
  ctx: SimContext,
  agencyCode: string,
  input: NontaxClearingRequest,
): Promise<{ created: boolean; instruction: NontaxClearing }> {
  return ctx.db.transaction(async (tx) => {
    const [inserted] = await tx.query<Row>(
      `INSERT INTO nontax_clearing_instruction (instruction_id, agency_code, business_day, account_no, account_name,
         bank_name, amount_fen, items, status, received_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8::jsonb,'ACCEPTED',$9) ON CONFLICT (instruction_id) DO NOTHING RETURNING *`,
      [
        input.instructionId,
        agencyCode,
        input.businessDay,
        input.accountNo,
        input.accountName,
        input.bankName,
        input.amountFen,
        JSON.stringify(input.items),
        new Date(),
      ],
    );
    if (inserted) return { created: true, instruction: clearingOf(inserted) };
    const [existing] = await tx.query<Row>(
      "SELECT * FROM nontax_clearing_instruction WHERE instruction_id = $1",
      [input.instructionId],
    );
    if (
      !existing ||
      existing.agency_code !== agencyCode ||
      existing.account_no !== input.accountNo ||
      Number(existing.amount_fen) !== input.amountFen ||
      String(existing.business_day) !== input.businessDay
    ) {
      throw new AppError("conflict", `instruction ${input.instructionId} was sent otherwise`, {
        code: "CLEARING_CONFLICT",
      });
    }
    return { created: false, instruction: clearingOf(existing) };
  });
}

/** The instruction now; with auto-approval on, the bank finishes an accepted transfer by the time it is asked. */
export async function readClearing(
  ctx: SimContext,
  agencyCode: string,
  instructionId: string,
): Promise<NontaxClearing> {
  if (ctx.autoApprove) {
    await ctx.db.query(
      `UPDATE nontax_clearing_instruction SET status = 'DONE', settled_at = $3
        WHERE instruction_id = $1 AND agency_code = $2 AND status = 'ACCEPTED'`,
      [instructionId, agencyCode, new Date()],
    );
  }
  const [row] = await ctx.db.query<Row>(
    "SELECT * FROM nontax_clearing_instruction WHERE instruction_id = $1 AND agency_code = $2",
    [instructionId, agencyCode],
  );
  if (!row) {
    throw new AppError("not_found", `no instruction ${instructionId}`, {
      code: "UNKNOWN_CLEARING_INSTRUCTION",
    });
  }
  return clearingOf(row);
}

export async function listClearings(ctx: SimContext, status?: string): Promise<NontaxClearing[]> {
  const rows = await ctx.db.query<Row>(
    `SELECT * FROM nontax_clearing_instruction ${status ? "WHERE status = $1" : ""} ORDER BY received_at`,
    status ? [status] : [],
  );
  return rows.map(clearingOf);
}

/** The agency bank's answer on an accepted instruction: transferred, or refused with a reason. */
export async function settleClearing(
  ctx: SimContext,
  instructionId: string,
  outcome: "DONE" | "REFUSED",
  note?: string,
): Promise<NontaxClearing> {
  const [row] = await ctx.db.query<Row>(
    `UPDATE nontax_clearing_instruction SET status = $2, note = $3, settled_at = $4
      WHERE instruction_id = $1 AND status = 'ACCEPTED' RETURNING *`,
    [instructionId, outcome, note ?? null, new Date()],
  );
  if (!row) {
    throw new AppError("conflict", `instruction ${instructionId} is not being processed`, {
      code: "CLEARING_NOT_ACCEPTED",
    });
  }
  return clearingOf(row);
}

function clearingOf(r: Row): NontaxClearing {
  return {
    instructionId: String(r.instruction_id),
    agencyCode: String(r.agency_code),
    businessDay: String(r.business_day),
    accountNo: String(r.account_no),
    accountName: String(r.account_name),
    amountFen: Number(r.amount_fen),
    status: r.status as NontaxClearing["status"],
    ...(r.note ? { note: String(r.note) } : {}),
    receivedAt: iso(r.received_at),
  };
}
