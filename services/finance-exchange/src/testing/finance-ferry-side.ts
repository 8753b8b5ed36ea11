import { type AnswerMessage, requestMessage } from "../domain/messages.ts";
import { FerrySpool, type FerrySpoolOptions } from "../transport/ferry-spool.ts";
import { answerRequest, type FinanceApi } from "../transport/finance-api.ts";
import { FinanceUnavailable } from "../transport/transport.ts";

/**
 * Finance's end of the boundary ferry, for tests (and an agency's test environment): opens
 * the daemon's sealed requests, answers each with finance's API (the simulator over HTTP),
 * and seals the answer back. Idempotent by message id: a request seen again (a duplicate
 * file, a resend) gets the answer already given. While finance is down a request file stays
 * in the spool and is tried again, so the outage is felt on this side as on the real one.
 */
export class FinanceFerrySide {
  readonly #spool: FerrySpool;
  readonly #answered = new Map<string, AnswerMessage>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #running: Promise<void> = Promise.resolve();
  readonly rejections: Array<{ fileName: string; reason: string }> = [];
  readonly counts = { requests: 0, duplicates: 0, unavailable: 0 };

  constructor(
    private readonly api: FinanceApi,
    spool: Omit<FerrySpoolOptions, "onRejected">,
    private readonly pollMs = 50,
  ) {
    this.#spool = new FerrySpool({ ...spool, onRejected: (r) => void this.rejections.push(r) });
  }

  async start(): Promise<void> {
    await this.#spool.recover();
    const tick = () => {
      if (this.#stopped) return;
      this.#running = this.#serve()
        .catch(() => {})
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, this.pollMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  async #serve(): Promise<void> {
    for (const file of await this.#spool.read()) {
      const parsed = requestMessage.safeParse(file.content);
      if (!parsed.success) {
        await this.#spool.reject(file.fileName, file.bytes, "not a request message");
        continue;
      }
      const request = parsed.data;
      let answer = this.#answered.get(request.id);
      if (answer) this.counts.duplicates++;
      else {
        try {
          answer = await answerRequest(this.api, request);
        } catch (error) {
          if (error instanceof FinanceUnavailable) {
            this.counts.unavailable++;
            continue; // the file stays; asked again next round
          }
          throw error;
        }
        this.counts.requests++;
        this.#answered.set(request.id, answer);
      }
      await this.#spool.write(answer.id, answer);
      await file.settle();
    }
  }
}
