import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Certificate, PKCS7_PROFILES, Sm2PrivateKey } from "@piaoju/gm-crypto";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { Keyring, Sealer } from "@piaoju/sealing";
import type { z } from "zod";
import { resealStale, SealedDocuments } from "./adapters/sealed-documents.ts";
import { ExchangeAdmin } from "./app/admin.ts";
import { FinanceExchange } from "./app/exchange.ts";
import { FinanceCertificates, learnFinanceCertificates } from "./app/finance-certificates.ts";
import { ferryRejectionCounter } from "./app/metrics.ts";
import { ExchangeSchedule } from "./app/schedule.ts";
import { config } from "./config.ts";
import { consumeSubmittedReceipts } from "./consumers/submitted.ts";
import { registerExchangeRoutes } from "./http/routes.ts";
import { DirectTransport } from "./transport/direct.ts";
import { FerryTransport } from "./transport/ferry.ts";
import { FerrySpool, type FerrySpoolOptions } from "./transport/ferry-spool.ts";
import { HttpFinanceApi } from "./transport/http-finance-api.ts";
import { type FinanceTransport, FinanceUnavailable, UnconfiguredTransport } from "./transport/transport.ts";

type Config = z.output<typeof config>;

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
    return { transport: new DirectTransport(api) as FinanceTransport, spool: undefined, api };
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
  config,
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
    const { transport, spool, api } = transportOf(c, secrets, async (r) => {
      ctx.logger.warn({ file: r.fileName, reason: r.reason }, "ferry file refused");
      ferryRejectionCounter.add(1);
      await admin?.recordFerryRejection(r);
    });
    await spool?.recover();
    if (transport instanceof UnconfiguredTransport) {
      ctx.logger.warn("FINANCE_URL is not set: receipts queue for supervision until finance is configured");
    }
    let schedule: ExchangeSchedule | undefined;
    // The queued and archived documents name the payer: sealed at rest; rows from before, sealed now.
    const documents = new SealedDocuments(new Sealer(Keyring.parse(c.PIAOJU_SECRETS_KEY)));
    const resealed = await resealStale(ctx.db, documents);
    if (resealed > 0) ctx.logger.info({ resealed }, "receipt documents sealed at rest");
    const exchange = new FinanceExchange({
      documents,
      db: ctx.db,
      transport,
      clock,
      published: ctx.outbox.wake,
      logger: ctx.logger,
      financeCertificateSm3: c.FINANCE_CERTIFICATE_SM3,
      financeCertificates: new FinanceCertificates(clock),
      settings: {
        batchSize: c.FINANCE_BATCH_SIZE,
        maxInFlight: c.FINANCE_MAX_IN_FLIGHT,
        backoff: { baseMs: c.FINANCE_BACKOFF_BASE_MS, maxMs: c.FINANCE_BACKOFF_MAX_MS },
        resendAfterMs: c.FINANCE_RESEND_AFTER_MS,
        leaseMs: Math.max(c.FINANCE_TIMEOUT_MS * 2, 10_000),
        pendingPollMs: c.FINANCE_PENDING_POLL_MS,
      },
    });
    try {
      await exchange.publishFinanceCertificates();
    } catch (error) {
      // Not a reason to stay down: each accepted answer publishes its certificate too.
      ctx.logger.warn({ err: error }, "finance's certificates not published at start");
    }
    // Over HTTP finance serves its certificate and CA itself: learned (retried while finance is
    // not up yet) and published for verifiers.
    const learning = api
      ? learnFinanceCertificates({
          ask: () => api.certificates(),
          publish: (served) => exchange.publishServedFinanceCertificates(served),
          pinnedSm3: c.FINANCE_CERTIFICATE_SM3,
          // Finance not up yet is no news; an answer that does not hold together (or a pin it breaks) is.
          onError: (error) =>
            ctx.logger[error instanceof FinanceUnavailable ? "debug" : "warn"](
              { err: error },
              "finance's certificates not learned yet",
            ),
        })
      : undefined;
    admin = new ExchangeAdmin(ctx.db, exchange, clock, () => schedule?.kick(), documents);
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
        await learning?.stop();
        await intake.stop();
        await schedule?.stop();
        await transport.close();
      },
    };
  },
};
