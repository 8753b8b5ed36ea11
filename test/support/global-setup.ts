import type { TestProject } from "vitest/node";
/// <reference path="./vitest.d.ts" />
import { type KafkaBroker, startKafkaBroker } from "../../deploy/kafka/broker.ts";

/**
 * Integration tests run against a real Kafka broker: the one named by KAFKA_BROKERS,
 * or one started here (from Maven Central's jars) for this run and stopped after it.
 * PostgreSQL is the machine's own; each test file makes its own database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let broker: KafkaBroker | undefined;
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    const started = Date.now();
    broker = await startKafkaBroker();
    brokers = broker.brokers;
    console.log(`[piaoju] Kafka broker ${brokers} (pid ${broker.pid}) ready in ${Date.now() - started} ms`);
  }
  project.provide("kafkaBrokers", brokers);
  return async () => {
    await broker?.stop();
  };
}
