import type { AnswerMessage, RequestMessage } from "../domain/messages.ts";
import { answerRequest, type FinanceApi } from "./finance-api.ts";
import type { ArrivedAnswer, FinanceTransport } from "./transport.ts";

/** Direct HTTP(S) to finance: each request is answered in the call, or fails as FinanceUnavailable. */
export class DirectTransport implements FinanceTransport {
  readonly name = "http" as const;

  constructor(
    private readonly api: FinanceApi,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  send(message: RequestMessage): Promise<AnswerMessage> {
    return answerRequest(this.api, message, this.clock);
  }

  async receive(): Promise<ArrivedAnswer[]> {
    return [];
  }

  async close(): Promise<void> {}
}
