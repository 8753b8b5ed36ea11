import { randomUUID } from "node:crypto";
import {
  type AnswerBody,
  type AnswerMessage,
  type Operation,
  type RequestMessage,
  type RequestPayload,
  requestPayloads,
} from "../domain/messages.ts";
import { FinanceUnavailable } from "./transport.ts";

/** Finance refused a request for a reason of its own (bad input, unknown agency): a final answer. */
export class FinanceRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "FinanceRefusal";
  }
}

/**
 * The finance e-receipt platform's services, as the daemon needs them. `messageId` is the
 * request's stable id, passed on so finance can recognise a request asked again.
 */
export interface FinanceApi {
  supervise(p: RequestPayload<"supervise">, messageId: string): Promise<AnswerBody<"supervise">>;
  baseData(p: RequestPayload<"baseData">, messageId: string): Promise<AnswerBody<"baseData">>;
  applyStock(p: RequestPayload<"applyStock">, messageId: string): Promise<AnswerBody<"applyStock">>;
  downloadSupervised(
    p: RequestPayload<"downloadSupervised">,
    messageId: string,
  ): Promise<AnswerBody<"downloadSupervised">>;
  submitAudit(p: RequestPayload<"submitAudit">, messageId: string): Promise<AnswerBody<"submitAudit">>;
  statusUpdate(p: RequestPayload<"statusUpdate">, messageId: string): Promise<AnswerBody<"statusUpdate">>;
}

/**
 * Answers one request message with finance's API: the same code serves the direct transport
 * and the finance side of the ferry. An outage propagates as FinanceUnavailable (no answer);
 * a refusal or a request that does not parse becomes a final `ok: false` answer.
 */
export async function answerRequest(
  api: FinanceApi,
  message: RequestMessage,
  clock: () => Date = () => new Date(),
): Promise<AnswerMessage> {
  const answer = (result: AnswerMessage["result"]): AnswerMessage => ({
    id: randomUUID(),
    requestId: message.id,
    operation: message.operation,
    answeredAt: clock().toISOString(),
    result,
  });
  const parsed = requestPayloads[message.operation].safeParse(message.payload);
  if (!parsed.success) {
    return answer({ ok: false, code: "BAD_REQUEST", message: parsed.error.message.slice(0, 1000) });
  }
  try {
    const body = await call(api, message.operation, parsed.data, message.id);
    return answer({ ok: true, body });
  } catch (error) {
    if (error instanceof FinanceRefusal)
      return answer({ ok: false, code: error.code, message: error.message });
    if (error instanceof FinanceUnavailable) throw error;
    throw new FinanceUnavailable(`finance failed: ${(error as Error).message}`, { cause: error });
  }
}

function call(api: FinanceApi, operation: Operation, payload: unknown, id: string): Promise<unknown> {
  switch (operation) {
    case "supervise":
      return api.supervise(payload as RequestPayload<"supervise">, id);
    case "baseData":
      return api.baseData(payload as RequestPayload<"baseData">, id);
    case "applyStock":
      return api.applyStock(payload as RequestPayload<"applyStock">, id);
    case "downloadSupervised":
      return api.downloadSupervised(payload as RequestPayload<"downloadSupervised">, id);
    case "submitAudit":
      return api.submitAudit(payload as RequestPayload<"submitAudit">, id);
    case "statusUpdate":
      return api.statusUpdate(payload as RequestPayload<"statusUpdate">, id);
  }
}
