import { runScript } from "../child.ts";
import { type CliCommand, groups, UsageError } from "../program.ts";

/** The benchmarks, each printing its figures beside a floor measured in the same run. */
const benches: Record<string, { script: string; cwd?: string; what: string }> = {
  issuance: {
    script: "test/bench/issuance.ts",
    what: "cluster issuance: receipts/s and latency, beside PostgreSQL INSERTs/s",
  },
  signing: {
    script: "test/bench/signing.ts",
    what: "two signing devices behind the gateway, against the hardware rating",
  },
  e2e: {
    script: "test/bench/e2e.ts",
    what: "receipts fully issued through the business API, embedded: rates, latency, CPU, beside floors",
  },
  payment: {
    script: "test/bench/payment.ts",
    what: "payments through the cashier and the channel simulators to the receipt, embedded: payments/s, latency, counts, beside floors",
  },
  idle: {
    script: "test/bench/idle.ts",
    what: "the embedded platform left alone: CPU share and time to ready, beside a bare Node process",
  },
  reporting: {
    script: "test/bench/reporting.ts",
    what: "a million receipts' read models: load rate and each report's p99, beside a plain SQL aggregate",
  },
  "gm-crypto": {
    script: "packages/gm-crypto/src/bench.ts",
    cwd: "packages/gm-crypto",
    what: "SM2/SM3/SM4 per core",
  },
  "finance-simulator": {
    script: "services/finance-simulator/src/bench.ts",
    cwd: "services/finance-simulator",
    what: "the finance simulator's supervision rate",
  },
};

/** `piaoju bench <name> [args…]`. */
export default {
  order: 120,
  register(program) {
    program
      .command("bench")
      .helpGroup(groups.develop)
      .summary("run a benchmark (figures beside a floor measured in the same run)")
      .description("Runs a benchmark; its own options follow the name.")
      .addHelpText(
        "after",
        `\nBenchmarks:\n${Object.entries(benches)
          .map(([name, b]) => `  ${name.padEnd(18)} ${b.what}`)
          .join("\n")}`,
      )
      .argument("<name>", Object.keys(benches).join(" | "))
      .argument("[args...]", "passed to the benchmark")
      .allowUnknownOption()
      .passThroughOptions()
      .action(async (name: string, args: string[]) => {
        const bench = benches[name];
        if (!bench)
          throw new UsageError(`unknown benchmark ${name}; known: ${Object.keys(benches).join(", ")}`);
        const { join } = await import("node:path");
        const { repoRoot } = await import("../program.ts");
        process.exitCode = await runScript(bench.script, args, {
          what: `piaoju bench ${name}`,
          ...(bench.cwd ? { cwd: join(repoRoot, bench.cwd) } : {}),
        });
      });
  },
} satisfies CliCommand;
