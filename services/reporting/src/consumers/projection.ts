import type { Bus, IncomingMessage, Subscription } from "@piaoju/bus";
import { decodeEvent, topics } from "@piaoju/contracts";
import type { Database, SqlExecutor } from "@piaoju/persistence";
import type { PayerProtection } from "../adapters/payer-protection.ts";
import { currentGeneration, ensureProjectionState } from "../app/generation.ts";
import { projectEvent, projectedTypes } from "../app/project-event.ts";

/** The topics the read models are built from (payment's collection reports will add topics.payment). */
export const projectionTopics = [topics.stock, topics.issuance, topics.finance, topics.delivery] as const;

/** A generation's consumer group: a rebuild starts the next one, which reads the topics from the start. */
export const projectionGroup = (generation: number): string => `reporting.projection.g${generation}`;

export interface Projection {
  readonly generation: number;
  /** Moves to another generation's group (after a rebuild, here or in another replica). */
  switchTo(generation: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The read models' one consumer: every event of the topics, in one transaction each with its
 * inbox claim and the partition's checkpoint (how far the read models got: the lag metric).
 * Events the read models are not built from only move the checkpoint. A consumer whose
 * generation was retired by a rebuild applies nothing more; each replica notices the new
 * generation within `pollMs` and moves to its group.
 */
export async function startProjection(deps: {
  bus: Bus;
  db: Database;
  protection: PayerProtection;
  pollMs: number;
  onError: (error: unknown) => void;
}): Promise<Projection> {
  await ensureProjectionState(deps.db);
  let generation = await currentGeneration(deps.db);
  let subscription: Subscription | undefined = await subscribe(generation);
  let switching: Promise<void> = Promise.resolve();
  let stopped = false;

  async function subscribe(gen: number): Promise<Subscription> {
    const group = projectionGroup(gen);
    return deps.bus.subscribe({
      group,
      topics: projectionTopics,
      handler: (message) =>
        deps.db.transaction(async (tx) => {
          const event = decodeEvent(message.envelope);
          if (projectedTypes.has(event.type) && (await claimWhileLive(tx, gen, group, message))) {
            await projectEvent(tx, deps.protection, event);
          }
          await checkpoint(tx, gen, message);
        }),
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

async function checkpoint(tx: SqlExecutor, generation: number, m: IncomingMessage): Promise<void> {
  await tx.query(
    `INSERT INTO projection_checkpoint (generation, topic, partition, next_offset, last_event_at, applied_at)
     SELECT $1, $2, $3, $4, $5, now() WHERE EXISTS (SELECT 1 FROM projection_state WHERE generation = $1)
     ON CONFLICT (generation, topic, partition) DO UPDATE
       SET next_offset = GREATEST(projection_checkpoint.next_offset, EXCLUDED.next_offset),
           last_event_at = EXCLUDED.last_event_at, applied_at = EXCLUDED.applied_at`,
    [generation, m.topic, m.partition, String(BigInt(m.offset) + 1n), m.envelope.occurredAt],
  );
}
