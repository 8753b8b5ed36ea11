/**
 * The finance simulator as its own process: `tsx services/finance-simulator/src/main.ts`.
 * Configuration from FINSIM_* variables (README). Prints where it listens.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ensureDatabase } from "@piaoju/persistence";
import { z } from "zod";
import { faults } from "./api.ts";
import { type Seed, startFinanceSimulator } from "./simulator.ts";

const env = z
  .object({
    FINSIM_DATABASE_URL: z.string().url().optional(),
    FINSIM_DATA_DIR: z.string().default(".data/finance-simulator"),
    FINSIM_HOST: z.string().default("127.0.0.1"),
    FINSIM_PORT: z.coerce.number().int().min(0).max(65535).default(7400),
    FINSIM_ADMIN_PORT: z.coerce.number().int().min(0).max(65535).default(7401),
    FINSIM_ADMIN_TOKEN: z.string().min(16).optional(),
    FINSIM_MASTER_KEY: z
      .string()
      .regex(
        /^[0-9a-fA-F]{32}(,[0-9a-fA-F]{32})*$/,
        "32 hex digits (several comma-separated, current first, while rotating)",
      )
      .optional(),
    FINSIM_AUTO_APPROVE: z.enum(["true", "false"]).default("true"),
    FINSIM_FIRST_NUMBER: z.coerce.number().int().min(1).default(1),
    FINSIM_AGENCY_CA_PEM: z.string().optional(),
    FINSIM_SEED_FILE: z.string().optional(),
    FINSIM_FAULTS: z.string().optional(),
    FINSIM_CRYPTO_WORKERS: z.coerce.number().int().min(0).max(16).default(2),
    FINSIM_LOG_LEVEL: z.string().default("info"),
  })
  .parse(process.env);

/** A secret kept in the data folder (mode 0600) when not given: stable across restarts, never printed. */
async function fileSecret(
  dataDir: string,
  name: string,
  make: () => string,
): Promise<{ value: string; path: string }> {
  const path = join(dataDir, name);
  if (existsSync(path)) return { value: (await readFile(path, "utf8")).trim(), path };
  await mkdir(dataDir, { recursive: true });
  const value = make();
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return { value, path };
}

async function main(): Promise<void> {
  const dataDir = resolve(env.FINSIM_DATA_DIR);
  const masterKey =
    env.FINSIM_MASTER_KEY ??
    (await fileSecret(dataDir, "master.key", () => randomBytes(16).toString("hex"))).value;
  const adminToken = env.FINSIM_ADMIN_TOKEN
    ? { value: env.FINSIM_ADMIN_TOKEN, path: "FINSIM_ADMIN_TOKEN" }
    : await fileSecret(dataDir, "admin-token", () => randomBytes(24).toString("hex"));
  let databaseUrl: string | undefined;
  if (env.FINSIM_DATABASE_URL) {
    // The named database may not exist yet: check and create it from the server's maintenance database.
    const server = new URL(env.FINSIM_DATABASE_URL);
    const name = decodeURIComponent(server.pathname.slice(1)) || "finance_simulator";
    server.pathname = "/postgres";
    databaseUrl = await ensureDatabase(server.toString(), name);
  }
  const simulator = await startFinanceSimulator({
    ...(databaseUrl ? { databaseUrl } : { dataDir: join(dataDir, "pg") }),
    host: env.FINSIM_HOST,
    port: env.FINSIM_PORT,
    adminPort: env.FINSIM_ADMIN_PORT,
    adminToken: adminToken.value,
    masterKey,
    autoApprove: env.FINSIM_AUTO_APPROVE === "true",
    firstNumber: env.FINSIM_FIRST_NUMBER,
    agencyCaPems: env.FINSIM_AGENCY_CA_PEM ? [await readFile(env.FINSIM_AGENCY_CA_PEM, "utf8")] : [],
    ...(env.FINSIM_SEED_FILE
      ? { seed: JSON.parse(await readFile(env.FINSIM_SEED_FILE, "utf8")) as Seed }
      : {}),
    ...(env.FINSIM_FAULTS ? { faults: faults.parse(JSON.parse(env.FINSIM_FAULTS)) } : {}),
    cryptoWorkers: env.FINSIM_CRYPTO_WORKERS,
    logLevel: env.FINSIM_LOG_LEVEL,
  });
  process.stdout.write(
    [
      `finance simulator: agency API ${simulator.url}  admin ${simulator.adminUrl}`,
      `  database: ${databaseUrl ? new URL(databaseUrl).pathname.slice(1) : join(dataDir, "pg")}`,
      `  finance certificate SM3 ${simulator.financeCertificate.fingerprintSm3()} (GET ${simulator.url}/fin/v1/public/certificates)`,
      `  admin token: ${adminToken.path}`,
      "",
    ].join("\n"),
  );
  const stop = async () => {
    await simulator.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `finance simulator failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
