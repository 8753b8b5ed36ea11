import { runCli } from "./cli/program.ts";

/**
 * `piaoju`: the one command line. `./piaoju` (bash) installs what is needed on a fresh machine,
 * then runs this with node; the image runs it as its entry point. Subcommands are the files in
 * cli/commands/ (one each); `piaoju --help` lists them.
 */
await runCli(process.argv);
