import { type CatalogEvent, decodeEvent, type Emit, type Envelope } from "@piaoju/contracts";
import type { SqlExecutor, UnitOfWork } from "@piaoju/persistence";
import type { Bus, IncomingMessage, SubscribeOptions, Subscription } from "./bus.ts";
import { enqueueEvents, recordEvents } from "./outbox.ts";

/**
 * Claims an event for a consumer group inside the caller's transaction. False means
 * the group already processed it (a redelivery or a replay): do nothing.
 */
export async function claimEvent(tx: SqlExecutor, group: string, envelope: Envelope): Promise<boolean> {
  const rows = await tx.query(
    `INSERT INTO piaoju_inbox (consumer_group, event_id, event_type) VALUES ($1, $2::uuid, $3)
     ON CONFLICT DO NOTHING RETURNING event_id`,
    [group, envelope.id, envelope.type],
  );
  return rows.length === 1;
}

export type InboxOutcome = "processed" | "duplicate";

/**
 * Subscribes a handler that runs exactly once per event per group: the inbox claim and
 * the handler's writes commit together, so a redelivery finds the claim and skips.
 */
export function subscribeOnce<Tx>(
  bus: Bus,
  unitOfWork: UnitOfWork<Tx>,
  options: Omit<SubscribeOptions, "handler"> & {
    handler: (message: IncomingMessage, tx: Tx, sql: SqlExecutor) => Promise<void>;
    onOutcome?: (outcome: InboxOutcome, message: IncomingMessage) => void;
    /**
     * The event types the handler acts on. Any other type on the topics is passed over before a
     * transaction opens (no inbox row): the handler would have done nothing with it, and a topic
     * carries several types (issuance's five per receipt), so each group saves a transaction per
     * event it does not want. Unset: every event is handled.
     */
    types?: readonly string[];
  },
): Promise<Subscription> {
  const { handler, onOutcome, types, ...rest } = options;
  const wanted = types ? new Set(types) : undefined;
  return bus.subscribe({
    ...rest,
    handler: async (message) => {
      if (wanted && !wanted.has(message.envelope.type)) return;
      const outcome = await unitOfWork(async (tx, sql): Promise<InboxOutcome> => {
        if (!(await claimEvent(sql, options.group, message.envelope))) return "duplicate";
        await handler(message, tx, sql);
        return "processed";
      });
      onOutcome?.(outcome, message);
    },
  });
}

/**
 * A service's consumer of catalog events: each event decoded (validated, upcast), handled
 * exactly once per group in one transaction with the events the handler emits (outbox),
 * and the relay woken after the commit. Unknown or malformed events are dead-lettered (of the
 * listed `types`, when the consumer lists them: the others are not its business).
 */
export function consumeEvents<Tx, T extends CatalogEvent["type"] = CatalogEvent["type"]>(
  bus: Bus,
  unitOfWork: UnitOfWork<Tx>,
  options: Omit<SubscribeOptions, "handler"> & {
    producer: string;
    clock: () => Date;
    published: () => void;
    /** Sees only the listed types: a branch on a type left out of `types` does not compile. */
    handle: (event: Extract<CatalogEvent, { type: T }>, tx: Tx, emit: Emit) => Promise<void>;
    /** The event types `handle` acts on; others are passed over without a transaction (see subscribeOnce). */
    types?: readonly T[];
  },
): Promise<Subscription> {
  const { producer, clock, published, handle, ...subscribe } = options;
  return subscribeOnce(bus, unitOfWork, {
    ...subscribe,
    handler: async (message, tx, sql) => {
      const recorder = recordEvents(producer, clock);
      // subscribeOnce passes over the types not listed, so what reaches here is one of them.
      await handle(decodeEvent(message.envelope) as Extract<CatalogEvent, { type: T }>, tx, recorder.emit);
      await enqueueEvents(sql, recorder.messages);
    },
    onOutcome: (outcome) => {
      if (outcome === "processed") published();
    },
  });
}
