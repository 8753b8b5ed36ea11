import { resolve } from "node:path";
import { asPlainFailure, clusterTarget, rootKeys } from "../backup-options.ts";
import { type CliCommand, groups } from "../program.ts";

/** `piaoju restore <dir>`: a backup into a fresh data folder or fresh databases, every file checked first. */
export default {
  order: 81,
  register(program) {
    program
      .command("restore")
      .helpGroup(groups.operate)
      .summary("an installation back from a backup folder")
      .description(
        "Into a fresh PIAOJU_DATA_DIR (embedded) or fresh databases under PIAOJU_DATABASE_PREFIX (--cluster). " +
          "Every file is checked against the manifest and the root keys against their fingerprints before " +
          "anything is written. The root keys come from --keys DIR (files signing-keystore-key, " +
          "secrets-key and check-code-key, as in .data/secrets) or PIAOJU_SIGNING_KEYSTORE_KEY, " +
          "PIAOJU_SECRETS_KEY and PIAOJU_CHECK_CODE_KEY.",
      )
      .argument("<dir>", "the backup folder")
      .option("--cluster", "into the cluster's PostgreSQL instead of an embedded data folder")
      .option("--keystore <dir>", "with --cluster: an empty folder for the signing keystore")
      .option("--keys <dir>", "a folder holding the root keys")
      .action(async (dir: string, opts: { cluster?: boolean; keystore?: string; keys?: string }) => {
        const { restoreCluster, restoreEmbedded } = await import("../../backup.ts");
        const dataDir = resolve(process.env.PIAOJU_DATA_DIR ?? ".data");
        const log = (line: string) => process.stdout.write(`${line}\n`);
        log(`Piaoju restore from ${resolve(dir)} into ${opts.cluster ? "fresh databases" : dataDir}`);
        const keys = await rootKeys(opts.keys);
        const manifest = await asPlainFailure(async () =>
          opts.cluster
            ? restoreCluster({
                from: dir,
                target: await clusterTarget(),
                keystoreDir: opts.keystore,
                keys,
                log,
              })
            : restoreEmbedded({ from: dir, dataDir, keys, log }),
        );
        log(
          `done: ${manifest.databases.length} databases and ${manifest.files.length} files of ${manifest.createdAt}.`,
        );
      });
  },
} satisfies CliCommand;
