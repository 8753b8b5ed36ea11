import type { Bus, IncomingMessage, Subscription } from "@piaoju/bus";
import { decodeEvent, topics } from "@piaoju/contracts";
import type { Database, SqlExecutor } from "@piaoju/persistence";
import type { PayerProtection } from "../adapters/payer-protection.ts";
import { currentGeneration, ensureProjectionState } from "../app/generation.ts";
import { projectEvent, projectedTypes } from "../app/project-event.ts";

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
 * The read models' one consumer: every event they are built from in one transaction with its
 * inbox claim (the claim, not the checkpoint, makes a redelivered event apply once). Each
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
    return deps.bus.subscribe({
      group,
      topics: projectionTopics,
      handler: async (message) => {
        const event = decodeEvent(message.envelope);
        if (projectedTypes.has(event.type)) {
          await deps.db.transaction(async (tx) => {
            if (await claimWhileLive(tx, gen, group, message)) await projectEvent(tx, deps.protection, event);
          });
        }
        checkpoints.passed(gen, message);
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
 * The inbox claim (as @piaoju/bus's claimEvent) taken only while this consumer's generation is
 * live, in the same statement: a rebuild locks projection_state before it empties the read
 * models, so this waits for it, and a retired generation's consumer claims and applies nothing.
 */
async function claimWhileLive(
  tx: SqlExecutor,
  generation: number,
  group: string,
  m: IncomingMessage,
): Promise<boolean> {
  const rows = await tx.query(
    `INSERT INTO piaoju_inbox (consumer_group, event_id, event_type)
     SELECT $1, $2::uuid, $3 WHERE EXISTS (SELECT 1 FROM projection_state WHERE generation = $4)
     ON CONFLICT DO NOTHING RETURNING event_id`,
    [group, m.envelope.id, m.envelope.type, generation],
  );
  return rows.length === 1;
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
