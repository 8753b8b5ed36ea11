import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startPlatform } from "@piaoju/runtime";
import { DemoFailed, runDemo } from "./demo.ts";
import { type DevFinance, startDevFinance } from "./finance-simulator.ts";
import { services } from "./services.ts";

/**
 * piaoju --embedded              every service in this process, PGlite and the embedded bus
 * piaoju --service stock         one service (cluster mode: PostgreSQL and Kafka)
 * Development conveniences of `./piaoju start` (embedded only; `--no-…` turns one off):
 *   --with-finance-simulator     the finance simulator as a child process, wired to finance-exchange
 *   --demo                       once ready, play an agency: a receipt issued end to end
 */
const { values } = parseArgs({
  options: {
    embedded: { type: "boolean", default: false },
    service: { type: "string", multiple: true },
    "with-finance-simulator": { type: "boolean", default: false },
    "no-finance-simulator": { type: "boolean", default: false },
    demo: { type: "boolean", default: false },
    "no-demo": { type: "boolean", default: false },
  },
});

const env: Record<string, string | undefined> = { ...process.env };
const mode = values.embedded ? "embedded" : "cluster";
const chosen = values.service?.length ? services.filter((s) => values.service?.includes(s.name)) : services;
const unknown = (values.service ?? []).filter((name) => !services.some((s) => s.name === name));
if (unknown.length > 0) {
  console.error(
    `unknown service(s): ${unknown.join(", ")}; known: ${services.map((s) => s.name).join(", ")}`,
  );
  process.exit(2);
}

if (mode === "embedded") {
  // An embedded installation makes its own secrets once and keeps them in its data folder.
  const dataDir = resolve(env.PIAOJU_DATA_DIR ?? ".data");
  env.PIAOJU_INTERNAL_TOKEN ??= await embeddedSecret(dataDir, "internal-token", () =>
    randomBytes(32).toString("base64url"),
  );
  env.PIAOJU_SECRETS_KEY ??= await embeddedSecret(dataDir, "secrets-key", () =>
    randomBytes(16).toString("hex"),
  );
  // The signing gateway's software devices seal their keys with this; development keys for an
  // agency are made on first use only here, in embedded mode (never in a cluster).
  env.PIAOJU_SIGNING_KEYSTORE_KEY ??= await embeddedSecret(dataDir, "signing-keystore-key", () =>
    randomBytes(16).toString("hex"),
  );
  env.PIAOJU_SIGNING_DEV_PROVISION ??= "true";
}

const withFinanceSimulator = values["with-finance-simulator"] && !values["no-finance-simulator"];
const withDemo = values.demo && !values["no-demo"];
if (mode === "cluster" && (withFinanceSimulator || withDemo)) {
  console.error("--with-finance-simulator and --demo are development conveniences of --embedded only");
  process.exit(2);
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
    `  API      ${platform.url}/v1/...`,
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
