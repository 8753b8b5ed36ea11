import { fileURLToPath } from "node:url";
import { createPrismaClient } from "@piaoju/persistence";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { z } from "zod";
import { Apps } from "./app/apps.ts";
import { httpUpstream, inProcessUpstream } from "./app/upstream.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { registerAppAdminRoutes } from "./http/apps-admin.ts";
import { businessApi } from "./http/business-api.ts";
import { paymentApi } from "./http/payment-api.ts";

const config = z.object({
  PIAOJU_INTERNAL_TOKEN: z.string().min(32, "at least 32 characters"),
  /** SM4 key (32 hex digits) sealing app secrets at rest. */
  PIAOJU_SECRETS_KEY: z.string().regex(/^[0-9a-fA-F]{32}$/, "an SM4 key: 32 hex digits"),
  /** Cluster: the receipt (issuance) service's address. Embedded: unset, the same process serves it. */
  PIAOJU_ISSUANCE_URL: z.url().optional(),
  /** Cluster: the payment service's address. Embedded: unset, the same process serves it. */
  PIAOJU_PAYMENT_URL: z.url().optional(),
});

/** Composition root of the gateway: business systems' API and their credentials. */
export const gatewayService: ServiceModule = {
  name: "gateway",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  async start(ctx) {
    const cfg = parseConfig(config, ctx.env);
    const prisma = createPrismaClient(ctx.db, PrismaClient);
    const apps = new Apps(prisma, Buffer.from(cfg.PIAOJU_SECRETS_KEY, "hex"), () => new Date());
    const upstream = cfg.PIAOJU_ISSUANCE_URL
      ? httpUpstream(cfg.PIAOJU_ISSUANCE_URL, cfg.PIAOJU_INTERNAL_TOKEN)
      : inProcessUpstream(ctx.http, cfg.PIAOJU_INTERNAL_TOKEN);
    registerAppAdminRoutes(ctx.http, apps, cfg.PIAOJU_INTERNAL_TOKEN);
    await ctx.http.register(businessApi, { apps, upstream });
    const paymentUpstream = cfg.PIAOJU_PAYMENT_URL
      ? httpUpstream(cfg.PIAOJU_PAYMENT_URL, cfg.PIAOJU_INTERNAL_TOKEN)
      : inProcessUpstream(ctx.http, cfg.PIAOJU_INTERNAL_TOKEN);
    await ctx.http.register(paymentApi, { apps, upstream: paymentUpstream });
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
