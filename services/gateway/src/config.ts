import { sharedConfig } from "@piaoju/runtime";
import { z } from "zod";

/** The gateway's environment (docs/CONFIG.md lists it with the platform's). */
export const config = z.object({
  PIAOJU_INTERNAL_TOKEN: sharedConfig.PIAOJU_INTERNAL_TOKEN,
  PIAOJU_SECRETS_KEY: sharedConfig.PIAOJU_SECRETS_KEY,
  PIAOJU_ASSERTION_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/=]{40,200}$/, "an Ed25519 private key: PKCS#8 DER in base64")
    .meta({
      description:
        "The gateway's identity-assertion signing key (Ed25519, PKCS#8 DER in base64): it signs who the person or business system behind each call is, for the services (ADR 0012). Embedded: made once in .data/secrets.",
      secret: true,
    }),
  PIAOJU_ISSUANCE_URL: z.url().optional().meta({
    description:
      "Cluster: the receipt (issuance) service's address, where the business API forwards. Embedded: unset, the same process serves it.",
    example: "http://issuance:8080",
  }),
  PIAOJU_UPSTREAM_URLS: z
    .string()
    .regex(/^([a-z-]+=[^,\s]+)(,[a-z-]+=[^,\s]+)*$/, "name=url pairs separated by commas")
    .optional()
    .meta({
      description:
        "Cluster: the other services' addresses for the console's calls, as name=url pairs separated by commas (stock, issuance, delivery, finance-exchange, reporting). Embedded: unset.",
      example: "stock=http://stock:8080,issuance=http://issuance:8080",
    }),
  PIAOJU_CONSOLE_SECURE_COOKIES: z
    .enum(["true", "false"])
    .default("true")
    .meta({
      description:
        'Console cookies only over HTTPS ("true"; "false" for plain-HTTP development on loopback).',
    }),
  PIAOJU_SESSION_IDLE_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(30)
    .meta({ description: "A console session ends after this many minutes without a request." }),
  PIAOJU_SESSION_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(72)
    .default(12)
    .meta({ description: "A console session ends this many hours after sign-in, used or not." }),
  PIAOJU_CONSOLE_BOOTSTRAP: z.enum(["print", "off"]).default("off").meta({
    description:
      '"print": on a fresh installation (no user yet) create the first administrators and print their one-time passwords once (./piaoju start sets it; a cluster uses piaoju admin create).',
  }),
});
