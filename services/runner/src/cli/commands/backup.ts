import { notYetAvailable } from "../program.ts";

// The place for backup (databases, the signing keystore, secrets), being built beside the signing
// work. Until it lands this says so, and does nothing else: no half-made archive is written.
export default notYetAvailable({
  order: 80,
  name: "backup",
  summary: "an installation's databases, keystore and secrets to an archive",
  description: "Copies an installation's databases, keystore and secrets to an archive.",
  message:
    "it is being built.\n" +
    "Until then: stop the platform and copy its data folder (embedded), or pg_dump each piaoju_* database (cluster).",
});
