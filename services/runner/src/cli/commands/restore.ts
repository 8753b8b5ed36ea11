import { type CliCommand, groups, NotYetAvailable } from "../program.ts";

// A place for restore (databases, the signing keystore, secrets), being built beside the signing
// work. Until it lands this says so, and does nothing else: no half-made archive is written.
export default {
  order: 90,
  register(program) {
    program
      .command("restore")
      .helpGroup(groups.operate)
      .summary("an installation back from a backup archive (not yet available)")
      .description("Brings an installation back from a backup archive. Not yet available.")
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => {
        throw new NotYetAvailable("restore is not yet available in this build: it is being built.");
      });
  },
} satisfies CliCommand;
