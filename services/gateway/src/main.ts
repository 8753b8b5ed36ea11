import { fileURLToPath } from "node:url";
import { createPrismaClient } from "@piaoju/persistence";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { Keyring, LEGACY_FORMATS, Sealer } from "@piaoju/sealing";
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
    const sealer = new Sealer(Keyring.parse(cfg.PIAOJU_SECRETS_KEY), {
      legacy: [LEGACY_FORMATS.gatewayDelivery],
    });
    const apps = new Apps(prisma, sealer, () => new Date());
    const resealed = await apps.resealStale();
    if (resealed > 0) ctx.logger.info({ resealed }, "app secrets sealed again in the current format and key");
    const upstream = cfg.PIAOJU_ISSUANCE_URL
      ? httpUpstream(cfg.PIAOJU_ISSUANCE_URL, cfg.PIAOJU_INTERNAL_TOKEN)
      : inProcessUpstream(ctx.http, cfg.PIAOJU_INTERNAL_TOKEN);
    registerAppAdminRoutes(ctx.http, apps, cfg.PIAOJU_INTERNAL_TOKEN);
    await ctx.http.register(businessApi, {
      apps,
      upstream,
      // Counted in memory embedded; in the service's PostgreSQL in a cluster (every replica, one budget).
      db: ctx.db,
      limits: {
        perAddress: cfg.PIAOJU_LOOKUP_LIMIT_PER_ADDRESS,
        perCaller: cfg.PIAOJU_LOOKUP_LIMIT_PER_APP,
        windowMs: 60_000,
      },
    });
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
