import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The dependency rule (.dependency-cruiser.cjs) run by dependency-cruiser over the workspace, and
// over a small tree that breaks each clause, so a rule that stopped matching would show here.
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const config = join(repoRoot, ".dependency-cruiser.cjs");
const depcruise = join(repoRoot, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs");

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

function cruise(
  cwd: string,
  dirs: string[],
): { status: number | null; violations: Violation[]; text: string } {
  const run = spawnSync(process.execPath, [depcruise, "--config", config, "--output-type", "json", ...dirs], {
    cwd,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = JSON.parse(run.stdout) as { summary: { violations: Violation[] } };
  return {
    status: run.status,
    violations: out.summary.violations,
    text: out.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).join("\n"),
  };
}

const scratch = mkdtempSync(join(tmpdir(), "piaoju-deprule-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function write(path: string, text: string): void {
  mkdirSync(dirname(join(scratch, path)), { recursive: true });
  writeFileSync(join(scratch, path), text);
}

describe("the dependency rule", () => {
  it("holds in the workspace: no service imports another, domain/ is pure, no circles", () => {
    const result = cruise(repoRoot, ["packages", "services", "test", "deploy", "proto"]);
    expect(result.status).toBe(0);
    expect(result.text).toBe("");
  }, 180_000);

  it("fails on a service importing another, a domain file importing I/O, and a circle", () => {
    write("tsconfig.base.json", JSON.stringify({ compilerOptions: { allowImportingTsExtensions: true } }));
    write("node_modules/fastify/package.json", JSON.stringify({ name: "fastify", main: "index.js" }));
    write("node_modules/fastify/index.js", "module.exports = {};\n");
    write(
      "services/alpha/src/main.ts",
      'import { beta } from "../../beta/src/main.ts";\nexport const alpha = beta;\n',
    );
    write("services/beta/src/main.ts", "export const beta = 1;\n");
    write(
      "services/alpha/src/domain/pure.ts",
      'import "fastify";\nimport { readFileSync } from "node:fs";\nexport const f = readFileSync;\n',
    );
    write("services/alpha/src/domain/uses-app.ts", 'import { x } from "../app/x.ts";\nexport const y = x;\n');
    write("services/alpha/src/app/x.ts", 'import "fastify";\nexport const x = 1;\n');
    write("services/alpha/src/app/a.ts", 'import { b } from "./b.ts";\nexport const a = () => b;\n');
    write("services/alpha/src/app/b.ts", 'import { a } from "./a.ts";\nexport const b = () => a;\n');
    write(
      "services/runner/src/main.ts",
      'import { x } from "../../alpha/src/app/x.ts";\nexport const r = x;\n',
    );
    write(
      "packages/shared/src/index.ts",
      'import { beta } from "../../../services/beta/src/main.ts";\nexport const s = beta;\n',
    );

    const result = cruise(scratch, ["services", "packages"]);
    const found = result.violations.map((v) => `${v.rule.name} ${v.from} → ${v.to}`);
    expect(found).toEqual(
      expect.arrayContaining([
        "no-service-imports-another services/alpha/src/main.ts → services/beta/src/main.ts",
        "domain-imports-no-io services/alpha/src/domain/pure.ts → node_modules/fastify/index.js",
        "domain-imports-no-io-core services/alpha/src/domain/pure.ts → fs",
        "domain-reaches-no-io services/alpha/src/domain/uses-app.ts → node_modules/fastify/index.js",
        "no-circular services/alpha/src/app/a.ts → services/alpha/src/app/b.ts",
        "runner-uses-service-entries-only services/runner/src/main.ts → services/alpha/src/app/x.ts",
        "no-package-imports-a-service packages/shared/src/index.ts → services/beta/src/main.ts",
      ]),
    );
  }, 180_000);
});
