import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { devBinary, runProgram } from "../child.ts";
import { type CliCommand, groups, repoRoot, UsageError } from "../program.ts";

/** What the suite needs on the machine, and why (checked before anything runs). */
const needs: Array<[string, string]> = [
  ["java", "the Kafka broker the tests start"],
  ["mvn", "fetching Kafka from Maven Central"],
  ["openssl", "interop tests of the national crypto"],
  ["psql", "the machine's PostgreSQL for integration tests"],
  ["kubectl", "rendering the k8s/ overlays (kustomize v5, kubectl 1.27 or later)"],
];

/** `piaoju test`: lint, types and the whole suite (what CI runs), or vitest on a few files. */
export default {
  order: 100,
  register(program) {
    program
      .command("test")
      .helpGroup(groups.develop)
      .summary("lint, types and every test (what CI runs); with paths, only those tests")
      .description(
        "Lint (biome), types (tsc through turbo) and every test against real PostgreSQL and a real Kafka " +
          "broker it starts, ending with one line: N passed, N failed, N skipped. With paths (or --unit), " +
          "only vitest on those.",
      )
      .argument("[paths...]", "test files or folders (vitest filters)")
      .option("--unit", "unit tests only (no broker, no database)")
      .action(async (paths: string[], opts: { unit?: boolean }) => {
        const vitest = devBinary("vitest");
        if (paths.length > 0 || opts.unit) {
          process.exitCode = await runProgram(vitest, [
            "run",
            ...(opts.unit ? ["--project", "unit"] : []),
            ...paths,
          ]);
          return;
        }
        for (const [tool, why] of needs) {
          if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
            throw new UsageError(`${tool} is needed (${why})`);
          }
        }
        const started = Date.now();
        const step = async (name: string, args: string[]) => {
          const code = await runProgram(devBinary(name), args);
          if (code !== 0) throw new Error(`${name} failed (exit code ${code})`);
        };
        await step("biome", ["check", "."]);
        await step("turbo", ["run", "typecheck", "--output-logs=errors-only"]);
        mkdirSync(join(repoRoot, "test-results"), { recursive: true });
        const status = await runProgram(vitest, [
          "run",
          "--reporter=default",
          "--reporter=json",
          "--outputFile.json=test-results/vitest.json",
        ]);
        // One plain summary line, whatever the runner printed above.
        try {
          const r = JSON.parse(readFileSync(join(repoRoot, "test-results/vitest.json"), "utf8")) as Record<
            string,
            number
          >;
          console.log(
            `${r.numPassedTests} passed, ${r.numFailedTests} failed, ${(r.numPendingTests ?? 0) + (r.numTodoTests ?? 0)} skipped`,
          );
        } catch {
          console.log("the suite wrote no report (test-results/vitest.json)");
        }
        console.log(`suite took ${Math.round((Date.now() - started) / 1000)} s`);
        process.exitCode = status;
      });
  },
} satisfies CliCommand;
