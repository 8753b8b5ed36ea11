import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, UsageError } from "./program.ts";

/**
 * Runs a TypeScript script of the repository as a child (`node --import tsx`), with this
 * terminal, and resolves with its exit code. For commands that are separate programs (the
 * benches, the Kafka broker's control, the keystore tool); the platform itself runs in-process.
 */
export function runScript(
  script: string,
  args: readonly string[],
  options: { cwd?: string; what: string } = { what: "this command" },
): Promise<number> {
  const path = join(repoRoot, script);
  if (!existsSync(path)) {
    throw new UsageError(`${options.what} is not part of this installation (${script} is missing)`);
  }
  return runProgram(process.execPath, ["--import", "tsx", path, ...args], options.cwd ?? repoRoot);
}

/** Runs a program with this terminal; SIGINT/SIGTERM reach it too, and its exit code is ours. */
export function runProgram(
  command: string,
  args: readonly string[],
  cwd: string = repoRoot,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: "inherit" });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward).on("SIGTERM", forward);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      process.off("SIGINT", forward).off("SIGTERM", forward);
      resolve(code ?? (signal ? 128 + signalNumber(signal) : 1));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : signal === "SIGKILL" ? 9 : 1;
}

/** A binary of the development install (biome, turbo, vitest), or a clear refusal without one. */
export function devBinary(name: string): string {
  const path = join(repoRoot, "node_modules", ".bin", name);
  if (!existsSync(path)) {
    throw new UsageError(
      `${name} is not installed: this command needs a development checkout (./piaoju installs it)`,
    );
  }
  return path;
}
