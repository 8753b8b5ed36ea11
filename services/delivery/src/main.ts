import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Certificate } from "@piaoju/gm-crypto";
import { loadCjkFont } from "@piaoju/locale";
import { createPrismaClient } from "@piaoju/persistence";
import { ConfigError, parseConfig, type ServiceModule } from "@piaoju/runtime";
import { Keyring, LEGACY_FORMATS, Sealer } from "@piaoju/sealing";
import { ensureEmbeddedServiceTls, loadServiceTls, type ServiceTls } from "@piaoju/service-identity";
import { Deliveries } from "./app/deliveries.ts";
import { ReceiptPdfs } from "./app/receipt-pdfs.ts";
import { Receipts } from "./app/receipts.ts";
import { TrustAnchors } from "./app/trust.ts";
import { config } from "./config.ts";
import { consumeIssuanceEvents, consumeTrustEvents } from "./consumers/events.ts";
import { Protector } from "./domain/protect.ts";
import type { ReceiptView } from "./domain/receipt.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { registerPickup } from "./http/h5.ts";
import { registerDeliveryRoutes } from "./http/routes.ts";
import { httpSmsGateway, smtpMailer } from "./providers/providers.ts";
import { gatewayPdfSigning } from "./providers/signing.ts";
import { cachedRenderer } from "./render/pdf.ts";

/** Composition root of delivery (交付管理): intake, sender, internal API, H5 pick-up page. */
export const deliveryService: ServiceModule = {
  name: "delivery",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  config,
  async start(ctx) {
    const cfg = parseConfig(config, ctx.env);
    const prisma = createPrismaClient(ctx.db, PrismaClient);
    const clock = () => new Date();
    const font = loadCjkFont(cfg.PIAOJU_CJK_FONT);
    const signing = cfg.PIAOJU_SIGNING_GATEWAY_ADDRESS
      ? gatewayPdfSigning({
          address: cfg.PIAOJU_SIGNING_GATEWAY_ADDRESS,
          tls: await signingTls(cfg, ctx.bus.kind === "embedded"),
          deadlineMs: cfg.PIAOJU_DELIVERY_SIGNING_DEADLINE_MS,
        })
      : undefined;
    if (!signing)
      ctx.logger.warn("PIAOJU_SIGNING_GATEWAY_ADDRESS unset: receipt PDFs are not digitally signed");
    const pdfs = new ReceiptPdfs({ prisma, font, signing, clock });
    const render = cachedRenderer((view: ReceiptView) => pdfs.pdf(view), 64);
    const protector = new Protector(
      new Sealer(Keyring.parse(cfg.PIAOJU_SECRETS_KEY), { legacy: [LEGACY_FORMATS.gatewayDelivery] }),
    );
    const mail = cfg.PIAOJU_SMTP_URL ? smtpMailer(cfg.PIAOJU_SMTP_URL, cfg.PIAOJU_MAIL_FROM) : undefined;
    const sms = cfg.PIAOJU_SMS_URL ? httpSmsGateway(cfg.PIAOJU_SMS_URL, cfg.PIAOJU_SMS_TOKEN) : undefined;
    const receipts = new Receipts(prisma, protector, Deliveries.available(mail, sms), clock);
    const resealed = await receipts.resealStale();
    if (resealed > 0)
      ctx.logger.info({ resealed }, "personal data sealed again in the current format and key");
    const deliveries = new Deliveries({
      prisma,
      receipts,
      protector,
      mail,
      sms,
      retry: {
        maxAttempts: cfg.PIAOJU_DELIVERY_MAX_ATTEMPTS,
        baseDelayMs: cfg.PIAOJU_DELIVERY_BACKOFF_MS,
        maxDelayMs: cfg.PIAOJU_DELIVERY_MAX_BACKOFF_MS,
      },
      publicUrl: cfg.PIAOJU_PUBLIC_URL?.replace(/\/$/, ""),
      render,
      clock,
      log: (fields, msg) => ctx.logger.warn(fields, msg),
    });
    const trust = new TrustAnchors(
      prisma,
      cfg.PIAOJU_TRUSTED_CA_PEM ? Certificate.allFromPem(cfg.PIAOJU_TRUSTED_CA_PEM) : undefined,
    );

    registerDeliveryRoutes(
      ctx.http,
      { deliveries, receipts, render, trust, clock },
      cfg.PIAOJU_INTERNAL_TOKEN,
    );
    await registerPickup(ctx.http, {
      prisma,
      receipts,
      protector,
      sms,
      render,
      trust,
      clock,
      rateLimit: cfg.PIAOJU_H5_RATE_LIMIT,
      rateLimitDb: ctx.db,
      frameAncestors: cfg.PIAOJU_H5_FRAME_ANCESTORS,
    });

    const sender = startSender(deliveries, cfg.PIAOJU_DELIVERY_POLL_MS, (error) =>
      ctx.logger.error({ err: error }, "delivery sender run failed"),
    );
    const intake = await consumeIssuanceEvents({
      bus: ctx.bus,
      prisma,
      receipts,
      clock,
      published: ctx.outbox.wake,
      planned: sender.wake,
    });
    const trustIntake = await consumeTrustEvents({
      bus: ctx.bus,
      prisma,
      trust,
      clock,
      published: ctx.outbox.wake,
    });
    return {
      async stop() {
        await trustIntake.stop();
        await intake.stop();
        await sender.stop();
        mail?.close();
        signing?.close();
        await prisma.$disconnect();
      },
    };
  },
};

/**
 * Delivery's identity towards the signing gateway: the mounted one; embedded, its own from the
 * data folder's service CA (the gateway's is made from the same); a cluster must mount one.
 */
async function signingTls(
  cfg: { PIAOJU_DELIVERY_TLS_DIR?: string | undefined; PIAOJU_DATA_DIR: string },
  embedded: boolean,
): Promise<ServiceTls> {
  if (cfg.PIAOJU_DELIVERY_TLS_DIR) return loadServiceTls(cfg.PIAOJU_DELIVERY_TLS_DIR);
  if (!embedded) {
    throw new ConfigError([
      "PIAOJU_DELIVERY_TLS_DIR: required in cluster mode with PIAOJU_SIGNING_GATEWAY_ADDRESS (delivery's certificate from the platform's service CA)",
    ]);
  }
  const dirs = await ensureEmbeddedServiceTls(join(resolve(cfg.PIAOJU_DATA_DIR), "secrets"), ["delivery"]);
  return loadServiceTls(dirs.delivery as string);
}

/** The sender loop: one run at a time, every poll interval or when woken; stop waits for the run. */
function startSender(deliveries: Deliveries, pollMs: number, onError: (error: unknown) => void) {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      try {
        do {
          again = false;
          while (!stopped && (await deliveries.runDue()) > 0) {}
        } while (again && !stopped);
      } catch (error) {
        onError(error);
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(run, pollMs);
  timer.unref();
  return {
    wake: run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
