import { z } from "zod";

/** The payment service's configuration, parsed once at start from the environment. */
export const paymentConfig = z.object({
  PIAOJU_INTERNAL_TOKEN: z.string().min(32, "at least 32 characters"),
  /** SM4 key (32 hex digits): payers, channel keys and callback secrets are sealed under it. */
  PIAOJU_SECRETS_KEY: z.string().regex(/^[0-9a-fA-F]{32}$/, "an SM4 key: 32 hex digits"),
  /** The platform's public address: channels' notify URLs and the cashier's QR URLs start with it. */
  PIAOJU_PUBLIC_URL: z.url().optional(),
  /** The finance region whose payment-code rule applies (6 digits, 行政区划代码). */
  PIAOJU_PAYMENT_REGION: z
    .string()
    .regex(/^\d{6}$/, "6 digits")
    .default("230100"),
  /** Finance's non-tax system (its agency API); unset: the service makes notices and codes itself. */
  PIAOJU_NONTAX_URL: z.url().optional(),
  /** code=secret pairs, comma-separated: each agency's HMAC-SM3 secret with the non-tax system. */
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
    ),
  /** How long after opening an order the settler first asks the channel, if no notify came. */
  PIAOJU_PAYMENT_FIRST_QUERY_MS: z.coerce.number().int().min(50).default(30_000),
  /** How often the settler and the callback sender look for due work. */
  PIAOJU_PAYMENT_POLL_MS: z.coerce.number().int().min(20).default(2_000),
  /** An order's longest life at a channel (it never outlives the day's amount due). */
  PIAOJU_PAYMENT_ORDER_TTL_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .default(30 * 60_000),
  /** Deadline of one call to a channel. */
  PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Result callbacks: tries, first backoff, cap. */
  PIAOJU_PAYMENT_CALLBACK_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(6),
  PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: z.coerce.number().int().min(10).default(30_000),
});

export type PaymentConfig = z.infer<typeof paymentConfig>;
