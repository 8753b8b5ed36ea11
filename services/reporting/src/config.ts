import { KEYRING_PATTERN } from "@piaoju/sealing";
import { z } from "zod";

/** The reporting service's configuration, parsed once at start from the environment. */
export const reportingConfig = z.object({
  PIAOJU_INTERNAL_TOKEN: z.string().min(32, "at least 32 characters"),
  /** SM4 key (32 hex digits): the payer's name and ID number are sealed and hashed under keys derived from it. */
  PIAOJU_SECRETS_KEY: z
    .string()
    .regex(KEYRING_PATTERN, "SM4 keys: 32 hex digits each, comma-separated, current first"),
  /** A CJK font for PDF exports (see @piaoju/locale); default: the Debian font the install brings. */
  PIAOJU_CJK_FONT: z.string().optional(),
  /** How often a replica checks whether another one started a rebuild. */
  PIAOJU_REPORTING_GENERATION_POLL_MS: z.coerce.number().int().min(50).default(5_000),
});

export type ReportingConfig = z.infer<typeof reportingConfig>;
