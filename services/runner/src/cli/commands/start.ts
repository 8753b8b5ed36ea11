import { existsSync } from "node:fs";
import { join } from "node:path";
import { Option } from "commander";
import { type CliCommand, groups, repoRoot, UsageError } from "../program.ts";

/** `piaoju start`: every service embedded, with the development conveniences (README, "Try it"). */
export default {
  order: 10,
  register(program) {
    program
      .command("start")
      .helpGroup(groups.run)
      .summary("start Piaoju embedded, with the finance simulator and the demo (the first command)")
      .description(
        "Starts every service in this process (PGlite, the embedded bus, data in .data/), the finance " +
          "simulator beside it as a development peer, and plays the demo once; keeps serving until Ctrl-C " +
          "or SIGTERM, which stop it cleanly.",
      )
      .option("--no-demo", "skip the demo (an agency issuing one receipt end to end)")
      .option(
        "--no-finance-simulator",
        "leave the finance simulator out (receipts then wait for FINANCE_URL)",
      )
      .addOption(new Option("--port <port>", "HTTP port").env("PIAOJU_HTTP_PORT"))
      .addOption(new Option("--data-dir <dir>", "data folder").env("PIAOJU_DATA_DIR"))
      .action(async (opts: { demo: boolean; financeSimulator: boolean; port?: string; dataDir?: string }) => {
        if (
          opts.financeSimulator &&
          !process.env.FINANCE_URL &&
          !existsSync(join(repoRoot, "services/finance-simulator/src"))
        ) {
          // The image leaves the simulator out: it is a development peer, not part of Piaoju.
          throw new UsageError(
            "the finance simulator is not in this installation: start --no-finance-simulator, with FINANCE_URL for finance",
          );
        }
        const { runPlatformProcess } = await import("../../platform-process.ts");
        const { services } = await import("../../services.ts");
        const env: Record<string, string | undefined> = { ...process.env };
        // Warnings and errors only, so the demo's story reads on the terminal (LOG_LEVEL=info for all).
        env.LOG_LEVEL ??= "warn";
        if (opts.port !== undefined) env.PIAOJU_HTTP_PORT = opts.port;
        if (opts.dataDir !== undefined) env.PIAOJU_DATA_DIR = opts.dataDir;
        await runPlatformProcess({
          mode: "embedded",
          services,
          withFinanceSimulator: opts.financeSimulator,
          withDemo: opts.demo,
          env,
        });
      });
  },
} satisfies CliCommand;
