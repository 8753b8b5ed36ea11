import { notYetAvailable } from "../program.ts";

// The place for the administration command (people, roles, the admin console's accounts), being
// built beside the identity work. Until it lands this says so, and does nothing else.
export default notYetAvailable({
  order: 70,
  name: "admin",
  summary: "people, roles and data scopes",
  description: "Administers people, roles and data scopes.",
  message:
    "people, roles and the admin console are being built.\n" +
    "Until then the services' internal API takes the token in .data/secrets/internal-token.",
});
