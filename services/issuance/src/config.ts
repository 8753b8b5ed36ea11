import { sharedConfig } from "@piaoju/runtime";
import { z } from "zod";

/** The issuance service's environment (docs/CONFIG.md lists it with the platform's). */
export const config = z.object({
  PIAOJU_INTERNAL_TOKEN: sharedConfig.PIAOJU_INTERNAL_TOKEN,
});
