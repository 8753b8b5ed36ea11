import { sharedConfig } from "@piaoju/runtime";
import { z } from "zod";

/** The stock service's environment (docs/CONFIG.md lists it with the platform's). */
export const config = z.object({
  PIAOJU_INTERNAL_TOKEN: sharedConfig.PIAOJU_INTERNAL_TOKEN,
  /** issuance.ReceiptRequested, which stock reads to count numbers used, has its document sealed with it. */
  PIAOJU_SECRETS_KEY: sharedConfig.PIAOJU_SECRETS_KEY,
});
