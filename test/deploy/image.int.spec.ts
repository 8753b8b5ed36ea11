import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { generateAssertionKeys } from "@piaoju/access";
import { createTestDatabase, quoteIdent, type TestDatabase, withAdmin } from "@piaoju/persistence/testing";
import { afterAll, describe, expect, inject, it } from "vitest";
import { buildContext, stages } from "./image.ts";
import { repoRoot } from "./k8s.ts";

// The image's build stage without a container engine: its build context copied out, its RUN lines
// run as written (offline, from the machine's pnpm store; the pnpm install of its first RUN is the
// machine's), then a service started from what is left, as the image's ENTRYPOINT starts it, against
// PostgreSQL and Kafka, and stopped with SIGTERM. Proves the production-only tree runs.

const build = stages(repoRoot)[0];
// Inside the repository's node_modules: the same file system as the pnpm store, so installs link.
const app = join(repoRoot, "node_modules", ".cache", `piaoju-image-${randomUUID().slice(0, 8)}`, "app");
let server: TestDatabase | undefined;
let child: ChildProcess | undefined;
const prefix = `img${randomUUID().replaceAll("-", "").slice(0, 8)}_`;

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(dirname(app), { recursive: true, force: true });
  if (server) {
    await withAdmin(server.url, (c) =>
      c.query(`DROP DATABASE IF EXISTS ${quoteIdent(`${prefix}stock`)} WITH (FORCE)`),
    );
    await server.drop();
  }
});

/** ENV lines of a stage, as variables. */
function stageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of build?.instructions ?? []) {
    if (i.getKeyword() !== "ENV") continue;
    for (const [, k, v] of (i.getArgumentsContent() ?? "").matchAll(/(\w+)=(\S+)/g))
      env[k as string] = v as string;
  }
  return env;
}

describe("the image's build stage, run without Docker", () => {
  it("leaves production dependencies only, and a service starts from them and stops on SIGTERM", async () => {
    const started = Date.now();
    for (const file of buildContext(repoRoot)) {
      mkdirSync(dirname(join(app, file)), { recursive: true });
      cpSync(join(repoRoot, file), join(app, file));
    }
    const runs = (build?.instructions ?? [])
      .filter((i) => i.getKeyword() === "RUN")
      .map((i) => (i.getArgumentsContent() ?? "").replace(/\\\n/g, " "))
      // pnpm itself is the machine's (the same version ./piaoju installs).
      .filter((cmd) => !cmd.startsWith("npm install -g"));
    expect(runs.join(" ")).toContain("pnpm install --frozen-lockfile --prod");
    for (const cmd of runs) {
      const run = spawnSync("bash", ["-c", cmd], {
        cwd: app,
        encoding: "utf8",
        env: { ...process.env, ...stageEnv(), npm_config_offline: "true" },
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(run.status, `${cmd}\n${run.stdout}\n${run.stderr}`).toBe(0);
    }
    const built = Date.now();

    const store = readdirSync(join(app, "node_modules", ".pnpm"));
    const devTools = [
      "vitest",
      "@biomejs+biome",
      "turbo",
      "typescript",
      "prisma",
      "dependency-cruiser",
      "kubernetes-models",
      "@balena+dockerignore",
      "dockerfile-ast",
      "playwright-core",
      "mailparser",
    ];
    expect(store.filter((entry) => devTools.some((t) => entry.startsWith(`${t}@`)))).toEqual([]);
    for (const needed of ["tsx", "@prisma+client", "fastify", "@grpc+grpc-js", "pg"]) {
      expect(
        store.some((entry) => entry.startsWith(`${needed}@`)),
        needed,
      ).toBe(true);
    }
    expect(existsSync(join(app, "services/stock/src/generated"))).toBe(true);

    server = await createTestDatabase({ prefix: "image_server" });
    // As the ENTRYPOINT does: node, tsx's loader, the CLI.
    child = spawn(process.execPath, ["--import", "tsx", "services/runner/src/main.ts", "service", "stock"], {
      cwd: app,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: "production",
        PIAOJU_HTTP_HOST: "127.0.0.1",
        PIAOJU_HTTP_PORT: "0",
        PIAOJU_INTERNAL_TOKEN: "image-test-token-that-is-long-enough-000",
        // Stock seals the personal fields of the events it writes and opens those it reads (ADR 0025).
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_ASSERTION_PUBLIC_KEY: generateAssertionKeys().publicKey,
        PIAOJU_DATABASE_URL: server.url,
        PIAOJU_DATABASE_PREFIX: prefix,
        KAFKA_BROKERS: inject("kafkaBrokers"),
        PIAOJU_KAFKA_NAMESPACE: prefix.slice(0, -1),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child?.on("exit", (code, signal) => resolve({ code, signal })),
    );
    const deadline = Date.now() + 120_000;
    let url: string | undefined;
    while (!url) {
      url = /API {6}(http:\/\/\S+)\/v1/.exec(out)?.[1];
      if (child.exitCode !== null) throw new Error(`the service exited: ${out}`);
      if (Date.now() > deadline) throw new Error(`the service did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    child.kill("SIGTERM");
    expect(await exited).toEqual({ code: 0, signal: null });
    console.log(
      `image build stage: ${((built - started) / 1000).toFixed(1)} s (context, install, generate, prune), ` +
        `${store.length} packages left; stock started and stopped in ${((Date.now() - built) / 1000).toFixed(1)} s`,
    );
  }, 480_000);
});
