import type { Command } from "commander";
import { runScript } from "../child.ts";
import { type CliCommand, groups } from "../program.ts";

// The software signing device's keystore tool, run as its own program (the runner composes
// services by their entry only, never by their insides).
const KEYSTORE_CLI = "services/signing-device/src/keystore-cli.ts";

/** `piaoju keystore`: keys and certificates of a software signing device. */
export default {
  order: 60,
  register(program) {
    const keystore = program
      .command("keystore")
      .helpGroup(groups.operate)
      .summary("keys and certificates of a software signing device")
      .description(
        "The software signing device's keystore: SM2 keys sealed with PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY " +
          "(32 hex characters), and their certificates.",
      );
    const run = (args: string[]) => async () => {
      process.exitCode = await runScript(KEYSTORE_CLI, args, { what: "piaoju keystore" });
    };
    keystore
      .command("init")
      .description("a new SM2 key, sealed, and (unless --no-cert) a certificate from the keystore's dev CA")
      .requiredOption("--dir <dir>", "the keystore directory")
      .requiredOption("--key-id <id>", "the key's id, e.g. agency-110101")
      .option("--subject <dn>", 'the certificate subject, e.g. "/C=CN/O=…/OU=110101/CN=…"')
      .option("--no-cert", "the key only (install a licensed CA's certificate with import-cert)")
      .action((opts: { dir: string; keyId: string; subject?: string; cert: boolean }, cmd: Command) =>
        run([
          cmd.name(),
          "--dir",
          opts.dir,
          "--key-id",
          opts.keyId,
          ...(opts.subject ? ["--subject", opts.subject] : []),
          ...(opts.cert ? [] : ["--no-cert"]),
        ])(),
      );
    keystore
      .command("import-cert")
      .description("install a certificate chain (leaf first) for an existing key")
      .requiredOption("--dir <dir>", "the keystore directory")
      .requiredOption("--key-id <id>", "the key")
      .requiredOption("--cert <file>", "PEM chain; the leaf must carry the key's public key")
      .action((opts: { dir: string; keyId: string; cert: string }) =>
        run(["import-cert", "--dir", opts.dir, "--key-id", opts.keyId, "--cert", opts.cert])(),
      );
    keystore
      .command("list")
      .description("key ids, their public keys and certificates")
      .requiredOption("--dir <dir>", "the keystore directory")
      .action((opts: { dir: string }) => run(["list", "--dir", opts.dir])());
  },
} satisfies CliCommand;
