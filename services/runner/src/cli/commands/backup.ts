import { join, resolve } from "node:path";
import { asPlainFailure, clusterTarget, rootKeys } from "../backup-options.ts";
import { type CliCommand, groups } from "../program.ts";

/** `piaoju backup <dir>`: every database, the signing keystore, the bus and the secrets (docs/BACKUP.md). */
export default {
  order: 80,
  register(program) {
    program
      .command("backup")
      .helpGroup(groups.operate)
      .summary("an installation's databases, keystore and secrets to a folder")
      .description(
        "Embedded (default): the stopped platform in PIAOJU_DATA_DIR (.data): every database (PGlite's own " +
          "dump), the signing keystore (sealed), the bus and the secrets. --cluster: every service's database " +
          "on PIAOJU_DATABASE_URL (pg_dump; services stopped, or --online). The root keys are never in a " +
          "backup: keep them offline (docs/BACKUP.md).",
      )
      .argument("<dir>", "a new folder for the backup")
      .option("--cluster", "the cluster's PostgreSQL databases instead of the embedded data folder")
      .option("--keystore <dir>", "with --cluster: a signing device's keystore folder to copy as well")
      .option("--online", "with --cluster: while services run (consistent per database only)")
      .option("--keys <dir>", "a folder holding the root keys, only to record their fingerprints")
      .action(
        async (
          dir: string,
          opts: { cluster?: boolean; keystore?: string; online?: boolean; keys?: string },
        ) => {
          const { ROOT_KEYS, backupCluster, backupEmbedded } = await import("../../backup.ts");
          const dataDir = resolve(process.env.PIAOJU_DATA_DIR ?? ".data");
          const log = (line: string) => process.stdout.write(`${line}\n`);
          log(`Piaoju backup (${opts.cluster ? "cluster" : `embedded, ${dataDir}`}) into ${resolve(dir)}`);
          const manifest = await asPlainFailure(async () =>
            opts.cluster
              ? backupCluster({
                  target: await clusterTarget(),
                  out: dir,
                  keystoreDir: opts.keystore,
                  online: opts.online === true,
                  rootKeys: await rootKeys(opts.keys),
                  log,
                })
              : backupEmbedded({ dataDir, out: dir, log }),
          );
          log(
            `done: ${manifest.databases.length} databases, ${manifest.files.length} files, manifest.json.\n` +
              `Not in it, keep them offline: ${Object.keys(ROOT_KEYS).join(", ")}` +
              `${opts.cluster ? "" : ` (in ${join(dataDir, "secrets")})`}.`,
          );
        },
      );
  },
} satisfies CliCommand;
