import { type CliCommand, groups, NotYetAvailable } from "../program.ts";

// A place for backup (databases, the signing keystore, secrets), being built beside the signing
// work. Until it lands this says so, and does nothing else: no half-made archive is written.
export default {
  order: 80,
  register(program) {
    program
      .command("backup")
      .helpGroup(groups.operate)
      .summary("an installation's databases, keystore and secrets to an archive (not yet available)")
      .description(
        "Copies an installation's databases, keystore and secrets to an archive. Not yet available.",
      )
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => {
        throw new NotYetAvailable(
          "backup is not yet available in this build: it is being built.\n" +
            "Until then: stop the platform and copy its data folder (embedded), or pg_dump each piaoju_* database (cluster).",
        );
      });
  },
} satisfies CliCommand;
