import { createHash, createHmac } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { chmod, copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import {
  dumpPglite,
  dumpPostgres,
  existingDatabases,
  loadPglite,
  otherSessions,
  pgliteInUse,
  restorePostgres,
} from "@piaoju/persistence";
import { KeystoreError, openPrivateKey } from "@piaoju/signing-core";

/**
 * Backup and restore of a whole installation (`./piaoju backup <dir>`, `./piaoju restore <dir>`).
 *
 * A backup holds every service's database, each as its own consistent copy (embedded: PGlite's
 * dump of its data folder, taken with the platform stopped; cluster: pg_dump, with the services
 * stopped unless --online), the signing keystore (sealed: its keys stay encrypted), and the
 * secrets, except the root keys, which never go into a backup and which the operator keeps
 * offline: the keystore key (opens every private key), the secrets key (opens every sealed
 * field) and the check-code key (makes every agency's check-code secret). Without them a backup gives away no key and no sealed field; restore asks for them and
 * checks them against the fingerprints the backup recorded. Service TLS identities are not kept:
 * embedded mode makes them again on start, a cluster has them in its secrets.
 *
 * manifest.json, written last, lists every file with its SHA-256; restore checks them all before
 * it writes anything, and only into a fresh data folder or fresh databases.
 */

export const FORMAT = "piaoju-backup/1";
/** Root keys: in the data folder's secrets, named like this; never in a backup. */
export const ROOT_KEYS = {
  "signing-keystore-key": "PIAOJU_SIGNING_KEYSTORE_KEY",
  "secrets-key": "PIAOJU_SECRETS_KEY",
  /** Makes every agency's check-code secret: lost, no new receipt's code can be made under it again. */
  "check-code-key": "PIAOJU_CHECK_CODE_KEY",
} as const;
export type RootKeyName = keyof typeof ROOT_KEYS;
/** Where the embedded platform keeps things (relative to the data folder). */
const EMBEDDED_KEYSTORE = "signing-gateway/keystore";
/** Made again on start (embedded) or held in the cluster's secrets: not backed up. */
const NOT_BACKED_UP = ["secrets/service-ca", "secrets/tls", "secrets/assertion-key"];

export interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
  mode: number;
}

export interface ManifestDatabase {
  /** Embedded: the PGlite folder relative to the data folder; cluster: the service's name. */
  name: string;
  file: string;
  sha256: string;
}

export interface Manifest {
  format: typeof FORMAT;
  mode: "embedded" | "cluster";
  createdAt: string;
  consistency: "platform-stopped" | "per-database";
  databases: ManifestDatabase[];
  /** Files under files/ (embedded: relative to the data folder; cluster: keystore/…). */
  files: ManifestFile[];
  /** Where the keystore is among the files, if the backup has one. */
  keystore: string | null;
  /** HMAC-SM3 fingerprints of the root keys the backup was made with (the keys themselves are not in it). */
  rootKeys: Partial<Record<RootKeyName, string>>;
}

export class BackupError extends Error {
  override readonly name = "BackupError";
}

type Log = (line: string) => void;

async function sha256(file: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(file))
    .digest("hex");
}

/** A root key's fingerprint: names the key without telling anything about it. */
export function fingerprint(key: string): string {
  return createHmac("sm3", Buffer.from(key.trim(), "utf8"))
    .update("piaoju-backup/root-key")
    .digest("hex")
    .slice(0, 32);
}

function assertFresh(dir: string, what: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new BackupError(`${what} ${dir} is not empty: give a new or empty folder`);
  }
}

/** Every file and PGlite folder under `root`, relative paths with "/". */
function walk(root: string): { files: string[]; databases: string[] } {
  const files: string[] = [];
  const databases: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(root, path).split(sep).join("/");
      if (NOT_BACKED_UP.some((p) => rel === p || rel.startsWith(`${p}/`))) continue;
      if (entry.isDirectory()) {
        if (existsSync(join(path, "PG_VERSION"))) databases.push(rel);
        else visit(path);
      } else if (entry.isFile()) {
        if (rel.startsWith("secrets/") && rel.slice("secrets/".length) in ROOT_KEYS) continue;
        files.push(rel);
      }
    }
  };
  visit(root);
  return { files: files.sort(), databases: databases.sort() };
}

async function copyInto(from: string, to: string, mode: number): Promise<void> {
  await mkdir(dirname(to), { recursive: true, mode: 0o700 });
  await copyFile(from, to);
  await chmod(to, mode);
}

async function writeManifest(out: string, manifest: Manifest): Promise<void> {
  await writeFile(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
}

async function recordFiles(out: string, paths: { rel: string; from: string }[]): Promise<ManifestFile[]> {
  const files: ManifestFile[] = [];
  for (const { rel, from } of paths) {
    const mode = statSync(from).mode & 0o777;
    const to = join(out, "files", rel);
    await copyInto(from, to, mode);
    files.push({ path: rel, sha256: await sha256(to), size: statSync(to).size, mode });
  }
  return files;
}

/** The embedded installation in `dataDir`, stopped, into `out`. */
export async function backupEmbedded(options: { dataDir: string; out: string; log: Log }): Promise<Manifest> {
  const dataDir = resolve(options.dataDir);
  if (!existsSync(dataDir)) throw new BackupError(`no data folder at ${dataDir}`);
  assertFresh(options.out, "the backup folder");
  const { files, databases } = walk(dataDir);
  const open = databases.filter((d) => pgliteInUse(join(dataDir, d)));
  if (open.length > 0) {
    throw new BackupError(
      `the platform is running (${open.join(", ")} open): stop it first (Ctrl-C or SIGTERM). ` +
        "If it was killed, start and stop it once so its databases close cleanly.",
    );
  }
  await mkdir(options.out, { recursive: true, mode: 0o700 });
  const manifestDatabases: ManifestDatabase[] = [];
  for (const name of databases) {
    const file = `databases/${name.replaceAll("/", "__")}.tar.gz`;
    await mkdir(join(options.out, "databases"), { recursive: true, mode: 0o700 });
    await dumpPglite(join(dataDir, name), join(options.out, file));
    manifestDatabases.push({ name, file, sha256: await sha256(join(options.out, file)) });
    options.log(`  database  ${name}`);
  }
  const manifestFiles = await recordFiles(
    options.out,
    files.map((rel) => ({ rel, from: join(dataDir, rel) })),
  );
  options.log(`  files     ${manifestFiles.length} (keystore, bus, secrets without the root keys)`);
  const rootKeys: Manifest["rootKeys"] = {};
  for (const name of Object.keys(ROOT_KEYS) as RootKeyName[]) {
    const path = join(dataDir, "secrets", name);
    if (existsSync(path)) rootKeys[name] = fingerprint(await readFile(path, "utf8"));
  }
  const manifest: Manifest = {
    format: FORMAT,
    mode: "embedded",
    createdAt: new Date().toISOString(),
    consistency: "platform-stopped",
    databases: manifestDatabases,
    files: manifestFiles,
    keystore: manifestFiles.some((f) => f.path.startsWith(`${EMBEDDED_KEYSTORE}/`))
      ? EMBEDDED_KEYSTORE
      : null,
    rootKeys,
  };
  await writeManifest(options.out, manifest);
  return manifest;
}

/** Reads and checks a backup: the manifest, then every file against its SHA-256. */
export async function readBackup(dir: string): Promise<Manifest> {
  const path = join(dir, "manifest.json");
  if (!existsSync(path)) {
    throw new BackupError(`${dir} has no manifest.json: not a Piaoju backup, or one that did not finish`);
  }
  const manifest = JSON.parse(await readFile(path, "utf8")) as Manifest;
  if (manifest.format !== FORMAT)
    throw new BackupError(`${path}: format ${String(manifest.format)}, expected ${FORMAT}`);
  const damaged: string[] = [];
  for (const f of manifest.files) {
    const file = join(dir, "files", f.path);
    if (!existsSync(file) || (await sha256(file)) !== f.sha256) damaged.push(`files/${f.path}`);
  }
  for (const d of manifest.databases) {
    const file = join(dir, d.file);
    if (!existsSync(file) || (await sha256(file)) !== d.sha256) damaged.push(d.file);
  }
  if (damaged.length > 0)
    throw new BackupError(`the backup is damaged: ${damaged.join(", ")} missing or changed`);
  return manifest;
}

/**
 * The root keys for a restore: each one the backup was made with must be given, and be that key.
 * Then every key file of the keystore must open with the keystore key (sealed data stays sealed
 * until the right key comes back).
 */
async function checkRootKeys(
  dir: string,
  manifest: Manifest,
  keys: Partial<Record<RootKeyName, string>>,
): Promise<Partial<Record<RootKeyName, string>>> {
  const checked: Partial<Record<RootKeyName, string>> = {};
  for (const [name, expected] of Object.entries(manifest.rootKeys) as [RootKeyName, string][]) {
    const key = keys[name]?.trim();
    if (!key) {
      throw new BackupError(
        `the ${name} is needed (it is never in a backup): --keys <folder with ${name}> or ${ROOT_KEYS[name]}`,
      );
    }
    if (fingerprint(key) !== expected) {
      throw new BackupError(`the ${name} given is not the one this backup was made with`);
    }
    checked[name] = key;
  }
  if (manifest.keystore) {
    const keystoreKey = keys["signing-keystore-key"]?.trim();
    const keyFiles = manifest.files.filter(
      (f) =>
        f.path.startsWith(`${manifest.keystore}/`) && f.path.endsWith(".key") && !f.path.includes("/dev-ca/"),
    );
    if (keyFiles.length > 0 && !keystoreKey) {
      throw new BackupError(
        `the signing-keystore-key is needed to check the keystore: --keys or ${ROOT_KEYS["signing-keystore-key"]}`,
      );
    }
    for (const f of keyFiles) {
      const keyId = f.path.slice(f.path.lastIndexOf("/") + 1, -".key".length);
      try {
        openPrivateKey(
          keyId,
          await readFile(join(dir, "files", f.path)),
          Buffer.from(keystoreKey as string, "hex"),
        );
      } catch (error) {
        if (error instanceof KeystoreError) {
          throw new BackupError(
            `the keystore does not open with the signing-keystore-key given: ${error.message}`,
          );
        }
        throw error;
      }
    }
    if (keystoreKey) checked["signing-keystore-key"] = keystoreKey;
  }
  return checked;
}

/** An embedded backup into the fresh data folder `dataDir`. */
export async function restoreEmbedded(options: {
  from: string;
  dataDir: string;
  keys: Partial<Record<RootKeyName, string>>;
  log: Log;
}): Promise<Manifest> {
  const manifest = await readBackup(options.from);
  if (manifest.mode !== "embedded")
    throw new BackupError("this is a cluster backup: restore it with --cluster");
  const dataDir = resolve(options.dataDir);
  assertFresh(dataDir, "the data folder");
  const keys = await checkRootKeys(options.from, manifest, options.keys);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  for (const f of manifest.files)
    await copyInto(join(options.from, "files", f.path), join(dataDir, f.path), f.mode);
  for (const d of manifest.databases) {
    await loadPglite(join(options.from, d.file), join(dataDir, d.name));
    options.log(`  database  ${d.name}`);
  }
  await mkdir(join(dataDir, "secrets"), { recursive: true, mode: 0o700 });
  for (const [name, key] of Object.entries(keys)) {
    await writeFile(join(dataDir, "secrets", name), `${key}\n`, { mode: 0o600 });
  }
  options.log(`  files     ${manifest.files.length}; root keys back in ${join(dataDir, "secrets")}`);
  return manifest;
}

export interface ClusterTarget {
  /** PIAOJU_DATABASE_URL: the server. */
  serverUrl: string;
  /** PIAOJU_DATABASE_PREFIX. */
  prefix: string;
  services: readonly string[];
}

const databaseOf = (t: ClusterTarget, service: string) => `${t.prefix}${service.replaceAll("-", "_")}`;

/**
 * A cluster installation's databases (pg_dump each) and, given `keystoreDir` (a copy of a
 * device's keystore volume), its keystore. Refuses while services are connected, unless `online`
 * (each database is then consistent in itself, not with the others: see docs/BACKUP.md).
 */
export async function backupCluster(options: {
  target: ClusterTarget;
  out: string;
  keystoreDir?: string | undefined;
  online: boolean;
  rootKeys: Partial<Record<RootKeyName, string>>;
  log: Log;
}): Promise<Manifest> {
  const { target } = options;
  assertFresh(options.out, "the backup folder");
  const names = target.services.map((s) => databaseOf(target, s));
  const present = await existingDatabases(target.serverUrl, names);
  const services = target.services.filter((s) => present.includes(databaseOf(target, s)));
  if (services.length === 0) throw new BackupError(`no Piaoju database (${names.join(", ")}) on the server`);
  if (!options.online) {
    const busy: string[] = [];
    for (const s of services) {
      const n = await otherSessions(target.serverUrl, databaseOf(target, s));
      if (n > 0) busy.push(`${databaseOf(target, s)} (${n})`);
    }
    if (busy.length > 0) {
      throw new BackupError(
        `services are connected to ${busy.join(", ")}: stop them first (kubectl scale --replicas=0) for a ` +
          "consistent backup, or pass --online (each database consistent by itself only)",
      );
    }
  }
  await mkdir(join(options.out, "databases"), { recursive: true, mode: 0o700 });
  const databases: ManifestDatabase[] = [];
  for (const service of services) {
    const file = `databases/${service}.dump`;
    await dumpPostgres(target.serverUrl, databaseOf(target, service), join(options.out, file));
    databases.push({ name: service, file, sha256: await sha256(join(options.out, file)) });
    options.log(`  database  ${databaseOf(target, service)}`);
  }
  let files: ManifestFile[] = [];
  if (options.keystoreDir) {
    const dir = resolve(options.keystoreDir);
    const { files: keystoreFiles } = walk(dir);
    files = await recordFiles(
      options.out,
      keystoreFiles.map((rel) => ({ rel: `keystore/${rel}`, from: join(dir, rel) })),
    );
    options.log(`  keystore  ${files.length} files from ${dir}`);
  }
  const rootKeys: Manifest["rootKeys"] = {};
  for (const [name, key] of Object.entries(options.rootKeys) as [RootKeyName, string][]) {
    if (key) rootKeys[name] = fingerprint(key);
  }
  const manifest: Manifest = {
    format: FORMAT,
    mode: "cluster",
    createdAt: new Date().toISOString(),
    consistency: options.online ? "per-database" : "platform-stopped",
    databases,
    files,
    keystore: files.length > 0 ? "keystore" : null,
    rootKeys,
  };
  await writeManifest(options.out, manifest);
  return manifest;
}

/** A cluster backup into fresh databases (`target`) and, if it has a keystore, into `keystoreDir`. */
export async function restoreCluster(options: {
  from: string;
  target: ClusterTarget;
  keystoreDir?: string | undefined;
  keys: Partial<Record<RootKeyName, string>>;
  log: Log;
}): Promise<Manifest> {
  const manifest = await readBackup(options.from);
  if (manifest.mode !== "cluster")
    throw new BackupError("this is an embedded backup: restore it without --cluster");
  const { target } = options;
  const taken = await existingDatabases(
    target.serverUrl,
    manifest.databases.map((d) => databaseOf(target, d.name)),
  );
  if (taken.length > 0)
    throw new BackupError(`databases exist: ${taken.join(", ")}; restore into fresh ones`);
  if (manifest.keystore) {
    if (!options.keystoreDir)
      throw new BackupError("the backup has a keystore: --keystore <empty folder> to restore it into");
    assertFresh(options.keystoreDir, "the keystore folder");
  }
  await checkRootKeys(options.from, manifest, options.keys);
  for (const d of manifest.databases) {
    await restorePostgres(join(options.from, d.file), target.serverUrl, databaseOf(target, d.name));
    options.log(`  database  ${databaseOf(target, d.name)}`);
  }
  if (manifest.keystore && options.keystoreDir) {
    for (const f of manifest.files) {
      await copyInto(
        join(options.from, "files", f.path),
        join(options.keystoreDir, f.path.slice("keystore/".length)),
        f.mode,
      );
    }
    options.log(`  keystore  ${manifest.files.length} files into ${options.keystoreDir}`);
  }
  return manifest;
}
