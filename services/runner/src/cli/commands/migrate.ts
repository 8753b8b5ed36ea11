import { existsSync } from "node:fs";
import { join } from "node:path";
import { runScript } from "../child.ts";
import { type CliCommand, groups, repoRoot, UsageError } from "../program.ts";

/** `piaoju migrate`: apply the services' migrations without starting them, or write a new one. */
export default {
  order: 40,
  register(program) {
    const migrate = program
      .command("migrate")
      .helpGroup(groups.operate)
      .summary("apply database migrations, or write a new one")
      .description(
        "Applies migrations (a service also applies its own at start, before it listens), or writes one.",
      );
    migrate
      .command("apply")
      .description("apply the platform's and the services' migrations to their databases, then exit")
      .argument("[services...]", "which services (default: all)")
      .option("--embedded", "the embedded installation's PGlite databases (PIAOJU_DATA_DIR), not PostgreSQL")
      .action(async (names: string[], opts: { embedded?: boolean }) => {
        const { services } = await import("../../services.ts");
        const { migrateServices } = await import("@piaoju/runtime");
        const unknown = names.filter((n) => !services.some((s) => s.name === n));
        if (unknown.length > 0) throw new UsageError(`unknown service(s): ${unknown.join(", ")}`);
        const chosen = names.length ? services.filter((s) => names.includes(s.name)) : services;
        await migrateServices({
          mode: opts.embedded ? "embedded" : "cluster",
          services: chosen,
          env: process.env,
          log: (service, message) => process.stdout.write(`${service}: ${message}\n`),
        });
        process.stdout.write(`migrated: ${chosen.map((s) => s.name).join(", ")}\n`);
      });
    migrate
      .command("new")
      .description("write a new migration for a service from the change in its prisma/schema.prisma")
      .argument("<service>", "the service whose schema changed")
      .argument("<name>", "what the migration does, e.g. add_payer_email")
      .action(async (service: string, name: string) => {
        const dir = join(repoRoot, "services", service);
        if (!existsSync(join(dir, "prisma", "schema.prisma"))) {
          throw new UsageError(`services/${service} has no prisma/schema.prisma`);
        }
        process.exitCode = await runScript(
          "packages/persistence/src/cli/migration-diff.ts",
          ["--schema", "prisma/schema.prisma", "--name", name],
          { cwd: dir, what: "piaoju migrate new" },
        );
      });
  },
} satisfies CliCommand;
