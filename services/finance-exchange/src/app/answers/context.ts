import type { Logger } from "@piaoju/runtime";
import type { SealedDocuments } from "../../adapters/sealed-documents.ts";
import type { FinanceCertificates } from "../finance-certificates.ts";

/** What the answer handlers need of the exchange. */
export interface AnswerContext {
  clock: () => Date;
  /** Seals what is archived (the document names the payer). */
  documents: SealedDocuments;
  logger: Logger;
  /** Finance's signing certificate fingerprint, when known: downloaded receipts must carry it. */
  financeCertificateSm3?: string | undefined;
  /** Publishes finance's certificates as answers bring them (verifiers learn them from here). */
  financeCertificates?: FinanceCertificates | undefined;
}
