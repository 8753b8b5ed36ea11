import { execFileSync } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// `./piaoju` skips install when what install depends on is unchanged: proved on a small tree with
// the real script, by changing each input in turn (and things that are not inputs). The time limits
// are for a loaded two-core machine: each step spawns bash, find and node.
const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const tree = mkdtempSync(join(tmpdir(), "piaoju-install-"));
afterAll(() => rmSync(tree, { recursive: true, force: true }));

function put(path: string, text: string) {
  mkdirSync(dirname(join(tree, path)), { recursive: true });
  writeFileSync(join(tree, path), text);
}
const inputs = () =>
  execFileSync("bash", [join(tree, "piaoju"), "install-inputs"], { cwd: tree, encoding: "utf8" });
const hash = () => /^hash ([0-9a-f]{64})$/m.exec(inputs())?.[1];

describe("./piaoju's install skip", () => {
  copyFileSync(join(repoRoot, "piaoju"), join(tree, "piaoju"));
  put("package.json", "{}\n");
  put("pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
  put("pnpm-workspace.yaml", "packages: [services/*, packages/*]\n");
  put("services/stock/package.json", '{"scripts":{"generate":"prisma generate"}}\n');
  put("services/stock/prisma/schema.prisma", "model Segment { id Int @id }\n");
  put("services/stock/prisma.config.ts", "export default {};\n");
  put("services/stock/src/app/confirm.ts", "export const x = 1;\n");
  put("packages/sm2-native/package.json", '{"scripts":{"install":"node build.mjs"}}\n');
  put("packages/sm2-native/build.mjs", "// compiles the addon\n");
  put("packages/sm2-native/src/sm2.c", "int main(void) { return 0; }\n");
  put("services/stock/node_modules/x/package.json", "{}\n");
  put("README.md", "# readme\n");

  it("hashes the lockfile, manifests, Prisma schemas, native sources and whole packages that build at install", () => {
    const listed = inputs();
    for (const path of [
      "./pnpm-lock.yaml",
      "./services/stock/prisma/schema.prisma",
      "./services/stock/prisma.config.ts",
      "packages/sm2-native/build.mjs",
      "./packages/sm2-native/src/sm2.c",
    ]) {
      expect(listed).toContain(path);
    }
    expect(listed).not.toContain("confirm.ts");
    expect(listed).not.toContain("node_modules");
  }, 60_000);

  it("changes with each input, and not with source code or documentation", () => {
    const first = hash();
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    appendFileSync(join(tree, "README.md"), "more\n");
    appendFileSync(join(tree, "services/stock/src/app/confirm.ts"), "export const y = 2;\n");
    expect(hash()).toBe(first);
    let previous = first;
    for (const path of [
      "pnpm-lock.yaml",
      "services/stock/package.json",
      "services/stock/prisma/schema.prisma",
      "packages/sm2-native/src/sm2.c",
      "packages/sm2-native/build.mjs",
      "piaoju",
    ]) {
      appendFileSync(join(tree, path), path.endsWith(".json") ? " \n" : "\n# changed\n");
      const now = hash();
      expect(now, `${path} changed`).not.toBe(previous);
      previous = now;
    }
  }, 60_000);
});
