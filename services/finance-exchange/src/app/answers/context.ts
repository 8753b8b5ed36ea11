import type { Logger } from "@piaoju/runtime";

/** What the answer handlers need of the exchange. */
export interface AnswerContext {
  clock: () => Date;
  logger: Logger;
  /** Finance's signing certificate fingerprint, when known: downloaded receipts must carry it. */
  financeCertificateSm3?: string | undefined;
}
