import { fileURLToPath } from "node:url";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { Keyring, LEGACY_FORMATS, Sealer } from "@piaoju/sealing";
import { AlipayChannel } from "./adapters/alipay/alipay-channel.ts";
import { BankChannel } from "./adapters/bank/bank-channel.ts";
import type { PaymentChannel } from "./adapters/channel.ts";
import { HttpNontaxIssuer } from "./adapters/nontax.ts";
import { UnionpayChannel } from "./adapters/unionpay/unionpay-channel.ts";
import { WechatChannel } from "./adapters/wechat/wechat-channel.ts";
import { sendDueCallbacks } from "./app/callbacks.ts";
import { clearReconciledDays } from "./app/clearing.ts";
import { sendDueClearingInstructions } from "./app/clearing-instructions.ts";
import { makeContext } from "./app/context.ts";
import { type DayEndPolicy, runDayEnd } from "./app/dayend.ts";
import { sendDueNontaxReports } from "./app/nontax-reports.ts";
import { processDueRefunds } from "./app/refunds.ts";
import { settleDueOrders } from "./app/settler.ts";
import { paymentConfig } from "./config.ts";
import { consumeIssuanceEvents } from "./consumers/receipts.ts";
import { registerBankRoutes } from "./http/bank.ts";
import { registerCashier } from "./http/cashier.ts";
import { registerClearingRoutes } from "./http/clearing-routes.ts";
import { registerPaymentConsoleRoutes } from "./http/console-routes.ts";
import { registerPaymentRoutes } from "./http/routes.ts";

/**
 * Composition root of the payment service (缴款): notices, orders, channels, callbacks. `clock`:
 * the time every use case and the background rounds read (tests move it: the day-end without sleeps).
 */
export function createPaymentService(options: { clock?: () => Date } = {}): ServiceModule {
  const clock = options.clock ?? (() => new Date());
  return {
    name: "payment",
    migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
    config: paymentConfig,
    async start(svc) {
      const cfg = parseConfig(paymentConfig, svc.env);
      const alipay = new AlipayChannel({ timeoutMs: cfg.PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS });
      const wechat = new WechatChannel({ timeoutMs: cfg.PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS });
      const unionpay = new UnionpayChannel({ timeoutMs: cfg.PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS });
      const channels = new Map<string, PaymentChannel>([
        [alipay.name, alipay],
        [wechat.name, wechat],
        [unionpay.name, unionpay],
      ]);
      const bank = new BankChannel({ timeoutMs: cfg.PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS });
      channels.set(bank.name, bank);
      // Unset (development, tests): the platform's own address, once its server listens.
      const configured = cfg.PIAOJU_PUBLIC_URL?.replace(/\/$/, "");
      const publicUrl = () => {
        if (configured) return configured;
        const address = svc.http.server.address();
        return typeof address === "object" && address
          ? `http://127.0.0.1:${address.port}`
          : "http://127.0.0.1:8080";
      };
      const keyring = Keyring.parse(cfg.PIAOJU_SECRETS_KEY);
      const nontax = cfg.PIAOJU_NONTAX_URL
        ? new HttpNontaxIssuer(
            cfg.PIAOJU_NONTAX_URL,
            new Map(
              cfg.PIAOJU_NONTAX_AGENCY_SECRETS.map((pair) => {
                const at = pair.indexOf("=");
                return [pair.slice(0, at), pair.slice(at + 1)] as const;
              }),
            ),
          )
        : undefined;
      const ctx = makeContext({
        db: svc.db,
        clock,
        published: svc.outbox.wake,
        // Rows sealed before @piaoju/sealing (gm-crypto's sealSm4: the gateway/delivery layout) still open.
        sealer: new Sealer(keyring, { legacy: [LEGACY_FORMATS.gatewayDelivery] }),
        sealKey: Buffer.from(keyring.current.key),
        codeRule: { region: cfg.PIAOJU_PAYMENT_REGION, check: "iso7064-mod11-10" },
        noticeIssuer: nontax,
        clearing: nontax,
        channels,
        publicUrl,
        firstQueryAfterMs: cfg.PIAOJU_PAYMENT_FIRST_QUERY_MS,
        orderTtlMs: cfg.PIAOJU_PAYMENT_ORDER_TTL_MS,
        receiptGraceMs: cfg.PIAOJU_RECONCILE_RECEIPT_GRACE_MS,
      });
      registerPaymentRoutes(svc.http, ctx, cfg.PIAOJU_INTERNAL_TOKEN);
      registerClearingRoutes(svc.http, ctx, cfg.PIAOJU_INTERNAL_TOKEN);
      registerPaymentConsoleRoutes(svc.http, ctx, cfg.PIAOJU_INTERNAL_TOKEN);
      registerBankRoutes(svc.http, ctx, {
        internalToken: cfg.PIAOJU_INTERNAL_TOKEN,
        businessTimeoutMs: cfg.PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS,
      });
      await registerCashier(svc.http, ctx, {
        rateLimit: cfg.PIAOJU_CASHIER_RATE_LIMIT,
        frameAncestors: cfg.PIAOJU_CASHIER_FRAME_ANCESTORS,
      });
      const receipts = await consumeIssuanceEvents(ctx, svc.bus, publicUrl);
      const policy = {
        maxAttempts: cfg.PIAOJU_PAYMENT_CALLBACK_ATTEMPTS,
        baseDelayMs: cfg.PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS,
        maxDelayMs: 3_600_000,
        timeoutMs: 10_000,
      };
      const [hh, mm] = cfg.PIAOJU_RECONCILE_AT.split(":").map(Number);
      const dayEnd: DayEndPolicy | undefined =
        cfg.PIAOJU_RECONCILE_AT === "off"
          ? undefined
          : {
              atMinutes: (hh ?? 0) * 60 + (mm ?? 0),
              retryMs: cfg.PIAOJU_RECONCILE_RETRY_MS,
              maxAttempts: 24,
              receiptGraceMs: cfg.PIAOJU_RECONCILE_RECEIPT_GRACE_MS,
              leaseMs: 10 * 60_000,
            };
      // Background work in rounds; a round never overlaps the previous one.
      let stopped = false;
      let round: Promise<void> = Promise.resolve();
      const tick = () => {
        round = (async () => {
          try {
            await settleDueOrders(ctx);
            await processDueRefunds(ctx, cfg.PIAOJU_PAYMENT_REFUND_RETRY_MS);
            await sendDueCallbacks(ctx, policy);
            await sendDueNontaxReports(ctx, policy);
            if (dayEnd) await runDayEnd(ctx, dayEnd);
            await clearReconciledDays(ctx);
            await sendDueClearingInstructions(ctx, policy);
          } catch (error) {
            svc.logger.warn({ err: error }, "payment: background round failed");
          }
        })();
        void round.then(() => {
          if (!stopped) timer = setTimeout(tick, cfg.PIAOJU_PAYMENT_POLL_MS).unref();
        });
      };
      let timer = setTimeout(tick, cfg.PIAOJU_PAYMENT_POLL_MS).unref();
      return {
        async stop() {
          stopped = true;
          clearTimeout(timer);
          await round;
          await receipts.stop();
        },
      };
    },
  };
}

export const paymentService: ServiceModule = createPaymentService();
