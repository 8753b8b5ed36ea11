import { fileURLToPath } from "node:url";
import { AssertionSigner } from "@piaoju/access";
import { createPrismaClient } from "@piaoju/persistence";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { z } from "zod";
import { Apps } from "./app/apps.ts";
import { AuditLog } from "./app/audit.ts";
import { Identity } from "./app/identity.ts";
import { httpUpstream, inProcessUpstream, type Upstream } from "./app/upstream.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { registerAppAdminRoutes } from "./http/apps-admin.ts";
import { businessApi } from "./http/business-api.ts";
import { registerConsoleRoutes } from "./http/console.ts";
import { registerOperatorRoutes } from "./http/operator.ts";

const config = z.object({
  PIAOJU_INTERNAL_TOKEN: z.string().min(32, "at least 32 characters"),
  /** SM4 key (32 hex digits) sealing app secrets and TOTP secrets at rest. */
  PIAOJU_SECRETS_KEY: z.string().regex(/^[0-9a-fA-F]{32}$/, "an SM4 key: 32 hex digits"),
  /** The gateway's identity-assertion signing key (Ed25519, PKCS#8 DER in base64); ADR 0012. */
  PIAOJU_ASSERTION_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/=]{40,200}$/, "an Ed25519 private key: PKCS#8 DER in base64"),
  /** Cluster: the receipt (issuance) service's address. Embedded: unset, the same process serves it. */
  PIAOJU_ISSUANCE_URL: z.url().optional(),
  /**
   * Cluster: the other services' addresses, for the console's calls, as `name=url` pairs separated by
   * commas (stock, issuance, delivery, finance-exchange, reporting). Embedded: unset.
   */
  PIAOJU_UPSTREAM_URLS: z
    .string()
    .regex(/^([a-z-]+=[^,\s]+)(,[a-z-]+=[^,\s]+)*$/, "name=url pairs separated by commas")
    .optional(),
  /** Cookies only over HTTPS ("true", the default; "false" for plain-HTTP development on loopback). */
  PIAOJU_CONSOLE_SECURE_COOKIES: z.enum(["true", "false"]).default("true"),
  PIAOJU_SESSION_IDLE_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(30),
  PIAOJU_SESSION_HOURS: z.coerce.number().int().min(1).max(72).default(12),
  /**
   * "print": on a fresh installation (no user yet) create the first administrators and print their
   * one-time passwords to standard output, once (`./piaoju start` sets it; a cluster uses `piaoju admin create`).
   */
  PIAOJU_CONSOLE_BOOTSTRAP: z.enum(["print", "off"]).default("off"),
});

/** Which service owns an internal path. */
const OWNERS: Array<[string, string]> = [
  ["/v1/stock/", "stock"],
  ["/v1/issuance/", "issuance"],
  ["/v1/receipts", "issuance"],
  ["/v1/delivery/", "delivery"],
  ["/v1/finance-exchange/", "finance-exchange"],
  ["/v1/reporting/", "reporting"],
];

/** Composition root of the gateway: business systems' API and credentials, people's identity and the console API. */
export const gatewayService: ServiceModule = {
  name: "gateway",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  async start(ctx) {
    const cfg = parseConfig(config, ctx.env);
    const prisma = createPrismaClient(ctx.db, PrismaClient);
    const clock = () => new Date();
    const secretsKey = Buffer.from(cfg.PIAOJU_SECRETS_KEY, "hex");
    const signer = new AssertionSigner(cfg.PIAOJU_ASSERTION_KEY);
    const apps = new Apps(prisma, secretsKey, clock);
    const audit = new AuditLog(prisma, clock);
    const identity = new Identity(prisma, secretsKey, audit, clock, {
      idleMs: cfg.PIAOJU_SESSION_IDLE_MINUTES * 60_000,
      absoluteMs: cfg.PIAOJU_SESSION_HOURS * 3_600_000,
    });
    await identity.ensureBuiltInRoles();

    const local = inProcessUpstream(ctx.http, cfg.PIAOJU_INTERNAL_TOKEN, signer);
    const remote = new Map<string, Upstream>();
    for (const pair of cfg.PIAOJU_UPSTREAM_URLS?.split(",") ?? []) {
      const [name, url] = pair.split("=") as [string, string];
      remote.set(name, httpUpstream(url, cfg.PIAOJU_INTERNAL_TOKEN, signer));
    }
    if (cfg.PIAOJU_ISSUANCE_URL && !remote.has("issuance")) {
      remote.set("issuance", httpUpstream(cfg.PIAOJU_ISSUANCE_URL, cfg.PIAOJU_INTERNAL_TOKEN, signer));
    }
    const upstreamFor = (path: string): Upstream => {
      const owner = OWNERS.find(([prefix]) => path.startsWith(prefix))?.[1];
      return (owner && remote.get(owner)) || local;
    };

    registerAppAdminRoutes(ctx.http, apps, cfg.PIAOJU_INTERNAL_TOKEN);
    registerOperatorRoutes(ctx.http, { identity, audit, internalToken: cfg.PIAOJU_INTERNAL_TOKEN });
    registerConsoleRoutes(ctx.http, {
      identity,
      audit,
      upstreamFor,
      secureCookies: cfg.PIAOJU_CONSOLE_SECURE_COOKIES === "true",
      sessionSeconds: cfg.PIAOJU_SESSION_HOURS * 3600,
    });
    await ctx.http.register(businessApi, { apps, upstream: upstreamFor("/v1/receipts") });

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
        await prisma.$disconnect();
      },
    };
  },
};
