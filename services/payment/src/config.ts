import { sharedConfig } from "@piaoju/runtime";
import { z } from "zod";

const ms = (min: number, fallback: number) => z.coerce.number().int().min(min).default(fallback);

/** The payment service's environment (docs/CONFIG.md lists it with the platform's). */
export const paymentConfig = z.object({
  PIAOJU_INTERNAL_TOKEN: sharedConfig.PIAOJU_INTERNAL_TOKEN,
  PIAOJU_SECRETS_KEY: sharedConfig.PIAOJU_SECRETS_KEY,
  PIAOJU_PUBLIC_URL: sharedConfig.PIAOJU_PUBLIC_URL,
  PIAOJU_PAYMENT_REGION: z
    .string()
    .regex(/^\d{6}$/, "6 digits")
    .default("230100")
    .meta({ description: "The finance region (行政区划代码, 6 digits) whose payment-code rule applies." }),
  PIAOJU_NONTAX_URL: z.url().optional().meta({
    description:
      "Finance's non-tax system (its agency API); unset: the service makes notices and payment codes itself.",
    example: "https://nontax.example.gov.cn",
  }),
  PIAOJU_NONTAX_AGENCY_SECRETS: z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z
          .string()
          .regex(/^[0-9A-Za-z]{1,32}=.{16,}$/, "each entry is <agencyCode>=<secret of 16+ characters>"),
      ),
    )
    .meta({
      description:
        "code=secret pairs, comma-separated: each agency's HMAC-SM3 secret with the non-tax system.",
      secret: true,
    }),
  PIAOJU_PAYMENT_FIRST_QUERY_MS: ms(50, 30_000).meta({
    description: "How long after opening an order the settler first asks the channel, if no notify came.",
  }),
  PIAOJU_PAYMENT_POLL_MS: ms(20, 2_000).meta({
    description: "How often the settler and the callback sender look for due work.",
  }),
  PIAOJU_PAYMENT_ORDER_TTL_MS: ms(1_000, 30 * 60_000).meta({
    description: "An order's longest life at a channel (it never outlives the day's amount due).",
  }),
  PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS: ms(100, 10_000).meta({
    description: "Deadline of one call to a channel.",
  }),
  PIAOJU_PAYMENT_REFUND_RETRY_MS: ms(10, 30_000).meta({
    description:
      "First delay before a refund step is tried again (non-tax approval awaited, channel silent); doubles up to 10 min.",
  }),
  PIAOJU_PAYMENT_CALLBACK_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(6).meta({
    description: "Tries of a result callback to a business system before it is parked (re-pushable).",
  }),
  PIAOJU_RECONCILE_AT: z
    .string()
    .regex(/^(off|([01]\d|2[0-3]):[0-5]\d)$/, "HH:MM (Asia/Shanghai) or off")
    .default("02:00")
    .meta({
      description:
        "Scheduled day-end (日终对账): at HH:MM (Asia/Shanghai) it reconciles the previous day, channels and three-way; off: API only.",
      example: "09:30",
    }),
  PIAOJU_RECONCILE_RETRY_MS: ms(10, 15 * 60_000).meta({
    description:
      "First retry delay of a day-end step (statement not ready, channel silent); doubles up to 1 h, 24 tries.",
  }),
  PIAOJU_RECONCILE_RECEIPT_GRACE_MS: ms(0, 30 * 60_000).meta({
    description:
      "How long a payment or refund may wait for its receipt or red-flush before the three-way match reports it.",
  }),
  PIAOJU_CASHIER_RATE_LIMIT: z.coerce.number().int().min(1).default(120).meta({
    description:
      "The cashier (/h5/pay): requests per minute per address, page, script and API together (the page polls every 2.5 s while a payment settles).",
  }),
  PIAOJU_CASHIER_FRAME_ANCESTORS: z.string().default("*").meta({
    description:
      "CSP frame-ancestors of the cashier page: the sites that may embed it (e.g. the bureau's portal).",
    example: "https://www.hrbgaj.example.gov.cn",
  }),
  PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: ms(10, 30_000).meta({
    description: "First retry delay of a result callback; doubles each time.",
  }),
});

export type PaymentConfig = z.infer<typeof paymentConfig>;
