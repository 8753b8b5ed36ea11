import { fileURLToPath } from "node:url";
import { createPrismaClient } from "@piaoju/persistence";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { Apps } from "./app/apps.ts";
import { httpUpstream, inProcessUpstream } from "./app/upstream.ts";
import { config } from "./config.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { registerAppAdminRoutes } from "./http/apps-admin.ts";
import { businessApi } from "./http/business-api.ts";

/** Composition root of the gateway: business systems' API and their credentials. */
export const gatewayService: ServiceModule = {
  name: "gateway",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  config,
  async start(ctx) {
    const cfg = parseConfig(config, ctx.env);
    const prisma = createPrismaClient(ctx.db, PrismaClient);
    const apps = new Apps(prisma, Buffer.from(cfg.PIAOJU_SECRETS_KEY, "hex"), () => new Date());
    const upstream = cfg.PIAOJU_ISSUANCE_URL
      ? httpUpstream(cfg.PIAOJU_ISSUANCE_URL, cfg.PIAOJU_INTERNAL_TOKEN)
      : inProcessUpstream(ctx.http, cfg.PIAOJU_INTERNAL_TOKEN);
    registerAppAdminRoutes(ctx.http, apps, cfg.PIAOJU_INTERNAL_TOKEN);
    await ctx.http.register(businessApi, { apps, upstream });
    const pruning = setInterval(() => {
      apps.pruneNonces().catch((error: unknown) => ctx.logger.warn({ err: error }, "nonce pruning failed"));
    }, 60_000);
    pruning.unref();
    return {
      async stop() {
        clearInterval(pruning);
        await prisma.$disconnect();
      },
    };
  },
};
