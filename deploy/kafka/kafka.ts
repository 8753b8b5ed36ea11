// CLI for a local broker that outlives the command:
//   tsx deploy/kafka/kafka.ts start [--port 9092] [--data-dir deploy/kafka/run]
//   tsx deploy/kafka/kafka.ts stop | status
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isAlive, startKafkaBroker, stopKafkaPid } from "./broker.ts";

interface BrokerState {
  brokers: string;
  pid: number;
  dataDir: string;
}

const runDir = join(dirname(fileURLToPath(import.meta.url)), "run");
const stateFile = join(runDir, "broker.json");

/** The broker recorded in broker.json, if that PID is still a Kafka broker (not a recycled PID). */
function running(): BrokerState | undefined {
  try {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as BrokerState;
    const cmdline = readFileSync(`/proc/${state.pid}/cmdline`, "utf8");
    return isAlive(state.pid) && cmdline.includes("kafka.Kafka") ? state : undefined;
  } catch {
    return undefined;
  }
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { port: { type: "string", default: "9092" }, "data-dir": { type: "string", default: runDir } },
});

switch (positionals[0]) {
  case "start": {
    const current = running();
    if (current) {
      console.log(`already running, pid ${current.pid}`);
      console.log(`KAFKA_BROKERS=${current.brokers}`);
      break;
    }
    const broker = await startKafkaBroker({
      port: Number(values.port),
      dataDir: resolve(values["data-dir"]),
      detach: true,
      log: (line) => console.error(line),
    });
    const state: BrokerState = { brokers: broker.brokers, pid: broker.pid, dataDir: broker.dataDir };
    await mkdir(runDir, { recursive: true });
    await writeFile(stateFile, `${JSON.stringify(state, null, 2)}\n`);
    console.log(`KAFKA_BROKERS=${broker.brokers}`);
    break;
  }
  case "stop": {
    const current = running();
    if (current) await stopKafkaPid(current.pid);
    await rm(stateFile, { force: true });
    console.log(current ? `stopped pid ${current.pid}` : "not running");
    break;
  }
  case "status": {
    const current = running();
    console.log(current ? `running, pid ${current.pid}, KAFKA_BROKERS=${current.brokers}` : "not running");
    process.exitCode = current ? 0 : 1;
    break;
  }
  default:
    console.error("usage: tsx deploy/kafka/kafka.ts start [--port 9092] [--data-dir DIR] | stop | status");
    process.exitCode = 2;
}
