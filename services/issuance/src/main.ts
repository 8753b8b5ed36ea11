import { fileURLToPath } from "node:url";
import { createPrismaClient } from "@piaoju/persistence";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { KEYRING_PATTERN, Keyring, Sealer } from "@piaoju/sealing";
import { z } from "zod";
import { resealStale, withSealedReceipts } from "./adapters/sealed-receipts.ts";
import { IssuanceApp } from "./app/issuance.ts";
import { ReceiptLifecycle } from "./app/lifecycle.ts";
import {
  consumeFinanceEvents,
  consumePaymentEvents,
  consumeSigningEvents,
  consumeStockEvents,
} from "./consumers/events.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { registerIssuanceRoutes } from "./http/routes.ts";

const config = z.object({
  PIAOJU_INTERNAL_TOKEN: z.string().min(32, "at least 32 characters"),
  /** SM4 keys sealing the payer, the request and the document at rest (@piaoju/sealing): current first. */
  PIAOJU_SECRETS_KEY: z
    .string()
    .regex(KEYRING_PATTERN, "SM4 keys: 32 hex digits each, comma-separated, current first"),
  /** Root keys of the agencies' check-code secrets (32 hex digits each, current first): a root key, backed up apart. */
  PIAOJU_CHECK_CODE_KEY: z
    .string()
    .regex(KEYRING_PATTERN, "32 hex digits each, comma-separated, current first"),
});

/** Composition root of the issuance service (票据开具). */
export const issuanceService: ServiceModule = {
  name: "issuance",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  async start(ctx) {
    const { PIAOJU_INTERNAL_TOKEN, PIAOJU_SECRETS_KEY, PIAOJU_CHECK_CODE_KEY } = parseConfig(config, ctx.env);
    const stored = createPrismaClient(ctx.db, PrismaClient);
    const sealer = new Sealer(Keyring.parse(PIAOJU_SECRETS_KEY));
    const resealed = await resealStale(stored, sealer);
    if (resealed > 0)
      ctx.logger.info({ resealed }, "receipts' personal data sealed again in the current format and key");
    const prisma = withSealedReceipts(stored, sealer);
    const clock = () => new Date();
    const checkCodeKeys = Keyring.parse(PIAOJU_CHECK_CODE_KEY);
    const app = new IssuanceApp({ prisma, published: ctx.outbox.wake, clock, checkCodeKeys });
    const lifecycle = new ReceiptLifecycle(app, clock, (message, detail) => ctx.logger.warn(detail, message));
    registerIssuanceRoutes(ctx.http, app, lifecycle, PIAOJU_INTERNAL_TOKEN);
    const wiring = { bus: ctx.bus, prisma, app, lifecycle, clock, published: ctx.outbox.wake };
    const numberIntake = await consumeStockEvents(wiring);
    const paymentIntake = await consumePaymentEvents(wiring);
    const signingOutcomes = await consumeSigningEvents(wiring);
    const financeOutcomes = await consumeFinanceEvents(wiring);
    return {
      async stop() {
        await financeOutcomes.stop();
        await signingOutcomes.stop();
        await paymentIntake.stop();
        await numberIntake.stop();
        await prisma.$disconnect();
      },
    };
  },
};
