import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startPlatform } from "@piaoju/runtime";
import { services } from "./services.ts";

/**
 * piaoju --embedded              every service in this process, PGlite and the embedded bus
 * piaoju --service stock         one service (cluster mode: PostgreSQL and Kafka)
 */
const { values } = parseArgs({
  options: {
    embedded: { type: "boolean", default: false },
    service: { type: "string", multiple: true },
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

const started = Date.now();
const platform = await startPlatform({ mode, services: chosen, env });
const dataDir = resolve(env.PIAOJU_DATA_DIR ?? ".data");
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
    platform.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        platform.logger.error({ err: error }, "unclean stop");
        process.exit(1);
      },
    );
  });
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
