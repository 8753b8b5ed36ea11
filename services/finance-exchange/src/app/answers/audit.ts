import type { SqlExecutor } from "@piaoju/persistence";
import { type AnswerMessage, parseAnswerBody, type RequestPayload } from "../../domain/messages.ts";
import type { AnswerContext } from "./context.ts";

/** 审验 answers: finance's verdict on an audit report. */

export async function auditAnswer(
  ctx: AnswerContext,
  tx: SqlExecutor,
  p: RequestPayload<"submitAudit">,
  result: AnswerMessage["result"],
): Promise<void> {
  const outcome = result.ok
    ? parseAnswerBody("submitAudit", result.body)
    : { result: "REFUSED", code: result.code, message: result.message };
  await tx.query(`UPDATE audit_report SET status = $2, answer = $3::jsonb, answered_at = $4 WHERE id = $1`, [
    p.reportId,
    outcome.result,
    JSON.stringify(outcome),
    ctx.clock(),
  ]);
}
