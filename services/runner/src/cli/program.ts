import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Command, CommanderError } from "commander";

/** The repository (or the image's /app): where the services, packages and scripts are. */
export const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));

/**
 * One subcommand of `piaoju`: a file in ./commands/ whose default export is this. Adding a
 * subcommand is adding one file; the help lists it under its group, in `order`.
 */
export interface CliCommand {
  /** Place in the help: lower first. */
  order: number;
  register(program: Command): void;
}

/** A mistake in how the command was called: printed without a stack, exit code 2. */
export class UsageError extends Error {}

/** The command exists in the plan but not yet in this build: said plainly, exit code 3. */
export class NotYetAvailable extends Error {}

export const groups = {
  run: "Run Piaoju:",
  operate: "Operate an installation:",
  develop: "Develop and measure:",
} as const;

const commandsDir = fileURLToPath(new URL("./commands/", import.meta.url));

export async function buildProgram(): Promise<Command> {
  const pkg = JSON.parse(readFileSync(join(repoRoot, "services/runner/package.json"), "utf8")) as {
    version: string;
  };
  const program = new Command("piaoju")
    .description(
      "Piaoju 票据: fiscal electronic receipts (财政电子票据) and non-tax payment collection.\n" +
        "On a fresh checkout run ./piaoju: it installs what is needed first (skipped when nothing changed).",
    )
    .version(pkg.version, "-V, --version")
    .showSuggestionAfterError(true)
    .showHelpAfterError("(piaoju <command> --help says more)")
    .exitOverride()
    // Options after a subcommand are the subcommand's (bench passes its own through).
    .enablePositionalOptions()
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false });
  const files = readdirSync(commandsDir)
    .filter((f) => f.endsWith(".ts") && !f.includes(".spec."))
    .sort();
  const loaded: CliCommand[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(commandsDir, file)).href)) as { default?: CliCommand };
    if (!mod.default) throw new Error(`commands/${basename(file)} has no default export (a CliCommand)`);
    loaded.push(mod.default);
  }
  for (const command of loaded.sort((a, b) => a.order - b.order)) command.register(program);
  program.addHelpText(
    "after",
    "\nThe same commands run a service in a cluster: node --import tsx services/runner/src/main.ts service stock\n" +
      "(the image's entry point). Exit codes: 0 done, 1 failed, 2 wrong usage, 3 not yet available.",
  );
  return program;
}

/** Parses argv, runs the command, and turns every failure into one plain line and an exit code. */
export async function runCli(argv: readonly string[]): Promise<void> {
  try {
    const program = await buildProgram();
    await program.parseAsync([...argv]);
  } catch (error) {
    process.exitCode = exitCodeOf(error);
  }
}

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message (unknown option, missing argument, …) or the help.
    return error.exitCode === 0 ? 0 : 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError) {
    process.stderr.write(`piaoju: ${message}\n(piaoju <command> --help says more)\n`);
    return 2;
  }
  if (error instanceof NotYetAvailable) {
    process.stderr.write(`piaoju: ${message}\n`);
    return 3;
  }
  if (error instanceof Error && error.name === "ConfigError") {
    process.stderr.write(`piaoju: ${message}\n`);
    return 2;
  }
  process.stderr.write(`piaoju: ${message}\n`);
  if (process.env.PIAOJU_DEBUG && error instanceof Error && error.stack)
    process.stderr.write(`${error.stack}\n`);
  else process.stderr.write("(PIAOJU_DEBUG=1 shows where it failed)\n");
  return 1;
}

/**
 * A subcommand whose owner has not landed it yet: it is listed, takes any arguments, does nothing
 * and says so (exit code 3). Its file is replaced by the real command when that lands.
 */
export function notYetAvailable(command: {
  order: number;
  name: string;
  summary: string;
  description: string;
  message: string;
}): CliCommand {
  return {
    order: command.order,
    register(program) {
      program
        .command(command.name)
        .helpGroup(groups.operate)
        .summary(`${command.summary} (not yet available)`)
        .description(`${command.description} Not yet available in this build.`)
        .allowUnknownOption()
        .allowExcessArguments()
        .action(() => {
          throw new NotYetAvailable(`${command.name} is not yet available in this build: ${command.message}`);
        });
    },
  };
}
