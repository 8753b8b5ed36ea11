import { sharedConfig } from "@piaoju/runtime";
import { z } from "zod";

/** The issuance service's environment (docs/CONFIG.md lists it with the platform's). */
export const config = z.object({
  PIAOJU_INTERNAL_TOKEN: sharedConfig.PIAOJU_INTERNAL_TOKEN,
  PIAOJU_SECRETS_KEY: sharedConfig.PIAOJU_SECRETS_KEY,
  PIAOJU_CHECK_CODE_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{32}(,[0-9a-fA-F]{32})*$/, "32 hex digits each, comma-separated, current first")
    .meta({
      description:
        "Root keys (32 hex digits each, current first) of the agencies' check-code secrets: a receipt's check code is HMAC-SM3 under its agency's secret derived from the current key, stored with the key's id and never recomputed. To rotate, put a new key first. A root key: never in a backup, kept offline. Embedded: made once and kept in .data/secrets.",
      secret: true,
    }),
});
