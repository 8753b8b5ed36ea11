import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Certificate, PKCS7_PROFILES, Sm2PrivateKey } from "@piaoju/gm-crypto";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { z } from "zod";
import { ExchangeAdmin } from "./app/admin.ts";
import { FinanceExchange } from "./app/exchange.ts";
import { ferryRejectionCounter } from "./app/metrics.ts";
import { ExchangeSchedule } from "./app/schedule.ts";
import { consumeSubmittedReceipts } from "./consumers/submitted.ts";
import { registerExchangeRoutes } from "./http/routes.ts";
import { DirectTransport } from "./transport/direct.ts";
import { FerryTransport } from "./transport/ferry.ts";
import { FerrySpool, type FerrySpoolOptions } from "./transport/ferry-spool.ts";
import { HttpFinanceApi } from "./transport/http-finance-api.ts";
import { type FinanceTransport, UnconfiguredTransport } from "./transport/transport.ts";

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

const config = z
  .object({
    PIAOJU_INTERNAL_TOKEN: z.string().min(32, "at least 32 characters"),
    /** "http": direct HTTP(S) to finance; "ferry": files through the boundary platform. */
    FINANCE_TRANSPORT: z.enum(["http", "ferry"]).default("http"),
    /** Finance's agency API. Absent (a first embedded start): receipts queue durably until it is set. */
    FINANCE_URL: z.url().optional(),
    /** code=secret pairs, comma-separated: each agency's HMAC-SM3 secret with finance (from a secret store). */
    FINANCE_AGENCY_SECRETS: list,
    /** Agencies the schedules cover (default: those with a secret). */
    FINANCE_AGENCIES: list,
    FINANCE_FERRY_OUT_DIR: z.string().optional(),
    FINANCE_FERRY_IN_DIR: z.string().optional(),
    /** PEM, or a path to a PEM file: this end's SM2 key, its certificate, finance's certificate, the CA. */
    FINANCE_FERRY_KEY: z.string().optional(),
    FINANCE_FERRY_CERT: z.string().optional(),
    FINANCE_FERRY_PEER_CERT: z.string().optional(),
    FINANCE_FERRY_TRUSTED_CA: z.string().optional(),
    /** PKCS#7 forms finance's side reads (docs/adr/0007): default, gmssl or gmt0010. */
    FINANCE_PKCS7_PROFILE: z.enum(["default", "gmssl", "gmt0010"]).default("default"),
    /** SM3 fingerprint of finance's signing certificate: downloaded receipts must be signed with it. */
    FINANCE_CERTIFICATE_SM3: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    FINANCE_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(50),
    FINANCE_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(64).default(4),
    FINANCE_BACKOFF_BASE_MS: ms(500),
    FINANCE_BACKOFF_MAX_MS: ms(30_000),
    FINANCE_RESEND_AFTER_MS: ms(30_000),
    FINANCE_PENDING_POLL_MS: ms(10_000),
    FINANCE_TIMEOUT_MS: ms(15_000),
    FINANCE_PUMP_MS: ms(250),
    FINANCE_BASE_DATA_SYNC_MS: ms(6 * 3600_000),
    FINANCE_DOWNLOAD_MS: ms(3600_000),
    FINANCE_RECONCILE_HOUR: z.coerce.number().int().min(-1).max(23).default(2),
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

type Config = z.infer<typeof config>;

/** PEM given inline, or the path of a file holding it (a mounted secret). */
function pem(value: string): string {
  return value.includes("-----BEGIN") ? value : readFileSync(value, "utf8");
}

function transportOf(c: Config, secrets: Map<string, string>, onRejected: FerrySpoolOptions["onRejected"]) {
  if (c.FINANCE_TRANSPORT === "http" && !c.FINANCE_URL) {
    return { transport: new UnconfiguredTransport() as FinanceTransport, spool: undefined };
  }
  if (c.FINANCE_TRANSPORT === "http") {
    const api = new HttpFinanceApi({ baseUrl: c.FINANCE_URL!, secrets, timeoutMs: c.FINANCE_TIMEOUT_MS });
    return { transport: new DirectTransport(api) as FinanceTransport, spool: undefined };
  }
  const spool = new FerrySpool({
    outDir: c.FINANCE_FERRY_OUT_DIR!,
    inDir: c.FINANCE_FERRY_IN_DIR!,
    self: {
      key: Sm2PrivateKey.fromPem(pem(c.FINANCE_FERRY_KEY!)),
      cert: Certificate.fromPem(pem(c.FINANCE_FERRY_CERT!)),
    },
    peer: Certificate.fromPem(pem(c.FINANCE_FERRY_PEER_CERT!)),
    ...(c.FINANCE_FERRY_TRUSTED_CA
      ? { trusted: Certificate.allFromPem(pem(c.FINANCE_FERRY_TRUSTED_CA)) }
      : {}),
    pkcs7: PKCS7_PROFILES[c.FINANCE_PKCS7_PROFILE],
    ...(onRejected ? { onRejected } : {}),
  });
  return { transport: new FerryTransport(spool) as FinanceTransport, spool };
}

/**
 * Composition root of the finance-exchange daemon (财政交互): the durable supervision queue,
 * the requests to finance over HTTP(S) or the boundary ferry, and the schedules.
 */
export const financeExchangeService: ServiceModule = {
  name: "finance-exchange",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  async start(ctx) {
    const c = parseConfig(config, ctx.env);
    const secrets = new Map(
      c.FINANCE_AGENCY_SECRETS.map((pair) => {
        const at = pair.indexOf("=");
        return [pair.slice(0, at), pair.slice(at + 1)] as const;
      }),
    );
    const clock = () => new Date();
    let admin: ExchangeAdmin | undefined;
    const { transport, spool } = transportOf(c, secrets, async (r) => {
      ctx.logger.warn({ file: r.fileName, reason: r.reason }, "ferry file refused");
      ferryRejectionCounter.add(1);
      await admin?.recordFerryRejection(r);
    });
    await spool?.recover();
    if (transport instanceof UnconfiguredTransport) {
      ctx.logger.warn("FINANCE_URL is not set: receipts queue for supervision until finance is configured");
    }
    let schedule: ExchangeSchedule | undefined;
    const exchange = new FinanceExchange({
      db: ctx.db,
      transport,
      clock,
      published: ctx.outbox.wake,
      logger: ctx.logger,
      financeCertificateSm3: c.FINANCE_CERTIFICATE_SM3,
      settings: {
        batchSize: c.FINANCE_BATCH_SIZE,
        maxInFlight: c.FINANCE_MAX_IN_FLIGHT,
        backoff: { baseMs: c.FINANCE_BACKOFF_BASE_MS, maxMs: c.FINANCE_BACKOFF_MAX_MS },
        resendAfterMs: c.FINANCE_RESEND_AFTER_MS,
        leaseMs: Math.max(c.FINANCE_TIMEOUT_MS * 2, 10_000),
        pendingPollMs: c.FINANCE_PENDING_POLL_MS,
      },
    });
    admin = new ExchangeAdmin(ctx.db, exchange, clock, () => schedule?.kick());
    registerExchangeRoutes(ctx.http, admin, c.PIAOJU_INTERNAL_TOKEN);
    const intake = await consumeSubmittedReceipts({
      bus: ctx.bus,
      db: ctx.db,
      exchange,
      clock,
      published: ctx.outbox.wake,
      queued: () => schedule?.kick(),
    });
    schedule = new ExchangeSchedule({
      db: ctx.db,
      exchange,
      clock,
      logger: ctx.logger,
      wake: ctx.outbox.wake,
      settings: {
        pumpMs: c.FINANCE_PUMP_MS,
        baseDataSyncMs: c.FINANCE_BASE_DATA_SYNC_MS,
        downloadMs: c.FINANCE_DOWNLOAD_MS,
        reconcileHour: c.FINANCE_RECONCILE_HOUR,
        agencies: c.FINANCE_AGENCIES.length > 0 ? c.FINANCE_AGENCIES : [...secrets.keys()],
      },
    });
    schedule.start();
    return {
      async stop() {
        await intake.stop();
        await schedule?.stop();
        await transport.close();
      },
    };
  },
};
