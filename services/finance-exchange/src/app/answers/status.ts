import { type AnswerMessage, parseAnswerBody } from "../../domain/messages.ts";
import type { AnswerContext } from "./context.ts";

/** Answers to status updates (冲红, 换开, 作废 told to finance). */

/** Finance applied the status (kept on the request row); a refusal is logged for an operator to look at. */
export function statusAnswer(ctx: AnswerContext, requestId: string, result: AnswerMessage["result"]): void {
  const refused = result.ok
    ? parseAnswerBody("statusUpdate", result.body).results.filter((r) => r.outcome === "REFUSED")
    : [{ code: result.code, reason: result.message }];
  if (refused.length > 0) ctx.logger.warn({ requestId, refused }, "finance refused a status update");
}
