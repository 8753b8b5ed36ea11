import { Option } from "commander";
import { type CliCommand, groups } from "../program.ts";

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
