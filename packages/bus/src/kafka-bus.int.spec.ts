import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, inject, it } from "vitest";
import { describeBusContract } from "./bus.contract.ts";
import { KafkaBus } from "./kafka-bus.ts";

const quiet = () => () => {};

describeBusContract(
  "kafka",
  async () =>
    new KafkaBus({ brokers: inject("kafkaBrokers").split(","), clientId: "contract-test", log: quiet }),
);

describe("kafka bus namespaces", () => {
  it("keeps installations sharing a broker apart: same topic and group names, separate streams", async () => {
    const brokers = inject("kafkaBrokers").split(",");
    const a = new KafkaBus({
      brokers,
      clientId: "ns-a",
      namespace: `a${randomUUID().slice(0, 6)}`,
      log: quiet,
    });
    const b = new KafkaBus({
      brokers,
      clientId: "ns-b",
      namespace: `b${randomUUID().slice(0, 6)}`,
      log: quiet,
    });
    try {
      const seen = { a: [] as string[], b: [] as string[] };
      for (const [bus, into] of [
        [a, seen.a],
        [b, seen.b],
      ] as const) {
        await bus.subscribe({
          group: "stock.finance-intake",
          topics: ["piaoju.finance.events"],
          handler: async (m) => {
            expect(m.topic).toBe("piaoju.finance.events"); // services see the catalog's name
            into.push(m.envelope.key);
          },
        });
      }
      const envelope = (key: string) => ({
        id: randomUUID(),
        type: "contract.Probe",
        version: 1,
        occurredAt: new Date().toISOString(),
        key,
        producer: "test",
        data: {},
      });
      await a.publish([{ topic: "piaoju.finance.events", envelope: envelope("for-a") }]);
      await b.publish([{ topic: "piaoju.finance.events", envelope: envelope("for-b") }]);
      const deadline = Date.now() + 30_000;
      while ((seen.a.length === 0 || seen.b.length === 0) && Date.now() < deadline) await sleep(50);
      await sleep(300);
      expect(seen).toEqual({ a: ["for-a"], b: ["for-b"] });
    } finally {
      await a.close();
      await b.close();
    }
  });
});
