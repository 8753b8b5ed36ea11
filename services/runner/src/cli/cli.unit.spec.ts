import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The CLI as a person meets it: generated help, plain errors with usage exit codes, and honest
// "not yet available" for commands still being built (none today). (No platform is started here.)
const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const commandFiles = readdirSync(fileURLToPath(new URL("./commands/", import.meta.url))).filter(
  (f) => f.endsWith(".ts") && !f.includes(".spec."),
);

function piaoju(...args: string[]) {
  const run = spawnSync(process.execPath, ["--import", "tsx", "services/runner/src/main.ts", ...args], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, PIAOJU_DEBUG: "" },
  });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

describe("piaoju", () => {
  it("lists every subcommand file in its help, grouped", () => {
    const help = piaoju("--help");
    expect(help.code).toBe(0);
    for (const file of commandFiles)
      expect(help.out).toMatch(new RegExp(`^  ${file.replace(".ts", "")}\\b`, "m"));
    for (const name of [
      "start",
      "demo",
      "test",
      "kafka",
      "service",
      "migrate",
      "dead-letters",
      "keystore",
      "admin",
      "backup",
      "restore",
      "bench",
    ]) {
      expect(commandFiles).toContain(`${name}.ts`);
    }
    expect(help.out).toContain("Run Piaoju:");
    expect(help.out).toContain("Operate an installation:");
    expect(piaoju("migrate", "apply", "--help").out).toContain("--embedded");
  }, 120_000);

  it("refuses an unknown command or option in one plain line, exit code 2, no stack trace", () => {
    const command = piaoju("strat");
    expect(command.code).toBe(2);
    expect(command.err).toContain("error: unknown command 'strat'");
    expect(command.err).toContain("(Did you mean start?)");
    const option = piaoju("start", "--no-dmeo");
    expect(option.code).toBe(2);
    expect(option.err).toContain("error: unknown option '--no-dmeo'");
    const service = piaoju("service", "stokc");
    expect(service.code).toBe(2);
    expect(service.err).toContain("unknown service(s): stokc; known: stock, issuance");
    for (const run of [command, option, service]) expect(run.err).not.toMatch(/^\s+at /m);
  }, 120_000);

  it("admin: creates accounts and verifies the audit log through a running gateway, refusing plainly without one", () => {
    const help = piaoju("admin", "create", "--help");
    expect(help.code).toBe(0);
    expect(help.out).toContain("--agency <code>");
    expect(help.out).toContain("system-admin");
    const missing = piaoju("admin", "create", "li.si", "--role", "clerk");
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("required option '--agency <code>' not specified");
    const noToken = piaoju("admin", "audit", "verify", "--token-file", "/nonexistent/token");
    expect(noToken.code).toBe(2);
    expect(noToken.err).toContain("no internal token");
    expect(noToken.out).toBe("");
  }, 120_000);

  it("fails a command in one plain line, without a stack trace", () => {
    const run = piaoju(
      "dead-letters",
      "list",
      "g",
      "--token-file",
      "/nonexistent/token",
      "--url",
      "http://127.0.0.1:9",
    );
    expect(run.code).toBe(2);
    expect(run.err).toContain("no internal token: set PIAOJU_INTERNAL_TOKEN or --token-file");
    expect(run.err).not.toMatch(/^\s+at /m);
  }, 120_000);
});
