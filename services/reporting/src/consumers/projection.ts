import type { Bus, IncomingMessage, Subscription } from "@piaoju/bus";
import { type CatalogEvent, decodeEvent, topics } from "@piaoju/contracts";
import type { Database, SqlExecutor } from "@piaoju/persistence";
import type { PayerProtection } from "../adapters/payer-protection.ts";
import { currentGeneration, ensureProjectionState } from "../app/generation.ts";
import { projectEvents, projectedTypes } from "../app/project-event.ts";

/** The topics the read models are built from. */
export const projectionTopics = [
  topics.stock,
  topics.issuance,
  topics.finance,
  topics.delivery,
  topics.payment,
] as const;

/** A generation's consumer group: a rebuild starts the next one, which reads the topics from the start. */
export const projectionGroup = (generation: number): string => `reporting.projection.g${generation}`;

export interface Projection {
  readonly generation: number;
  /** Moves to another generation's group (after a rebuild, here or in another replica). */
  switchTo(generation: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The read models' one consumer: the events waiting on a partition in batches (up to
 * `batchSize`), each batch in one transaction with its inbox claims (the claims, not the
 * checkpoint, make a redelivered event apply once; see applyBatch). Each
 * partition's checkpoint (how far the read models got: the lag metric) is written after the
 * events before it have committed, at most every `checkpointMs` per partition rather than once per
 * event; events the read models are not built from only move it, without a transaction of their own. A consumer whose
 * generation was retired by a rebuild applies nothing more; each replica notices the new
 * generation within `pollMs` and moves to its group.
 */
export async function startProjection(deps: {
  bus: Bus;
  db: Database;
  protection: PayerProtection;
  pollMs: number;
  /** How long a partition's checkpoint may trail the events applied (default 200 ms). */
  checkpointMs?: number;
  /** Events of one partition applied in one transaction at most (default 500). */
  batchSize?: number;
  /** How long a partition waits for more events when fewer than a batch are waiting (default 20 ms). */
  lingerMs?: number;
  /** Runs inside each batch's transaction after its events were applied, before the commit (tests plant faults here). */
  beforeCommit?: (tx: SqlExecutor, messages: readonly IncomingMessage[]) => Promise<void>;
  onError: (error: unknown) => void;
}): Promise<Projection> {
  await ensureProjectionState(deps.db);
  const checkpoints = checkpointWriter(deps.db, deps.checkpointMs ?? 200, deps.onError);
  let generation = await currentGeneration(deps.db);
  let subscription: Subscription | undefined = await subscribe(generation);
  let switching: Promise<void> = Promise.resolve();
  let stopped = false;

  async function subscribe(gen: number): Promise<Subscription> {
    const group = projectionGroup(gen);
    const apply = (messages: readonly IncomingMessage[]) =>
      applyBatch(deps.db, deps.protection, gen, group, messages, deps.beforeCommit);
    return deps.bus.subscribe({
      group,
      topics: projectionTopics,
      handler: async (message) => {
        await apply([message]);
        checkpoints.passed(gen, message);
      },
      batch: {
        maxMessages: deps.batchSize ?? 500,
        // Under a steady flow, a few more events per transaction for at most this much latency.
        lingerMs: deps.lingerMs ?? 20,
        handler: async (messages) => {
          await apply(messages);
          checkpoints.passed(gen, messages[messages.length - 1]!);
        },
      },
    });
  }

  const switchTo = (next: number): Promise<void> => {
    switching = switching.then(async () => {
      if (stopped || next === generation) return;
      await subscription?.stop();
      subscription = undefined;
      generation = next;
      subscription = await subscribe(next);
    });
    return switching;
  };

  const timer = setInterval(() => {
    currentGeneration(deps.db)
      .then((gen) => (gen !== generation ? switchTo(gen) : undefined))
      .catch(deps.onError);
  }, deps.pollMs);
  timer.unref();

  return {
    get generation() {
      return generation;
    },
    switchTo,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await switching.catch(() => {});
      await subscription?.stop();
      await checkpoints.flush();
    },
  };
}

/**
 * Group commit: the projected events of a batch (consecutive messages of one partition) are
 * claimed in the inbox in one statement and applied in the same transaction, their tallies
 * folded into one upsert per key (projectEvents). The batch commits whole or not at all: a
 * crash or a throw mid-batch leaves neither claims nor counts, and the bus delivers the batch
 * again (one event at a time after a throw), so every event is counted once.
 */
export async function applyBatch(
  db: Database,
  protection: PayerProtection,
  generation: number,
  group: string,
  messages: readonly IncomingMessage[],
  beforeCommit?: (tx: SqlExecutor, messages: readonly IncomingMessage[]) => Promise<void>,
): Promise<void> {
  // Decoded all (an unknown or malformed event throws: dead-lettered alone on the one-by-one pass).
  const events = messages.map((m) => decodeEvent(m.envelope)).filter((e) => projectedTypes.has(e.type));
  if (events.length === 0) return;
  await db.transaction(async (tx) => {
    const claimed = await claimWhileLive(tx, generation, group, events);
    const once = events.filter((e) => claimed.delete(e.id.toLowerCase()));
    if (once.length > 0) await projectEvents(tx, protection, once);
    await beforeCommit?.(tx, messages);
  });
}

/**
 * The inbox claims (as @piaoju/bus's claimEvent) taken only while this consumer's generation is
 * live, in the same statement: a rebuild locks projection_state before it empties the read
 * models, so this waits for it, and a retired generation's consumer claims and applies nothing.
 * Answers the ids claimed now (not those the group had already processed).
 */
async function claimWhileLive(
  tx: SqlExecutor,
  generation: number,
  group: string,
  events: readonly CatalogEvent[],
): Promise<Set<string>> {
  const rows = await tx.query<{ event_id: string }>(
    `INSERT INTO piaoju_inbox (consumer_group, event_id, event_type)
     SELECT $1, e.id, e.type FROM unnest($2::uuid[], $3::text[]) AS e(id, type)
      WHERE EXISTS (SELECT 1 FROM projection_state WHERE generation = $4)
     ON CONFLICT DO NOTHING RETURNING event_id::text`,
    [group, events.map((e) => e.id), events.map((e) => e.type), generation],
  );
  return new Set(rows.map((r) => r.event_id));
}

/**
 * Checkpoints trail the applied events: `passed` records an event's offset once its transaction
 * committed; a timer writes what moved, one statement per partition, GREATEST so a late write
 * never moves one back, and only while the generation is live.
 */
function checkpointWriter(db: Database, everyMs: number, onError: (error: unknown) => void) {
  const pending = new Map<string, { generation: number; m: IncomingMessage }>();
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    timer = undefined;
    const batch = [...pending.values()];
    pending.clear();
    writing = writing.then(async () => {
      for (const { generation, m } of batch) await write(db, generation, m);
    });
    return writing.catch(onError);
  };
  return {
    passed(generation: number, m: IncomingMessage): void {
      pending.set(`${generation}|${m.topic}|${m.partition}`, { generation, m });
      timer ??= setTimeout(() => void flush(), everyMs);
    },
    flush(): Promise<void> {
      if (timer) clearTimeout(timer);
      return flush();
    },
  };
}

async function write(db: SqlExecutor, generation: number, m: IncomingMessage): Promise<void> {
  await db.query(
    `INSERT INTO projection_checkpoint (generation, topic, partition, next_offset, last_event_at, applied_at)
     SELECT $1, $2, $3, $4, $5, now() WHERE EXISTS (SELECT 1 FROM projection_state WHERE generation = $1)
     ON CONFLICT (generation, topic, partition) DO UPDATE
       SET next_offset = GREATEST(projection_checkpoint.next_offset, EXCLUDED.next_offset),
           last_event_at = GREATEST(projection_checkpoint.last_event_at, EXCLUDED.last_event_at),
           applied_at = EXCLUDED.applied_at`,
    [generation, m.topic, m.partition, String(BigInt(m.offset) + 1n), m.envelope.occurredAt],
  );
}
