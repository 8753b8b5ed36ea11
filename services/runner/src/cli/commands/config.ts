import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CliCommand, groups, repoRoot } from "../program.ts";

/** The generated files and what they hold, from the same catalog. */
export async function configFiles(): Promise<{ path: string; text: string }[]> {
  const { buildCatalog, renderEnvExample, renderMarkdown } = await import("../../config-catalog.ts");
  const { services } = await import("../../services.ts");
  const catalog = buildCatalog(services);
  if (catalog.problems.length > 0) {
    throw new Error(`the configuration schemas are not in order:\n  ${catalog.problems.join("\n  ")}`);
  }
  return [
    { path: "docs/CONFIG.md", text: renderMarkdown(catalog) },
    { path: ".env.example", text: renderEnvExample(catalog) },
  ];
}

/** `piaoju config`: every environment variable, from the schemas that parse them. */
export default {
  order: 45,
  register(program) {
    program
      .command("config")
      .helpGroup(groups.operate)
      .summary("every environment variable, with defaults and meaning (docs/CONFIG.md)")
      .description(
        "Prints the configuration catalog generated from each service's schema; --write updates " +
          "docs/CONFIG.md and .env.example, --check fails when they are out of date.",
      )
      .option("--write", "write docs/CONFIG.md and .env.example")
      .option("--check", "exit 1 when docs/CONFIG.md or .env.example differ from the schemas")
      .action(async (opts: { write?: boolean; check?: boolean }) => {
        const files = await configFiles();
        if (opts.write) {
          for (const f of files) writeFileSync(join(repoRoot, f.path), f.text);
          console.log(`wrote ${files.map((f) => f.path).join(", ")}`);
          return;
        }
        if (opts.check) {
          const stale = files.filter((f) => {
            try {
              return readFileSync(join(repoRoot, f.path), "utf8") !== f.text;
            } catch {
              return true;
            }
          });
          if (stale.length > 0) {
            console.error(
              `out of date: ${stale.map((f) => f.path).join(", ")} (run ./piaoju config --write)`,
            );
            process.exitCode = 1;
          }
          return;
        }
        process.stdout.write(files[0]!.text);
      });
  },
} satisfies CliCommand;
