import { fileURLToPath } from "node:url";
import { createPrismaClient } from "@piaoju/persistence";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { stockContext } from "./app/context.ts";
import { config } from "./config.ts";
import { consumeFinanceEvents, consumeIssuanceEvents } from "./consumers/events.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { registerStockRoutes } from "./http/routes.ts";

/** Composition root of the stock service (票据库存管理). */
export const stockService: ServiceModule = {
  name: "stock",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  config,
  async start(ctx) {
    const { PIAOJU_INTERNAL_TOKEN } = parseConfig(config, ctx.env);
    const prisma = createPrismaClient(ctx.db, PrismaClient);
    const clock = () => new Date();
    const stock = stockContext({ prisma, published: ctx.outbox.wake, clock });
    registerStockRoutes(ctx.http, stock, PIAOJU_INTERNAL_TOKEN);
    const wiring = { bus: ctx.bus, prisma, stock, clock, published: ctx.outbox.wake };
    const financeIntake = await consumeFinanceEvents(wiring);
    const usageIntake = await consumeIssuanceEvents(wiring);
    return {
      async stop() {
        await financeIntake.stop();
        await usageIntake.stop();
        await prisma.$disconnect();
      },
    };
  },
};
