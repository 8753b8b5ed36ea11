import { fileURLToPath } from "node:url";
import { loadCjkFont } from "@piaoju/locale";
import { parseConfig, type ServiceModule } from "@piaoju/runtime";
import { Keyring } from "@piaoju/sealing";
import { PayerProtection } from "./adapters/payer-protection.ts";
import { cachedLag, projectionLag } from "./app/lag.ts";
import { observeLag } from "./app/metrics.ts";
import { rebuildReadModels } from "./app/rebuild.ts";
import { reportingConfig } from "./config.ts";
import { projectionGroup, projectionTopics, startProjection } from "./consumers/projection.ts";
import { registerReportingRoutes } from "./http/routes.ts";

/** Composition root of reporting (统计报表): the projection consumer, the reports' API, exports. */
export const reportingService: ServiceModule = {
  name: "reporting",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  config: reportingConfig,
  async start(ctx) {
    const cfg = parseConfig(reportingConfig, ctx.env);
    const clock = () => new Date();
    const protection = new PayerProtection(Keyring.parse(cfg.PIAOJU_SECRETS_KEY));
    let font: ReturnType<typeof loadCjkFont> | undefined;
    const projection = await startProjection({
      bus: ctx.bus,
      db: ctx.db,
      protection,
      pollMs: cfg.PIAOJU_REPORTING_GENERATION_POLL_MS,
      onError: (error) =>
        ctx.logger.warn({ err: error }, "reporting: a generation check or checkpoint write failed"),
    });
    const lag = cachedLag(
      () => projectionLag({ bus: ctx.bus, db: ctx.db }, projection.generation, projectionTopics),
      1_000,
    );
    observeLag(lag, clock);
    registerReportingRoutes(
      ctx.http,
      {
        deps: {
          db: ctx.db,
          protection,
          clock,
          lagEvents: async () => (await lag()).reduce((n, t) => n + t.behind, 0),
        },
        db: ctx.db,
        // Loaded on the first PDF export, then kept.
        font: () => {
          font ??= loadCjkFont(cfg.PIAOJU_CJK_FONT);
          return font;
        },
        lag,
        rebuild: (actor) =>
          rebuildReadModels(
            { db: ctx.db, clock, groupOf: projectionGroup, switchTo: projection.switchTo },
            actor,
          ),
      },
      cfg.PIAOJU_INTERNAL_TOKEN,
    );
    return {
      async stop() {
        await projection.stop();
      },
    };
  },
};
