import type { AnswerMessage, RequestMessage } from "../domain/messages.ts";

/** Finance cannot be reached now (network, 5xx, downtime): the request stays queued and is retried. */
export class FinanceUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FinanceUnavailable";
  }
}

/** An answer that arrived on its own (the ferry), with what to do once it has been applied. */
export interface ArrivedAnswer {
  readonly answer: AnswerMessage;
  /** Called after the answer's effects committed: the transport forgets it (moves the file away). */
  settle(): Promise<void>;
}

/**
 * How requests reach finance and answers come back. Direct HTTPS answers at once; the
 * boundary ferry answers later, through `receive()`. The daemon is written against this only.
 */
export interface FinanceTransport {
  readonly name: "http" | "ferry";
  /** Delivers a request. Returns the answer when the transport is synchronous; throws FinanceUnavailable. */
  send(message: RequestMessage): Promise<AnswerMessage | undefined>;
  /** Answers that arrived since the last call (always empty for a synchronous transport). */
  receive(): Promise<ArrivedAnswer[]>;
  close(): Promise<void>;
}

/** No finance configured yet (a first embedded start): every request stays queued until it is. */
export class UnconfiguredTransport implements FinanceTransport {
  readonly name = "http" as const;

  async send(): Promise<AnswerMessage | undefined> {
    throw new FinanceUnavailable("finance is not configured (FINANCE_URL)");
  }

  async receive(): Promise<ArrivedAnswer[]> {
    return [];
  }

  async close(): Promise<void> {}
}
