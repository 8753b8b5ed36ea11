import { runScript } from "../child.ts";
import { type CliCommand, groups } from "../program.ts";

const KAFKA = "deploy/kafka/kafka.ts";

/** `piaoju kafka`: a real single-node Kafka (KRaft) from Maven Central, for cluster-mode runs. */
export default {
  order: 110,
  register(program) {
    const kafka = program
      .command("kafka")
      .helpGroup(groups.develop)
      .summary("a local Kafka broker for cluster-mode runs")
      .description(
        "A real single-node Kafka broker (KRaft, from Maven Central's jars) that outlives the command.",
      );
    const run = (args: string[]) =>
      runScript(KAFKA, args, { what: "piaoju kafka" }).then((code) => {
        process.exitCode = code;
      });
    kafka
      .command("start")
      .description("start it (prints KAFKA_BROKERS=…); a running one is reused")
      .option("--port <port>", "listener port", "9092")
      .option("--data-dir <dir>", "where its log lives (default deploy/kafka/run)")
      .action((opts: { port: string; dataDir?: string }) =>
        run(["start", "--port", opts.port, ...(opts.dataDir ? ["--data-dir", opts.dataDir] : [])]),
      );
    kafka
      .command("stop")
      .description("stop the broker started here")
      .action(() => run(["stop"]));
    kafka
      .command("status")
      .description("running or not (exit code 1 when not)")
      .action(() => run(["status"]));
  },
} satisfies CliCommand;
