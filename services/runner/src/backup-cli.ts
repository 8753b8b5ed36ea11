import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  BackupError,
  backupCluster,
  backupEmbedded,
  type ClusterTarget,
  ROOT_KEYS,
  type RootKeyName,
  restoreCluster,
  restoreEmbedded,
} from "./backup.ts";
import { services } from "./services.ts";

const USAGE = `usage: ./piaoju backup <dir> [--cluster [--keystore DIR] [--online]]
       ./piaoju restore <dir> [--keys DIR] [--cluster [--keystore DIR]]

  backup   embedded (default): the stopped platform in PIAOJU_DATA_DIR (.data): every database
           (PGlite's own dump), the signing keystore (sealed), the bus and the secrets
           --cluster: every service's database on PIAOJU_DATABASE_URL (pg_dump; services stopped,
           or --online), and with --keystore DIR a copy of a signing device's keystore
  restore  into a fresh PIAOJU_DATA_DIR (embedded) or fresh databases under PIAOJU_DATABASE_PREFIX
           (--cluster; --keystore DIR: an empty folder for the keystore)

  The root keys are never in a backup; keep them offline. restore needs them back:
  --keys DIR (a folder with the files signing-keystore-key and secrets-key, as in .data/secrets),
  or PIAOJU_SIGNING_KEYSTORE_KEY and PIAOJU_SECRETS_KEY. See docs/BACKUP.md.`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    cluster: { type: "boolean", default: false },
    keystore: { type: "string" },
    keys: { type: "string" },
    online: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
const [command, dir] = positionals;
if (values.help || !command || !dir || !["backup", "restore"].includes(command) || positionals.length > 2) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}

const env = process.env;
const log = (line: string) => process.stdout.write(`${line}\n`);

/** The root keys from --keys DIR, else from the environment. */
function rootKeys(): Partial<Record<RootKeyName, string>> {
  const keys: Partial<Record<RootKeyName, string>> = {};
  for (const [name, variable] of Object.entries(ROOT_KEYS) as [RootKeyName, string][]) {
    const file = values.keys ? join(values.keys, name) : undefined;
    const value = file && existsSync(file) ? readFileSync(file, "utf8").trim() : env[variable];
    if (value) keys[name] = value;
  }
  return keys;
}

function clusterTarget(): ClusterTarget {
  const serverUrl = env.PIAOJU_DATABASE_URL;
  if (!serverUrl) throw new BackupError("PIAOJU_DATABASE_URL is required with --cluster");
  return {
    serverUrl,
    prefix: env.PIAOJU_DATABASE_PREFIX ?? "piaoju_",
    services: services.map((s) => s.name),
  };
}

try {
  const dataDir = resolve(env.PIAOJU_DATA_DIR ?? ".data");
  if (command === "backup") {
    log(`Piaoju backup (${values.cluster ? "cluster" : `embedded, ${dataDir}`}) into ${resolve(dir)}`);
    const manifest = values.cluster
      ? await backupCluster({
          target: clusterTarget(),
          out: dir,
          keystoreDir: values.keystore,
          online: values.online,
          rootKeys: rootKeys(),
          log,
        })
      : await backupEmbedded({ dataDir, out: dir, log });
    log(
      `done: ${manifest.databases.length} databases, ${manifest.files.length} files, manifest.json.\n` +
        `Not in it, keep them offline: ${Object.keys(ROOT_KEYS).join(", ")}${values.cluster ? "" : ` (in ${join(dataDir, "secrets")})`}.`,
    );
  } else {
    log(`Piaoju restore from ${resolve(dir)} into ${values.cluster ? "fresh databases" : dataDir}`);
    const manifest = values.cluster
      ? await restoreCluster({
          from: dir,
          target: clusterTarget(),
          keystoreDir: values.keystore,
          keys: rootKeys(),
          log,
        })
      : await restoreEmbedded({ from: dir, dataDir, keys: rootKeys(), log });
    log(
      `done: ${manifest.databases.length} databases and ${manifest.files.length} files of ${manifest.createdAt}.`,
    );
  }
} catch (error) {
  if (!(error instanceof BackupError)) throw error;
  process.stderr.write(`piaoju ${command}: ${error.message}\n`);
  process.exit(1);
}
