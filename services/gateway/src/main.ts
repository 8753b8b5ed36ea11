import { fileURLToPath } from "node:url";
import { AssertionSigner } from "@piaoju/access";
import { createPrismaClient } from "@piaoju/persistence";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { Keyring, LEGACY_FORMATS, Sealer } from "@piaoju/sealing";
import { Apps } from "./app/apps.ts";
import { AuditLog } from "./app/audit.ts";
import { Identity } from "./app/identity.ts";
import { TrustList } from "./app/trust.ts";
import { httpUpstream, inProcessUpstream, type Upstream } from "./app/upstream.ts";
import { config } from "./config.ts";
import { consumeTrustEvents } from "./consumers/trust.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { registerAdminConsole } from "./http/admin-console.ts";
import { registerAppAdminRoutes } from "./http/apps-admin.ts";
import { businessApi } from "./http/business-api.ts";
import { registerConsoleRoutes } from "./http/console.ts";
import { registerOpenApi } from "./http/openapi.ts";
import { registerOperatorRoutes } from "./http/operator.ts";
import { paymentApi } from "./http/payment-api.ts";
import { registerTrustRoutes } from "./http/trust.ts";

/** Which service owns an internal path. */
const OWNERS: Array<[string, string]> = [
  ["/v1/stock/", "stock"],
  ["/v1/issuance/", "issuance"],
  ["/v1/receipts", "issuance"],
  ["/v1/delivery/", "delivery"],
  ["/v1/finance-exchange/", "finance-exchange"],
  ["/v1/reporting/", "reporting"],
  ["/v1/payments", "payment"],
];

/** Composition root of the gateway: business systems' API and credentials, people's identity and the console API. */
export const gatewayService: ServiceModule = {
  name: "gateway",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  config,
  async start(ctx) {
    const cfg = parseConfig(config, ctx.env);
    const prisma = createPrismaClient(ctx.db, PrismaClient);
    const clock = () => new Date();
    const sealer = new Sealer(Keyring.parse(cfg.PIAOJU_SECRETS_KEY), {
      legacy: [LEGACY_FORMATS.gatewayDelivery],
    });
    const signer = new AssertionSigner(cfg.PIAOJU_ASSERTION_KEY);
    const apps = new Apps(prisma, sealer, clock);
    const resealed = await apps.resealStale();
    if (resealed > 0) ctx.logger.info({ resealed }, "app secrets sealed again in the current format and key");
    const audit = new AuditLog(prisma, clock, sealer);
    const identity = new Identity(prisma, sealer, audit, clock, {
      idleMs: cfg.PIAOJU_SESSION_IDLE_MINUTES * 60_000,
      absoluteMs: cfg.PIAOJU_SESSION_HOURS * 3_600_000,
    });
    await identity.ensureBuiltInRoles();

    const local = inProcessUpstream(ctx.http, cfg.PIAOJU_INTERNAL_TOKEN, signer);
    const remote = new Map<string, Upstream>();
    for (const pair of cfg.PIAOJU_UPSTREAM_URLS?.split(",") ?? []) {
      const [name, url] = pair.split("=") as [string, string];
      remote.set(name, httpUpstream(name, url, cfg.PIAOJU_INTERNAL_TOKEN, signer));
    }
    if (cfg.PIAOJU_ISSUANCE_URL && !remote.has("issuance")) {
      remote.set(
        "issuance",
        httpUpstream("issuance", cfg.PIAOJU_ISSUANCE_URL, cfg.PIAOJU_INTERNAL_TOKEN, signer),
      );
    }
    if (cfg.PIAOJU_PAYMENT_URL && !remote.has("payment")) {
      remote.set(
        "payment",
        httpUpstream("payment", cfg.PIAOJU_PAYMENT_URL, cfg.PIAOJU_INTERNAL_TOKEN, signer),
      );
    }
    const upstreamFor = (path: string): Upstream => {
      const owner = OWNERS.find(([prefix]) => path.startsWith(prefix))?.[1];
      return (owner && remote.get(owner)) || local;
    };

    await registerOpenApi(ctx.http);
    registerAppAdminRoutes(ctx.http, apps, cfg.PIAOJU_INTERNAL_TOKEN);
    registerOperatorRoutes(ctx.http, { identity, audit, internalToken: cfg.PIAOJU_INTERNAL_TOKEN });
    registerConsoleRoutes(ctx.http, {
      identity,
      audit,
      upstreamFor,
      secureCookies: cfg.PIAOJU_CONSOLE_SECURE_COOKIES === "true",
      sessionSeconds: cfg.PIAOJU_SESSION_HOURS * 3600,
    });
    await registerAdminConsole(ctx.http);
    await ctx.http.register(businessApi, {
      apps,
      upstream: upstreamFor("/v1/receipts"),
      // Counted in memory embedded; in the service's PostgreSQL in a cluster (every replica, one budget).
      db: ctx.db,
      limits: {
        perAddress: cfg.PIAOJU_LOOKUP_LIMIT_PER_ADDRESS,
        perCaller: cfg.PIAOJU_LOOKUP_LIMIT_PER_APP,
        windowMs: 60_000,
      },
    });
    await ctx.http.register(paymentApi, { apps, upstream: upstreamFor("/v1/payments") });
    const trust = new TrustList(prisma);
    await registerTrustRoutes(ctx.http, trust);
    const trustIntake = await consumeTrustEvents({
      bus: ctx.bus,
      prisma,
      trust,
      clock,
      published: ctx.outbox.wake,
    });

    if (cfg.PIAOJU_CONSOLE_BOOTSTRAP === "print") {
      const made = await identity.bootstrap({ actor: "platform:first-start", address: "local" });
      if (made.length > 0) {
        // Standard output of `piaoju start`, once; never the log (no secret goes into logs).
        process.stdout.write(
          [
            "",
            "First administrators (三员分立), each with a one-time password shown only now; change it at first sign-in:",
            ...made.map((m) => `  ${m.username.padEnd(9)} ${m.role.padEnd(15)} ${m.oneTimePassword}`),
            "",
          ].join("\n"),
        );
      }
    }

    const pruning = setInterval(() => {
      apps.pruneNonces().catch((error: unknown) => ctx.logger.warn({ err: error }, "nonce pruning failed"));
    }, 60_000);
    pruning.unref();
    return {
      async stop() {
        clearInterval(pruning);
        await trustIntake.stop();
        await prisma.$disconnect();
      },
    };
  },
};
