// A relay in a process of its own, for tests that kill it at a chosen point:
//   tsx relay-process.ts <database-url> <brokers> <before-publish|after-publish|never>
import { openDatabase } from "@piaoju/persistence";
import { KafkaBus } from "../src/kafka-bus.ts";
import { OutboxRelay } from "../src/outbox.ts";

const [url, brokers, killAt] = process.argv.slice(2);
if (!url || !brokers || !killAt) throw new Error("usage: relay-process <database-url> <brokers> <kill-at>");

const die = () => process.kill(process.pid, "SIGKILL");
const db = await openDatabase({ kind: "postgres", url });
const bus = new KafkaBus({ brokers: brokers.split(","), clientId: "relay-process", log: () => () => {} });
const relay = new OutboxRelay(db, bus, {
  hooks: {
    beforePublish: killAt === "before-publish" ? die : undefined,
    afterPublish: killAt === "after-publish" ? die : undefined,
  },
});
await relay.drain();
await bus.close();
await db.close();
