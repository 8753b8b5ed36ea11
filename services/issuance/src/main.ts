import { fileURLToPath } from "node:url";
import { createPrismaClient } from "@piaoju/persistence";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { Keyring, Sealer } from "@piaoju/sealing";
import { resealStale, withSealedReceipts } from "./adapters/sealed-receipts.ts";
import { issuanceContext } from "./app/context.ts";
import { config } from "./config.ts";
import {
  consumeFinanceEvents,
  consumePaymentEvents,
  consumeSigningEvents,
  consumeStockEvents,
} from "./consumers/events.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { registerIssuanceRoutes } from "./http/routes.ts";

/** Composition root of the issuance service (票据开具). */
export const issuanceService: ServiceModule = {
  name: "issuance",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  config,
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
    const issuance = issuanceContext({
      prisma,
      published: ctx.outbox.wake,
      clock,
      checkCodeKeys,
      sealer,
      warn: (message, detail) => ctx.logger.warn(detail, message),
    });
    registerIssuanceRoutes(ctx.http, issuance, PIAOJU_INTERNAL_TOKEN);
    const wiring = { bus: ctx.bus, prisma, issuance, clock, published: ctx.outbox.wake };
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
