import { type CliCommand, groups } from "../program.ts";

/** `piaoju demo`: beside a running platform, an agency issues a receipt end to end. */
export default {
  order: 30,
  register(program) {
    program
      .command("demo")
      .helpGroup(groups.run)
      .summary("beside a running platform: an agency issues a receipt end to end")
      .description(
        "An agency applies to finance for numbers (申领), takes them into stock (入库), sets a 分发 rule, and " +
          "a business system issues a receipt over the signed API; followed to ISSUED and delivery.",
      )
      .option("--url <url>", "the running platform", "http://127.0.0.1:8080")
      .option("--data-dir <dir>", "its data folder (for the internal token)", ".data")
      .option("--no-finance", "skip 申领 from finance and do not wait for supervision")
      .action(async (opts: { url: string; dataDir: string; finance: boolean }) => {
        const { runDemo } = await import("../../demo.ts");
        await runDemo({ url: opts.url, dataDir: opts.dataDir, finance: opts.finance });
      });
  },
} satisfies CliCommand;
