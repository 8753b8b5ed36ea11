import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "./program.ts";

/**
 * What `piaoju backup` and `piaoju restore` share: the cluster target from the environment and
 * the root keys (never in a backup) from --keys DIR or the environment. See docs/BACKUP.md.
 */
export async function clusterTarget() {
  const { services } = await import("../services.ts");
  const serverUrl = process.env.PIAOJU_DATABASE_URL;
  if (!serverUrl) throw new UsageError("PIAOJU_DATABASE_URL is required with --cluster");
  return {
    serverUrl,
    prefix: process.env.PIAOJU_DATABASE_PREFIX ?? "piaoju_",
    services: services.map((s) => s.name),
  };
}

/** The root keys from --keys DIR (files named as in .data/secrets), else from the environment. */
export async function rootKeys(keysDir: string | undefined) {
  const { ROOT_KEYS } = await import("../backup.ts");
  type Name = keyof typeof ROOT_KEYS;
  const keys: Partial<Record<Name, string>> = {};
  for (const [name, variable] of Object.entries(ROOT_KEYS) as [Name, string][]) {
    const file = keysDir ? join(keysDir, name) : undefined;
    const value = file && existsSync(file) ? readFileSync(file, "utf8").trim() : process.env[variable];
    if (value) keys[name] = value;
  }
  return keys;
}

/** A BackupError is the operator's to fix: one plain line, exit code 1 (the CLI's failure path). */
export async function asPlainFailure<T>(work: () => Promise<T>): Promise<T> {
  const { BackupError } = await import("../backup.ts");
  try {
    return await work();
  } catch (error) {
    if (error instanceof BackupError) throw new Error(error.message);
    throw error;
  }
}
