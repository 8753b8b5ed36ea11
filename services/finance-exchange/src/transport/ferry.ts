import { type AnswerMessage, answerMessage, type RequestMessage } from "../domain/messages.ts";
import type { FerrySpool } from "./ferry-spool.ts";
import { type ArrivedAnswer, type FinanceTransport, FinanceUnavailable } from "./transport.ts";

/**
 * The boundary ferry as a transport: a request becomes a sealed file in the outgoing spool
 * (named by its message id, so writing it again replaces it), and finance's answers come
 * back as sealed files in the incoming spool. No answer in the call: the daemon resends a
 * request that stays unanswered, and applies an answer once, by its request id.
 */
export class FerryTransport implements FinanceTransport {
  readonly name = "ferry" as const;

  constructor(private readonly spool: FerrySpool) {}

  async send(message: RequestMessage): Promise<undefined> {
    try {
      await this.spool.write(message.id, message);
    } catch (cause) {
      throw new FinanceUnavailable(`the ferry spool is not writable: ${(cause as Error).message}`, { cause });
    }
    return undefined;
  }

  async receive(): Promise<ArrivedAnswer[]> {
    const answers: ArrivedAnswer[] = [];
    for (const file of await this.spool.read()) {
      const parsed = answerMessage.safeParse(file.content);
      if (!parsed.success) {
        await this.spool.reject(
          file.fileName,
          file.bytes,
          `not a finance answer: ${parsed.error.message.slice(0, 300)}`,
        );
        continue;
      }
      answers.push({ answer: parsed.data as AnswerMessage, settle: file.settle });
    }
    return answers;
  }

  async close(): Promise<void> {}
}
