import { fileURLToPath } from "node:url";
import { createEnvelope, type Emit, type Envelope } from "@piaoju/contracts";
import type { SqlExecutor, UnitOfWork } from "@piaoju/persistence";
import type { Bus, OutgoingMessage } from "./bus.ts";
import { sealEvent } from "./sealed-events.ts";
import { currentTrace } from "./tracing.ts";

/** The SQL surface the relay needs (a Database of @piaoju/persistence has it). */
export interface TransactionalDatabase extends SqlExecutor {
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
}

/** Migrations for the outbox and inbox tables; every service applies them with its own. */
export const platformMigrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

/**
 * Records events in the caller's transaction. They reach the bus only if that
 * transaction commits, and then surely (the relay retries until published).
 * Their personal fields are sealed here, so the row holds none in clear (sealed-events.ts).
 */
export async function enqueueEvents(tx: SqlExecutor, messages: readonly OutgoingMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const params: unknown[] = [];
  const rows = messages.map(({ topic, envelope }) => {
    params.push(envelope.id, topic, envelope.key, JSON.stringify(sealEvent(envelope)));
    const n = params.length;
    return `($${n - 3}::uuid, $${n - 2}, $${n - 1}, $${n}::jsonb)`;
  });
  await tx.query(
    `INSERT INTO piaoju_outbox (event_id, topic, partition_key, envelope) VALUES ${rows.join(", ")}`,
    params,
  );
}

/**
 * A service's transactions with events: `work` changes state and emits; the events are
 * written to the outbox in the same transaction, stamped with the producer, the injected
 * clock and the active trace; `published` wakes the relay after the commit.
 */
export function transactionsWithEvents<Tx>(options: {
  unitOfWork: UnitOfWork<Tx>;
  producer: string;
  clock: () => Date;
  published: () => void;
}): <T>(work: (tx: Tx, emit: Emit) => Promise<T>) => Promise<T> {
  return async (work) => {
    const result = await options.unitOfWork(async (tx, sql) => {
      const recorder = recordEvents(options.producer, options.clock);
      const value = await work(tx, recorder.emit);
      await enqueueEvents(sql, recorder.messages);
      return value;
    });
    options.published();
    return result;
  };
}

/** Collects emitted events as outgoing messages (for work that writes them itself, e.g. in a consumer). */
export function recordEvents(
  producer: string,
  clock: () => Date,
): { emit: Emit; messages: OutgoingMessage[] } {
  const messages: OutgoingMessage[] = [];
  const emit: Emit = (def, data) => {
    const trace = currentTrace();
    messages.push({
      topic: def.topic,
      envelope: createEnvelope(def, data, { producer, occurredAt: clock(), ...(trace ? { trace } : {}) }),
    });
  };
  return { emit, messages };
}

export interface OutboxRelayOptions {
  batchSize?: number;
  /**
   * How long the relay first sleeps when it found nothing; wake() cuts it short after a local
   * commit. Each further empty look doubles the sleep up to maxIdleMs, so an idle service costs
   * next to nothing: the poll is only the fallback for rows no local commit announced.
   */
  idleMs?: number;
  /** The longest sleep of an idle relay (default 5 s). */
  maxIdleMs?: number;
  /** Published rows are kept this long for inspection, then deleted. */
  retainPublishedMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Test seams for killing the relay at the exact points that matter. */
  hooks?: { beforePublish?: (count: number) => void; afterPublish?: (count: number) => void };
}

// Any constant will do: it only has to be the same for every relay of one database.
const RELAY_LOCK = 7_302_019;

/**
 * Publishes outbox rows in commit order, one batch at a time. A transaction-scoped
 * advisory lock makes one relay of a database work at a time, so several replicas of a
 * service can run relays without reordering a key's events.
 */
export class OutboxRelay {
  private running: Promise<void> | undefined;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  /** A wake() that came while a batch was in hand: look again at once instead of sleeping. */
  private woken = false;
  private lastCleanup = 0;
  private readonly batchSize: number;
  private readonly idleMs: number;
  private readonly maxIdleMs: number;

  constructor(
    private readonly db: TransactionalDatabase,
    private readonly bus: Bus,
    private readonly options: OutboxRelayOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.idleMs = options.idleMs ?? 250;
    this.maxIdleMs = Math.max(this.idleMs, options.maxIdleMs ?? 5_000);
  }

  start(): void {
    this.stopping = false;
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Call after committing outbox rows, to publish them without waiting for the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Publishes one batch; returns how many rows it published (0: none, or another relay holds the lock). */
  async publishBatch(): Promise<number> {
    return (await this.publishOnce()).published;
  }

  private async publishOnce(): Promise<{ published: number; locked: boolean }> {
    let locked = false;
    const published = await this.db.transaction(async (tx) => {
      const [lock] = await tx.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1) AS ok", [
        RELAY_LOCK,
      ]);
      if (!lock?.ok) return 0;
      locked = true;
      const rows = await tx.query<{ seq: string; topic: string; envelope: Envelope | string }>(
        "SELECT seq, topic, envelope FROM piaoju_outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1",
        [this.batchSize],
      );
      if (rows.length === 0) return 0;
      this.options.hooks?.beforePublish?.(rows.length);
      await this.bus.publish(
        rows.map((r) => ({
          topic: r.topic,
          envelope: typeof r.envelope === "string" ? (JSON.parse(r.envelope) as Envelope) : r.envelope,
        })),
      );
      this.options.hooks?.afterPublish?.(rows.length);
      await tx.query("UPDATE piaoju_outbox SET published_at = now() WHERE seq = ANY($1::bigint[])", [
        rows.map((r) => String(r.seq)),
      ]);
      return rows.length;
    });
    return { published, locked };
  }

  /** Publishes until nothing is pending. */
  async drain(): Promise<number> {
    let total = 0;
    for (let n = await this.publishBatch(); n > 0; n = await this.publishBatch()) total += n;
    return total;
  }

  /** Stops the loop after the batch in hand, then publishes what is left (graceful shutdown). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await this.running;
    await this.drain().catch((error: unknown) =>
      this.options.log?.("outbox drain at stop failed", { error }),
    );
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let emptyLooks = 0;
    while (!this.stopping) {
      this.woken = false;
      let outcome = { published: 0, locked: false };
      try {
        outcome = await this.publishOnce();
        failures = 0;
        await this.cleanup();
      } catch (error) {
        failures++;
        this.options.log?.("outbox relay batch failed; will retry", { error, failures });
      }
      // Nothing found under the lock: sleep longer each time. Rows published, or another relay
      // holding the lock (its batch may have missed our commit): look again soon.
      emptyLooks = failures === 0 && outcome.locked && outcome.published === 0 ? emptyLooks + 1 : 0;
      if (outcome.published < this.batchSize && !this.woken) {
        const pause =
          failures > 0
            ? Math.min(5_000, this.idleMs * 2 ** failures)
            : Math.min(this.maxIdleMs, this.idleMs * 2 ** Math.max(0, emptyLooks - 1));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          this.wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeUp = undefined;
      }
    }
  }

  private async cleanup(): Promise<void> {
    const retain = this.options.retainPublishedMs ?? 24 * 3600_000;
    if (Date.now() - this.lastCleanup < 60_000) return;
    this.lastCleanup = Date.now();
    await this.db.query(
      "DELETE FROM piaoju_outbox WHERE published_at IS NOT NULL AND published_at < now() - ($1::bigint * interval '1 millisecond')",
      [retain],
    );
  }
}
