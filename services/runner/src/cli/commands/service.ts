import { type CliCommand, groups, UsageError } from "../program.ts";

/** `piaoju service <name…>`: cluster mode, what each Kubernetes Deployment runs. */
export default {
  order: 20,
  register(program) {
    program
      .command("service")
      .helpGroup(groups.run)
      .summary("run services in cluster mode (what each Kubernetes Deployment runs)")
      .description(
        "Runs the named services in this process against PostgreSQL (PIAOJU_DATABASE_URL) and Kafka " +
          "(KAFKA_BROKERS), with PIAOJU_INTERNAL_TOKEN; each migrates its database before it listens.",
      )
      .argument("[names...]", "services to run: piaoju service --list names them")
      .option("--list", "name the services and exit")
      .option("--embedded", "run them embedded instead (PGlite, embedded bus), without the dev conveniences")
      .action(async (names: string[], opts: { list?: boolean; embedded?: boolean }) => {
        const { services } = await import("../../services.ts");
        const known = services.map((s) => s.name);
        if (opts.list) {
          process.stdout.write(`${known.join("\n")}\n`);
          return;
        }
        if (names.length === 0) throw new UsageError(`name a service: ${known.join(", ")}`);
        const unknown = names.filter((n) => !known.includes(n));
        if (unknown.length > 0) {
          throw new UsageError(`unknown service(s): ${unknown.join(", ")}; known: ${known.join(", ")}`);
        }
        const { runPlatformProcess } = await import("../../platform-process.ts");
        await runPlatformProcess({
          mode: opts.embedded ? "embedded" : "cluster",
          services: services.filter((s) => names.includes(s.name)),
          withFinanceSimulator: false,
          withDemo: false,
          env: { ...process.env },
        });
      });
  },
} satisfies CliCommand;
