import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  createEnvelope,
  decodeEvent,
  defaultPartitions,
  type Envelope,
  events,
  topics,
} from "@piaoju/contracts";
import { type Database, migrate, openDatabase } from "@piaoju/persistence";
import { createTestDatabase } from "@piaoju/persistence/testing";
import { Keyring } from "@piaoju/sealing";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { Bus, DeadLetter, IncomingMessage } from "./bus.ts";
import { EmbeddedBus } from "./embedded-bus.ts";
import { KafkaBus } from "./kafka-bus.ts";
import { enqueueEvents, OutboxRelay, platformMigrationsDir } from "./outbox.ts";
import { partitionFor } from "./partitioner.ts";
import { installEventSealing, SEALED_PREFIX } from "./sealed-events.ts";

const OLD = Keyring.parse("00112233445566778899aabbccddeeff");
const NEW_THEN_OLD = Keyring.parse("ffeeddccbbaa99887766554433221100,00112233445566778899aabbccddeeff");
const NEW_ONLY = Keyring.parse("ffeeddccbbaa99887766554433221100");

// What must never be found in clear at rest: the payer's name, ID number, phone and e-mail.
const PAYER = {
  type: 1 as const,
  code: "11010119900307123X",
  name: "欧阳秋菊",
  phone: "13912345678",
  email: "qiuju.ouyang@example.cn",
};
const SECRETS = [PAYER.name, PAYER.code, PAYER.phone, PAYER.email, "私人备注"];

function receiptIssued(): Envelope {
  const receiptId = randomUUID();
  const document = Buffer.from(
    `<EInvoice><Payer><Name>${PAYER.name}</Name><Code>${PAYER.code}</Code></Payer></EInvoice>`,
  ).toString("base64");
  return createEnvelope(
    events.ReceiptIssued,
    {
      receiptId,
      agencyCode: "110101",
      billCode: "11010126",
      number: "0000000001",
      kind: "blue",
      bizSerialNo: `S-${receiptId.slice(0, 8)}`,
      issuingPointCode: "P01",
      checkCode: "123456",
      issuedAt: "2026-12-04T08:00:00.000Z",
      supervisedAt: "2026-12-04T08:00:01.000Z",
      totalFen: 1000,
      payer: PAYER,
      items: [{ itemCode: "001", itemName: "工本费", quantity: "1", amountFen: 1000 }],
      remark: "私人备注",
      handlingPerson: "li.si",
      document,
      documentSm3: "0".repeat(64),
      agencySignature: Buffer.from("agency").toString("base64"),
      financeSignature: Buffer.from("finance").toString("base64"),
    },
    { producer: "issuance" },
  );
}

/** Text holding any personal value in clear: JSON (UTF-8 as it is), base64 of the document included. */
function leaks(text: string, original: Envelope): string[] {
  const doc = (original.data as { document: string }).document;
  return [...SECRETS, doc].filter((s) => text.includes(s));
}

interface Rig {
  db: Database;
  bus: Bus;
  relay: OutboxRelay;
  /** The bytes the broker keeps of a topic (Kafka's message values, the embedded bus' files). */
  rawTopic(topic: string, containing: string): Promise<string>;
  /** Puts an envelope on the broker as it is, bypassing the bus (an event written before sealing). */
  rawPublish(topic: string, envelope: Envelope): Promise<Bus>;
  close(): Promise<void>;
}

const rigs: Record<string, () => Promise<Rig>> = {
  "PGlite and the embedded bus": async () => {
    const dir = await mkdtemp(join(tmpdir(), "sealed-events-"));
    const db = await openDatabase({ kind: "pglite" });
    await migrate(db, platformMigrationsDir);
    let bus = await EmbeddedBus.open({ dataDir: join(dir, "bus") });
    let relay = new OutboxRelay(db, bus);
    return {
      db,
      get bus() {
        return bus;
      },
      get relay() {
        return relay;
      },
      async rawTopic(topic) {
        const files = (await readdir(join(dir, "bus"))).filter((f) =>
          f.startsWith(`${encodeURIComponent(topic)}~`),
        );
        return (await Promise.all(files.map((f) => readFile(join(dir, "bus", f), "utf8")))).join("");
      },
      async rawPublish(topic, envelope) {
        // Written to the bus' file while it is closed, as an older build left it; then opened again.
        await bus.close();
        const p = partitionFor(envelope.key, defaultPartitions);
        const file = join(dir, "bus", `${encodeURIComponent(topic)}~${p}.jsonl`);
        const before = await readFile(file, "utf8").catch(() => "");
        await writeFile(file, `${before}${JSON.stringify(envelope)}\n`);
        bus = await EmbeddedBus.open({ dataDir: join(dir, "bus") });
        relay = new OutboxRelay(db, bus);
        return bus;
      },
      async close() {
        await bus.close();
        await db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  "PostgreSQL and Kafka": async () => {
    const testDb = await createTestDatabase({ prefix: "sealed_events" });
    const db = await openDatabase({ kind: "postgres", url: testDb.url });
    await migrate(db, platformMigrationsDir);
    const brokers = inject("kafkaBrokers").split(",");
    const namespace = `sealed${randomUUID().slice(0, 8)}`;
    const bus = new KafkaBus({ brokers, clientId: "sealed-events", namespace, log: () => () => {} });
    const kafka = new Kafka({ brokers, clientId: "sealed-events-raw", logLevel: logLevel.NOTHING });
    return {
      db,
      bus,
      relay: new OutboxRelay(db, bus),
      async rawTopic(topic, containing) {
        const consumer = kafka.consumer({ groupId: `raw-${randomUUID()}` });
        const values: string[] = [];
        await consumer.connect();
        try {
          await consumer.subscribe({ topic: `${namespace}.${topic}`, fromBeginning: true });
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no message with ${containing}`)), 30_000);
            void consumer.run({
              eachMessage: async ({ message }) => {
                const value = message.value?.toString("utf8") ?? "";
                values.push(value);
                if (value.includes(containing)) {
                  clearTimeout(timer);
                  resolve();
                }
              },
            });
          });
        } finally {
          await consumer.disconnect();
        }
        return values.join("\n");
      },
      async rawPublish(topic, envelope) {
        await bus.ensureTopics([topic]);
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({
          topic: `${namespace}.${topic}`,
          messages: [{ key: envelope.key, value: JSON.stringify(envelope) }],
        });
        await producer.disconnect();
        return bus;
      },
      async close() {
        await bus.close();
        await db.close();
        await testDb.drop();
      },
    };
  },
};

async function until<T>(what: string, get: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

for (const [name, makeRig] of Object.entries(rigs)) {
  describe(`personal fields of events sealed at rest (${name})`, () => {
    let rig: Rig;
    let uninstall = () => {};
    beforeAll(async () => {
      rig = await makeRig();
    });
    afterAll(async () => {
      await rig?.close();
    });
    afterEach(() => uninstall());

    /** Subscribes a fresh group; what its handler saw, and its dead letters. */
    async function watch(bus: Bus = rig.bus) {
      const group = `g-${randomUUID().slice(0, 8)}`;
      const seen: IncomingMessage[] = [];
      const sub = await bus.subscribe({
        group,
        topics: [topics.issuance],
        handler: async (m) => {
          seen.push(m);
        },
      });
      return {
        group,
        seen,
        stop: () => sub.stop(),
        dead: () => bus.readDeadLetters(group),
        got: (id: string) => until(`event ${id}`, () => seen.find((m) => m.envelope.id === id)),
        died: (id: string) =>
          until(`dead letter ${id}`, async () =>
            (await bus.readDeadLetters(group)).find((l: DeadLetter) => l.envelope.id === id),
          ),
      };
    }

    async function writeToOutbox(envelope: Envelope): Promise<string> {
      await rig.db.transaction((tx) => enqueueEvents(tx, [{ topic: topics.issuance, envelope }]));
      const [row] = await rig.db.query<{ envelope: unknown }>(
        "SELECT envelope::text AS envelope FROM piaoju_outbox WHERE event_id = $1",
        [envelope.id],
      );
      return String(row?.envelope);
    }

    it("keeps no personal value in clear in the outbox row nor on the broker, and the handler gets it opened", async () => {
      uninstall = installEventSealing(OLD);
      const event = receiptIssued();
      const row = await writeToOutbox(event);
      expect(leaks(row, event)).toEqual([]);
      const stored = JSON.parse(row) as Envelope;
      for (const field of ["payer", "document", "remark"])
        expect((stored.data as Record<string, string>)[field]).toMatch(/^sealed:[A-Za-z0-9+/]+=*$/);
      // What is not personal stays readable (ids, amounts: what operators and partitions need).
      expect(stored).toMatchObject({ id: event.id, key: event.key, data: { totalFen: 1000 } });

      const w = await watch();
      await rig.relay.drain();
      const got = await w.got(event.id);
      expect(got.envelope).toEqual(event);
      expect(decodeEvent(got.envelope)).toEqual(event);
      expect(got.attempt).toBe(1);

      const onBroker = (await rig.rawTopic(topics.issuance, event.id))
        .split("\n")
        .filter((line) => line.includes(event.id));
      expect(onBroker).toHaveLength(1);
      expect(leaks(onBroker[0] as string, event)).toEqual([]);
      await w.stop();
    });

    it("dead-letters a tampered sealed field after one attempt, saying which, and keeps it sealed there", async () => {
      uninstall = installEventSealing(OLD);
      const event = receiptIssued();
      const stored = JSON.parse(await writeToOutbox(event)) as Envelope & { data: Record<string, string> };
      const bytes = Buffer.from(stored.data.payer!.slice(SEALED_PREFIX.length), "base64");
      bytes[30] = (bytes[30] as number) ^ 0x01;
      const tampered = {
        ...stored,
        data: { ...stored.data, payer: `${SEALED_PREFIX}${bytes.toString("base64")}` },
      };
      await rig.db.query("UPDATE piaoju_outbox SET envelope = $2::jsonb WHERE event_id = $1", [
        event.id,
        JSON.stringify(tampered),
      ]);

      const w = await watch();
      await rig.relay.drain();
      const letter = await w.died(event.id);
      expect(letter.attempts).toBe(1);
      expect(letter.error.name).toBe("SealedEventError");
      expect(letter.error.message).toMatch(/issuance\.ReceiptIssued .* the sealed field payer does not open/);
      expect(w.seen.filter((m) => m.envelope.id === event.id)).toEqual([]);
      expect(leaks(JSON.stringify(letter), event)).toEqual([]);
      // A sealed value moved to another event does not open either (bound to its event and field).
      const moved = { ...stored, id: randomUUID() };
      await rig.bus.publish([{ topic: topics.issuance, envelope: moved }]);
      expect((await w.died(moved.id)).error.message).toMatch(/sealed field payer does not open/);
      await w.stop();
    });

    it("accepts events written in clear before sealing: older outbox rows and older messages on the broker", async () => {
      uninstall = installEventSealing(OLD);
      // An outbox row an older build wrote: the relay seals it on its way to the broker.
      const inOutbox = receiptIssued();
      await rig.db.query(
        "INSERT INTO piaoju_outbox (event_id, topic, partition_key, envelope) VALUES ($1, $2, $3, $4::jsonb)",
        [inOutbox.id, topics.issuance, inOutbox.key, JSON.stringify(inOutbox)],
      );
      // A message an older build put on the broker in clear.
      const onBroker = receiptIssued();
      const bus = await rig.rawPublish(topics.issuance, onBroker);
      const w = await watch(bus);
      await rig.relay.drain();
      expect((await w.got(inOutbox.id)).envelope).toEqual(inOutbox);
      expect((await w.got(onBroker.id)).envelope).toEqual(onBroker);
      // The older row went out sealed (the clear message put on the broker above stays as it was).
      const relayed = (await rig.rawTopic(topics.issuance, inOutbox.id))
        .split("\n")
        .filter((line) => line.includes(inOutbox.id));
      expect(relayed).toHaveLength(1);
      expect(leaks(relayed[0] as string, inOutbox)).toEqual([]);
      await w.stop();
    });

    it("opens events sealed before a rotation with the new key list, and dead-letters them once the old key is gone", async () => {
      uninstall = installEventSealing(OLD);
      const before = receiptIssued();
      const sealedBefore = await writeToOutbox(before);
      uninstall();

      uninstall = installEventSealing(NEW_THEN_OLD);
      const after = receiptIssued();
      const sealedAfter = JSON.parse(await writeToOutbox(after)) as { data: { payer: string } };
      // New events are sealed under the new key (its id is in the value), old ones stay as they were.
      const keyOf = (v: string) =>
        Buffer.from(v.slice(SEALED_PREFIX.length), "base64").subarray(5, 9).toString("hex");
      expect(keyOf(sealedAfter.data.payer)).not.toBe(
        keyOf((JSON.parse(sealedBefore) as typeof sealedAfter).data.payer),
      );
      const w = await watch();
      await rig.relay.drain();
      expect((await w.got(before.id)).envelope).toEqual(before);
      expect((await w.got(after.id)).envelope).toEqual(after);
      await w.stop();
      uninstall();

      // The old key removed too early: the old event cannot be opened, and says why.
      uninstall = installEventSealing(NEW_ONLY);
      const late = await watch();
      const letter = await late.died(before.id);
      expect(letter.attempts).toBe(1);
      expect(letter.error.message).toMatch(/not in the configured key list/);
      expect((await late.got(after.id)).envelope).toEqual(after);
      await late.stop();
    });

    it("refuses to write a personal event without a key, rather than write it in clear", async () => {
      const event = receiptIssued();
      await expect(writeToOutbox(event)).rejects.toThrow(/PIAOJU_SECRETS_KEY is required/);
      await expect(rig.bus.publish([{ topic: topics.issuance, envelope: event }])).rejects.toThrow(
        /PIAOJU_SECRETS_KEY is required/,
      );
      // Events without personal fields need none.
      const plain = createEnvelope(
        events.ReceiptBooked,
        {
          receiptId: randomUUID(),
          agencyCode: "110101",
          billCode: "11010126",
          number: "0000000001",
          bookedAt: "2026-12-04T08:00:00.000Z",
        },
        { producer: "issuance" },
      );
      expect(JSON.parse(await writeToOutbox(plain))).toEqual(plain);
      await rig.relay.drain();
    });
  });
}
