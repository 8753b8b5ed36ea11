import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { generateAssertionKeys, publicKeyOf } from "@piaoju/access";
import { type ServiceModule, startPlatform } from "@piaoju/runtime";
import { DemoFailed, runDemo } from "./demo.ts";
import { type DevFinance, startDevFinance } from "./finance-simulator.ts";

export interface PlatformProcessOptions {
  mode: "embedded" | "cluster";
  services: readonly ServiceModule[];
  /** Embedded only: the finance simulator as a child process, wired to finance-exchange. */
  withFinanceSimulator: boolean;
  /** Embedded only: once ready, play an agency (a receipt issued end to end). */
  withDemo: boolean;
  env: Record<string, string | undefined>;
}

/**
 * The platform as this process's whole life: `piaoju start` (embedded, with the development
 * conveniences) and `piaoju service <name>` (cluster). Runs until SIGTERM/SIGINT, which close
 * intake, drain consumers and flush the outbox, then exits. Node itself receives the signal:
 * no wrapper process stands between (the image runs `node --import tsx`, see ADR 0009).
 */
export async function runPlatformProcess(options: PlatformProcessOptions): Promise<void> {
  const { mode, services: chosen, env } = options;
  if (mode === "embedded") {
    // An embedded installation makes its own secrets once and keeps them in its data folder.
    const dataDir = resolve(env.PIAOJU_DATA_DIR ?? ".data");
    env.PIAOJU_INTERNAL_TOKEN ??= await embeddedSecret(dataDir, "internal-token", () =>
      randomBytes(32).toString("base64url"),
    );
    env.PIAOJU_SECRETS_KEY ??= await embeddedSecret(dataDir, "secrets-key", () =>
      randomBytes(16).toString("hex"),
    );
    env.PIAOJU_CHECK_CODE_KEY ??= await embeddedSecret(dataDir, "check-code-key", () =>
      randomBytes(16).toString("hex"),
    );
    // The signing gateway's software devices seal their keys with this; development keys for an
    // agency are made on first use only here, in embedded mode (never in a cluster).
    env.PIAOJU_SIGNING_KEYSTORE_KEY ??= await embeddedSecret(dataDir, "signing-keystore-key", () =>
      randomBytes(16).toString("hex"),
    );
    env.PIAOJU_SIGNING_DEV_PROVISION ??= "true";
    // Delivery signs receipt PDFs through the gateway over gRPC: one loopback port for both.
    if (!env.PIAOJU_SIGNING_GATEWAY_ADDRESS) {
      env.PIAOJU_SIGNING_GATEWAY_LISTEN ??= `127.0.0.1:${await freeLoopbackPort()}`;
      env.PIAOJU_SIGNING_GATEWAY_ADDRESS = env.PIAOJU_SIGNING_GATEWAY_LISTEN.replace(
        /^0\.0\.0\.0:/,
        "127.0.0.1:",
      );
    }
    // The gateway signs who a person is for the services with this (Ed25519); the services verify
    // with its public half (ADR 0012). Made again if missing: nothing at rest depends on it.
    env.PIAOJU_ASSERTION_KEY ??= await embeddedSecret(
      dataDir,
      "assertion-key",
      () => generateAssertionKeys().privateKey,
    );
    env.PIAOJU_ASSERTION_PUBLIC_KEY ??= publicKeyOf(env.PIAOJU_ASSERTION_KEY);
    // The first start creates the first administrators and prints their one-time passwords once;
    // the console is served over plain HTTP on loopback here, so its cookies cannot be Secure-only.
    env.PIAOJU_CONSOLE_BOOTSTRAP ??= "print";
    env.PIAOJU_CONSOLE_SECURE_COOKIES ??= "false";
  }

  const { withFinanceSimulator, withDemo } = options;
  if (mode === "cluster" && (withFinanceSimulator || withDemo)) {
    throw new Error("the finance simulator and the demo are development conveniences of embedded mode only");
  }
  const dataDir = resolve(env.PIAOJU_DATA_DIR ?? ".data");
  let devFinance: DevFinance | undefined;
  if (withFinanceSimulator && env.FINANCE_URL) {
    console.log(`FINANCE_URL is set (${env.FINANCE_URL}): no finance simulator started`);
  } else if (withFinanceSimulator) {
    devFinance = await startDevFinance({
      dataDir,
      secret: (name, make) => embeddedSecret(dataDir, name, make),
      log: (line) => console.log(line),
    });
    Object.assign(env, devFinance.env);
  }

  const started = Date.now();
  const platform = await startPlatform({ mode, services: chosen, env }).catch(async (error: unknown) => {
    await devFinance?.stop();
    throw error;
  });
  process.stdout.write(
    [
      "",
      `Piaoju is running (${mode}, ready in ${Date.now() - started} ms): ${chosen.map((s) => s.name).join(", ")}`,
      `  API      ${platform.url}/v1/...   console API ${platform.url}/api/console/login`,
      `  health   ${platform.url}/healthz   ${platform.url}/readyz   ${platform.url}/metrics`,
      ...(mode === "embedded"
        ? [
            `  data     ${dataDir}`,
            `  token    internal API token in ${join(dataDir, "secrets", "internal-token")}`,
            ...(devFinance
              ? [
                  `  finance  simulator (dev, a peer of Piaoju) ${devFinance.url}, data ${devFinance.dataDir}; --no-finance-simulator to leave it out`,
                ]
              : []),
          ]
        : []),
      "",
    ].join("\n"),
  );

  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      platform.logger.info({ signal }, "stopping: closing intake, draining consumers, flushing the outbox");
      platform
        .stop()
        .then(() => devFinance?.stop())
        .then(
          () => process.exit(0),
          (error: unknown) => {
            platform.logger.error({ err: error }, "unclean stop");
            process.exit(1);
          },
        );
    });
  }

  if (devFinance) {
    await devFinance.ready.catch((error: unknown) => {
      platform.logger.error({ err: error }, "the finance simulator did not start: receipts wait for finance");
    });
  }
  if (withDemo && !stopping) {
    console.log("");
    try {
      await runDemo({
        url: platform.url,
        dataDir,
        finance: devFinance !== undefined || env.FINANCE_URL !== undefined,
      });
    } catch (error) {
      if (!stopping)
        console.log(
          `\ndemo failed: ${error instanceof DemoFailed ? error.message : String(error)} (the platform keeps running)`,
        );
    }
  }
  if (!stopping) console.log(`\nPiaoju is running at ${platform.url}; Ctrl-C to stop`);
}

/** A secret of the embedded platform: made once, kept in the data folder, readable by the owner only. */
async function embeddedSecret(dataDir: string, name: string, make: () => string): Promise<string> {
  const file = join(dataDir, "secrets", name);
  const existing = (await readFile(file, "utf8").catch(() => "")).trim();
  if (existing) return existing;
  await mkdir(join(dataDir, "secrets"), { recursive: true, mode: 0o700 });
  const secret = make();
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** A loopback port free now (the gateway binds it a moment later, in this process). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}
