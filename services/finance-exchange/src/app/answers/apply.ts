import type { Emit } from "@piaoju/contracts";
import type { SqlExecutor } from "@piaoju/persistence";
import {
  type AnswerMessage,
  type Operation,
  parseAnswerBody,
  type RequestPayload,
} from "../../domain/messages.ts";
import type { RequestRow } from "../rows.ts";
import { auditAnswer } from "./audit.ts";
import { baseData } from "./base-data.ts";
import type { AnswerContext } from "./context.ts";
import { downloaded } from "./download.ts";
import { statusAnswer } from "./status.ts";
import { stockAnswer } from "./stock.ts";
import { batchRefused, supervised } from "./supervision.ts";

type Outcome = "done" | "ask-again";
type Handler = (
  ctx: AnswerContext,
  tx: SqlExecutor,
  emit: Emit,
  row: RequestRow,
  result: AnswerMessage["result"],
) => Promise<Outcome>;

/**
 * What each operation's answer does, one handler per operation (each in its own file). Every
 * handler runs inside the transaction that marks the request answered, so an answer applied twice
 * changes nothing.
 */
const handlers: { [O in Operation]: Handler } = {
  async supervise(ctx, tx, emit, row, result) {
    if (!result.ok) await batchRefused(ctx, tx, emit, row, result.code, result.message);
    else await supervised(ctx, tx, emit, row.id, parseAnswerBody("supervise", result.body));
    return "done";
  },
  async baseData(ctx, tx, emit, row, result) {
    if (result.ok)
      await baseData(
        ctx,
        tx,
        emit,
        row.payload.agencyCode as string,
        parseAnswerBody("baseData", result.body),
      );
    return "done";
  },
  applyStock: (ctx, tx, emit, row, result) =>
    stockAnswer(ctx, tx, emit, row.payload as RequestPayload<"applyStock">, result),
  async downloadSupervised(ctx, tx, emit, row, result) {
    if (result.ok) {
      await downloaded(
        ctx,
        tx,
        emit,
        row.payload as RequestPayload<"downloadSupervised">,
        parseAnswerBody("downloadSupervised", result.body),
      );
    }
    return "done";
  },
  async submitAudit(ctx, tx, _emit, row, result) {
    await auditAnswer(ctx, tx, row.payload as RequestPayload<"submitAudit">, result);
    return "done";
  },
  async statusUpdate(ctx, _tx, _emit, row, result) {
    statusAnswer(ctx, row.id, result);
    return "done";
  },
};

/** Applies an answer to its request's operation; "ask-again" when finance has not decided yet. */
export function applyAnswer(
  ctx: AnswerContext,
  tx: SqlExecutor,
  emit: Emit,
  row: RequestRow,
  answer: AnswerMessage,
): Promise<Outcome> {
  return handlers[row.operation](ctx, tx, emit, row, answer.result);
}
