import { sharedConfig } from "@piaoju/runtime";
import { z } from "zod";

/** The reporting service's environment (docs/CONFIG.md lists it with the platform's). */
export const reportingConfig = z.object({
  PIAOJU_INTERNAL_TOKEN: sharedConfig.PIAOJU_INTERNAL_TOKEN,
  PIAOJU_SECRETS_KEY: sharedConfig.PIAOJU_SECRETS_KEY,
  PIAOJU_CJK_FONT: sharedConfig.PIAOJU_CJK_FONT,
  PIAOJU_REPORTING_GENERATION_POLL_MS: z.coerce.number().int().min(50).default(5_000).meta({
    description: "How often a replica checks whether another one started a rebuild of the read models.",
  }),
});

export type ReportingConfig = z.infer<typeof reportingConfig>;
