import { type CliCommand, groups, NotYetAvailable } from "../program.ts";

// A place for the administration command (people, roles, the admin console's accounts), being
// built beside the identity work. Until it lands this says so, and does nothing else.
export default {
  order: 70,
  register(program) {
    program
      .command("admin")
      .helpGroup(groups.operate)
      .summary("people, roles and data scopes (not yet available)")
      .description("Administers people, roles and data scopes. Not yet available in this build.")
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => {
        throw new NotYetAvailable(
          "admin is not yet available in this build: people, roles and the admin console are being built.\n" +
            "Until then the services' internal API takes the token in .data/secrets/internal-token.",
        );
      });
  },
} satisfies CliCommand;
