import { sharedConfig } from "@piaoju/runtime";
import { z } from "zod";

/** The gateway's environment (docs/CONFIG.md lists it with the platform's). */
export const config = z.object({
  PIAOJU_INTERNAL_TOKEN: sharedConfig.PIAOJU_INTERNAL_TOKEN,
  PIAOJU_SECRETS_KEY: sharedConfig.PIAOJU_SECRETS_KEY,
  PIAOJU_ISSUANCE_URL: z.url().optional().meta({
    description:
      "Cluster: the receipt (issuance) service's address, where the business API forwards. Embedded: unset, the same process serves it.",
    example: "http://issuance:8080",
  }),
  PIAOJU_LOOKUP_LIMIT_PER_ADDRESS: z.coerce.number().int().min(1).default(60).meta({
    description:
      "Business API lookups (verify, by serial, by id, status) a minute from one client address, counted before authentication (refused guesses too).",
  }),
  PIAOJU_LOOKUP_LIMIT_PER_APP: z.coerce.number().int().min(1).default(600).meta({
    description: "Business API lookups a minute by one app, whatever its addresses.",
  }),
});
