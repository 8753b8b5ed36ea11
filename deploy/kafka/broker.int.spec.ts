// A real broker end to end: start, topic, idempotent produce, consume, stop.
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { isAlive, type KafkaBroker, startKafkaBroker } from "./broker.ts";

let broker: KafkaBroker;

// Cold Maven (first run on a machine) fetches ~46 MB of jars before the broker can start.
beforeAll(async () => {
  broker = await startKafkaBroker();
}, 300_000);

afterAll(async () => {
  await broker?.stop();
}, 30_000);

test("produces idempotently and consumes back from a real broker", async () => {
  const kafka = new Kafka({
    clientId: "broker-int-spec",
    brokers: [broker.brokers],
    logLevel: logLevel.NOTHING,
  });
  const topic = "receipts.issued.test";

  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();

  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const sent = Array.from({ length: 10 }, (_, i) => ({ key: `receipt-${i}`, value: `payload-${i}` }));
  await producer.send({ topic, messages: sent });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: "broker-int-spec" });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received: { key: string; value: string }[] = [];
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        received.push({ key: String(message.key), value: String(message.value) });
        if (received.length === sent.length) resolve();
      },
    });
  });
  await consumer.disconnect();

  // Order holds per partition only, so compare as sets.
  expect(received.sort((a, b) => a.key.localeCompare(b.key))).toEqual(
    sent.sort((a, b) => a.key.localeCompare(b.key)),
  );
}, 60_000);

test("stop() ends the broker process", async () => {
  const { pid } = broker;
  await broker.stop();
  expect(isAlive(pid)).toBe(false);
}, 30_000);
