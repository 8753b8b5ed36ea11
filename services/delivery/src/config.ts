import { platformConfig, sharedConfig } from "@piaoju/runtime";
import { z } from "zod";

const ms = (fallback: number) => z.coerce.number().int().min(10).default(fallback);

/** The delivery service's environment (docs/CONFIG.md lists it with the platform's). */
export const config = z.object({
  PIAOJU_INTERNAL_TOKEN: sharedConfig.PIAOJU_INTERNAL_TOKEN,
  PIAOJU_SECRETS_KEY: sharedConfig.PIAOJU_SECRETS_KEY,
  PIAOJU_SMTP_URL: z.url().optional().meta({
    description:
      "E-mail channel: an SMTP URL (smtp://user:pass@host:587, smtps://…); unset, no e-mail channel.",
    secret: true,
  }),
  PIAOJU_MAIL_FROM: z
    .string()
    .default("Piaoju 电子票据 <receipts@localhost>")
    .meta({ description: "The From of receipt e-mails." }),
  PIAOJU_SMS_URL: z.url().optional().meta({
    description:
      "SMS channel: the SMS gateway's JSON endpoint (one POST per message); unset, no SMS channel.",
    example: "https://sms.example.gov.cn/send",
  }),
  PIAOJU_SMS_TOKEN: z.string().optional().meta({
    description: "Bearer token for the SMS gateway, when it asks for one.",
    secret: true,
  }),
  PIAOJU_PUBLIC_URL: sharedConfig.PIAOJU_PUBLIC_URL,
  PIAOJU_DELIVERY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(6).meta({
    description: "Attempts per delivery (e-mail, SMS, webhook) before it is marked failed.",
  }),
  PIAOJU_DELIVERY_BACKOFF_MS: ms(30_000).meta({
    description: "First retry delay of a failed delivery; doubles each time.",
  }),
  PIAOJU_DELIVERY_MAX_BACKOFF_MS: ms(3_600_000).meta({ description: "Longest retry delay of a delivery." }),
  PIAOJU_DELIVERY_POLL_MS: ms(1_000).meta({
    description: "How often the sender looks for deliveries that are due.",
  }),
  PIAOJU_H5_RATE_LIMIT: z.coerce.number().int().min(1).default(30).meta({
    description: "H5 pick-up page: requests per minute per address (lookups get a sixth of it).",
  }),
  PIAOJU_H5_FRAME_ANCESTORS: z.string().default("*").meta({
    description:
      "CSP frame-ancestors of the H5 page: the sites that may embed it (e.g. the bureau's portal).",
  }),
  PIAOJU_TRUSTED_CA_PEM: z.string().optional().meta({
    description:
      "PEM bundle of the roots that agency and finance signers must chain to, for 查验 (verification). Unset: the agency CAs and finance certificates their owners publish on the bus (signing gateway, finance-exchange); set, it replaces them.",
  }),
  PIAOJU_CJK_FONT: sharedConfig.PIAOJU_CJK_FONT,
  PIAOJU_SIGNING_GATEWAY_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, "host:port, e.g. signing-gateway:50061")
    .optional()
    .meta({
      description:
        "The signing gateway (gRPC, mutual TLS) that signs receipt PDFs with the agency's key, once per receipt and state. Unset: PDFs carry the drawn seal but no digital signature. The embedded runner sets it to its own gateway.",
      example: "signing-gateway:50061",
    }),
  PIAOJU_DELIVERY_TLS_DIR: z
    .string()
    .optional()
    .transform((v) => v || undefined)
    .meta({
      description:
        "Delivery's mutual-TLS identity towards the signing gateway (ca.crt, tls.crt, tls.key). Embedded and unset: made in the data folder's secrets; required in a cluster when PIAOJU_SIGNING_GATEWAY_ADDRESS is set.",
    }),
  PIAOJU_DELIVERY_SIGNING_DEADLINE_MS: ms(5_000).meta({
    description: "Deadline of one call to the signing gateway when a receipt PDF is signed.",
  }),
  PIAOJU_DATA_DIR: platformConfig.shape.PIAOJU_DATA_DIR,
});
