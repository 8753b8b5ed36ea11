import { notYetAvailable } from "../program.ts";

// The place for restore (the counterpart of backup), being built beside the signing work.
export default notYetAvailable({
  order: 90,
  name: "restore",
  summary: "an installation back from a backup archive",
  description: "Brings an installation back from a backup archive.",
  message: "it is being built.",
});
