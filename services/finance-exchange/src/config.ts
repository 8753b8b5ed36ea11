import { sharedConfig } from "@piaoju/runtime";
import { z } from "zod";

const ms = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const list = z
  .string()
  .default("")
  .transform((s) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean),
  );
const pemOrPath = (what: string, secret = false) =>
  z
    .string()
    .optional()
    .meta({
      description: `Ferry: ${what} (PEM inline, or the path of a PEM file: a mounted secret).`,
      secret,
    });

/** The finance-exchange daemon's environment (docs/CONFIG.md lists it with the platform's). */
export const config = z
  .object({
    PIAOJU_INTERNAL_TOKEN: sharedConfig.PIAOJU_INTERNAL_TOKEN,
    PIAOJU_SECRETS_KEY: sharedConfig.PIAOJU_SECRETS_KEY,
    FINANCE_TRANSPORT: z.enum(["http", "ferry"]).default("http").meta({
      description:
        '"http": direct HTTP(S) to finance; "ferry": signed files through the boundary platform (网闸).',
    }),
    FINANCE_URL: z.url().optional().meta({
      description:
        "Finance's agency API. Absent (a first embedded start without the simulator): receipts queue durably until it is set.",
      example: "https://finance.example.gov.cn",
    }),
    FINANCE_AGENCY_SECRETS: list.meta({
      description:
        "code=secret pairs, comma-separated: each agency's HMAC-SM3 secret with finance (from a secret store).",
      secret: true,
    }),
    FINANCE_AGENCIES: list.meta({
      description: "Agencies the schedules cover, comma-separated (default: those with a secret).",
    }),
    FINANCE_FERRY_OUT_DIR: z
      .string()
      .optional()
      .meta({ description: "Ferry: the folder files to finance are written to." }),
    FINANCE_FERRY_IN_DIR: z
      .string()
      .optional()
      .meta({ description: "Ferry: the folder finance's files arrive in." }),
    FINANCE_FERRY_KEY: pemOrPath("this end's SM2 private key", true),
    FINANCE_FERRY_CERT: pemOrPath("this end's certificate"),
    FINANCE_FERRY_PEER_CERT: pemOrPath("finance's certificate, which its files must be signed with"),
    FINANCE_FERRY_TRUSTED_CA: pemOrPath("the CA the certificates must chain to"),
    FINANCE_PKCS7_PROFILE: z.enum(["default", "gmssl", "gmt0010"]).default("default").meta({
      description: "PKCS#7 identifiers finance's side reads (docs/adr/0007): default, gmssl or gmt0010.",
    }),
    FINANCE_CERTIFICATE_SM3: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional()
      .meta({
        description:
          "SM3 fingerprint of finance's signing certificate: downloaded receipts must be signed with it.",
      }),
    FINANCE_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(50).meta({
      description: "Receipts per supervision batch sent to finance.",
    }),
    FINANCE_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(64).default(4).meta({
      description: "Batches awaiting finance's answer at once.",
    }),
    FINANCE_BACKOFF_BASE_MS: ms(500).meta({
      description: "First retry delay after finance refused or was unreachable.",
    }),
    FINANCE_BACKOFF_MAX_MS: ms(30_000).meta({ description: "Longest retry delay towards finance." }),
    FINANCE_RESEND_AFTER_MS: ms(30_000).meta({
      description: "A batch without an answer for this long is sent again (finance dedupes).",
    }),
    FINANCE_PENDING_POLL_MS: ms(10_000).meta({
      description: "How often finance is asked for the results of batches it accepted.",
    }),
    FINANCE_TIMEOUT_MS: ms(15_000).meta({ description: "Timeout of one request to finance." }),
    FINANCE_PUMP_MS: ms(250).meta({
      description: "How often the queue looks for receipts to send when nothing woke it.",
    }),
    FINANCE_BASE_DATA_SYNC_MS: ms(6 * 3600_000).meta({
      description: "Period of the base data sync (agencies, items, bill kinds).",
    }),
    FINANCE_DOWNLOAD_MS: ms(3600_000).meta({
      description: "Period of downloading receipts finance issued for the agency.",
    }),
    FINANCE_RECONCILE_HOUR: z.coerce.number().int().min(-1).max(23).default(2).meta({
      description: "Hour (Asia/Shanghai) of the daily reconciliation with finance; -1 turns it off.",
    }),
  })
  .superRefine((c, ctx) => {
    const need = (field: keyof typeof c, why: string) => {
      if (!c[field]) ctx.addIssue({ code: "custom", path: [field], message: `required ${why}` });
    };
    if (c.FINANCE_TRANSPORT === "ferry") {
      for (const f of [
        "FINANCE_FERRY_OUT_DIR",
        "FINANCE_FERRY_IN_DIR",
        "FINANCE_FERRY_KEY",
        "FINANCE_FERRY_CERT",
        "FINANCE_FERRY_PEER_CERT",
      ] as const)
        need(f, "when FINANCE_TRANSPORT=ferry");
    }
    for (const pair of c.FINANCE_AGENCY_SECRETS) {
      if (!/^[0-9A-Za-z]{1,32}=.{16,}$/.test(pair)) {
        ctx.addIssue({
          code: "custom",
          path: ["FINANCE_AGENCY_SECRETS"],
          message: "each entry is <agencyCode>=<secret of 16+ characters>",
        });
      }
    }
  });
