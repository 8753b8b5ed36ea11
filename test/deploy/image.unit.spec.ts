import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildContext, stages } from "./image.ts";
import { repoRoot } from "./k8s.ts";

// deploy/image/Dockerfile without a container engine: its stages and instructions as parsed, and the
// file list its COPY takes from the build context under .dockerignore (Docker's own matching rules).

/** Files holding a PEM private key (a label alone, as in code that parses PEM, is none). */
const privateKeysIn = (root: string, files: string[]) =>
  files.filter((f) =>
    /-----BEGIN [A-Z ]*PRIVATE KEY-----\s*[A-Za-z0-9+/=\s]{40,}-----END/.test(
      readFileSync(join(root, f), "latin1"),
    ),
  );

const [build, runtime] = [stages(repoRoot)[0], stages(repoRoot).at(-1)];
const args = (keyword: string, stage = runtime) =>
  stage?.instructions.filter((i) => i.getKeyword() === keyword).map((i) => i.getArgumentsContent() ?? "") ??
  [];

describe("deploy/image/Dockerfile", () => {
  it("builds in stages and runs a current Node LTS as a non-root user", () => {
    expect(stages(repoRoot).length).toBeGreaterThanOrEqual(2);
    const major = Number(/^node:(\d+)-/.exec(runtime?.from ?? "")?.[1]);
    // Even majors are LTS lines; 22 is the oldest still maintained.
    expect(major % 2).toBe(0);
    expect(major).toBeGreaterThanOrEqual(22);
    expect(args("USER").at(-1)).toBe("node");
  });

  it("starts node itself (PID 1, receives SIGTERM), never pnpm, npm, tsx's CLI or a shell", () => {
    const entrypoint = JSON.parse(args("ENTRYPOINT").at(-1) ?? "[]") as string[];
    expect(entrypoint).toEqual(["node", "--import", "tsx", "services/runner/src/main.ts"]);
  });

  it("installs production dependencies only, with the CJK font, and leaves the package managers out", () => {
    const buildRuns = args("RUN", build).join("\n");
    expect(buildRuns).toContain("pnpm install --frozen-lockfile --prod");
    expect(buildRuns).toContain("node deploy/image/prune-dev-peers.mjs");
    const runtimeRuns = args("RUN").join("\n");
    expect(runtimeRuns).toContain("fonts-wqy-microhei");
    for (const tool of [
      "/usr/local/bin/npm",
      "/usr/local/bin/npx",
      "/usr/local/lib/node_modules/corepack",
      "/usr/local/bin/yarn",
    ]) {
      expect(runtimeRuns).toContain(tool);
    }
    // The runtime stage takes files only from the build stage, never from the context directly.
    const copies = runtime?.instructions.filter((i) => i.getKeyword() === "COPY") ?? [];
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const flags = (copy as unknown as { getFlags(): Array<{ toString(): string }> }).getFlags().map(String);
      expect(flags).toContain(`--from=${build?.name}`);
    }
  });
});

describe("the build context (.dockerignore)", () => {
  const files = buildContext(repoRoot);

  it("sends the sources, manifests, lockfile, schemas and migrations", () => {
    for (const path of [
      "pnpm-lock.yaml",
      "pnpm-workspace.yaml",
      "services/runner/src/main.ts",
      "services/signing-device/src/main.ts",
      "services/stock/prisma/schema.prisma",
      "packages/bus/migrations",
      "proto/piaoju/signing/v1/signing.proto",
      "deploy/image/prune-dev-peers.mjs",
    ]) {
      expect(
        files.some((f) => f === path || f.startsWith(`${path}/`)),
        path,
      ).toBe(true);
    }
  });

  it("sends no data folder, secret, .env, test, fixture, generated code, dependency or development tool", () => {
    const forbidden = [
      /(^|\/)\.data(\/|$)/,
      /(^|\/)secrets(\/|$)/,
      /(^|\/)\.env/,
      /\.(pem|key|p12|pfx|jks|p7m)$/,
      /\.spec\.ts$/,
      /(^|\/)testing\//,
      // packages' testing.ts stay: persistence's is also used at run time (quoteIdent, withAdmin).
      /^services\/[^/]+\/src\/testing\.ts$/,
      /^test\/(?!package\.json$)/,
      /^packages\/[^/]+\/test\//,
      /(^|\/)node_modules\//,
      /(^|\/)generated\//,
      /^\.git\//,
      /^(k8s|docs|\.ci)\//,
      /^deploy\/kafka\//,
      /^services\/finance-simulator\/(?!package\.json$)/,
      /^services\/channel-simulator\/(?!package\.json$)/,
      /(^|\/)(biome\.json|vitest\.config\.ts|turbo\.json|tsconfig(\.base)?\.json|\.dependency-cruiser\.cjs)$/,
      /(^|\/)bench\.ts$/,
    ];
    const leaks = files.filter((f) => forbidden.some((p) => p.test(f)));
    expect(leaks).toEqual([]);
    const withKeys = files.filter((f) =>
      /-----BEGIN [A-Z ]*PRIVATE KEY-----\s*[A-Za-z0-9+/=\s]{40,}-----END/.test(
        readFileSync(join(repoRoot, f), "latin1"),
      ),
    );
    expect(withKeys).toEqual([]);
    console.log(`image build context: ${files.length} files`);
  });

  describe("on a tree with everything that must stay out planted in it", () => {
    const tree = mkdtempSync(join(tmpdir(), "piaoju-context-"));
    afterAll(() => rmSync(tree, { recursive: true, force: true }));
    const put = (path: string, text = "x\n") => {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    };
    writeFileSync(join(tree, ".dockerignore"), readFileSync(join(repoRoot, ".dockerignore")));
    const kept = [
      ".dockerignore",
      "package.json",
      "pnpm-lock.yaml",
      "services/stock/package.json",
      "services/stock/src/main.ts",
      "services/stock/prisma/schema.prisma",
      "services/finance-simulator/package.json",
      "test/package.json",
      "deploy/image/prune-dev-peers.mjs",
    ];
    const planted = [
      ".data/secrets/internal-token",
      ".data/signing-gateway/keystore/agency-110101.key",
      "services/stock/.data/pg/PG_VERSION",
      ".env",
      ".env.production",
      "services/gateway/.env.local",
      "services/delivery/src/testing/fixtures.ts",
      "services/signing-device/src/testing.ts",
      "services/stock/src/app/confirm.int.spec.ts",
      "packages/gm-crypto/src/keys.unit.spec.ts",
      "packages/persistence/test/fixture/prisma/schema.prisma",
      "test/e2e/start-and-backup.e2e.spec.ts",
      "test/support/agency.ts",
      "secrets/finance-agency-secret",
      "keys/ferry-key.pem",
      "node_modules/vitest/index.js",
      "services/gateway/node_modules/.bin/tsc",
      "services/stock/src/generated/prisma/client.ts",
      "deploy/kafka/libs/kafka_2.13-3.9.2.jar",
      "deploy/kafka/run/broker.json",
      "deploy/image/Dockerfile",
      "services/finance-simulator/src/main.ts",
      "services/channel-simulator/src/alipay.ts",
      "k8s/base/stock.yaml",
      "docs/ARCHITECTURE.md",
      ".git/config",
      ".ci/run",
      "test-results/vitest.json",
      "biome.json",
      "vitest.config.ts",
      "packages/gm-crypto/src/bench.ts",
      "debug.log",
    ];
    for (const path of [...kept, ...planted]) if (path !== ".dockerignore") put(path);

    it("keeps out every planted file and sends what the build needs", () => {
      expect(buildContext(tree)).toEqual([...kept].sort());
    });

    it("finds a private key that a source file would carry in", () => {
      const pem = `-----BEGIN PRIVATE KEY-----\n${"MIGTAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBHkwdwIBAQQg".repeat(2)}\n-----END PRIVATE KEY-----\n`;
      put("services/stock/src/leaked.ts", `export const key = \`${pem}\`;\n`);
      expect(privateKeysIn(tree, buildContext(tree))).toEqual(["services/stock/src/leaked.ts"]);
    });
  });
});
