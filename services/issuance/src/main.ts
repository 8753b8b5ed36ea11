import { fileURLToPath } from "node:url";
import { createPrismaClient } from "@piaoju/persistence";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { IssuanceApp } from "./app/issuance.ts";
import { ReceiptLifecycle } from "./app/lifecycle.ts";
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
    const { PIAOJU_INTERNAL_TOKEN } = parseConfig(config, ctx.env);
    const prisma = createPrismaClient(ctx.db, PrismaClient);
    const clock = () => new Date();
    const app = new IssuanceApp({ prisma, published: ctx.outbox.wake, clock });
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
