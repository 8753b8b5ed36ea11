import type { Bus } from "@piaoju/bus";
import type { SqlExecutor } from "@piaoju/persistence";

export interface TopicLag {
  topic: string;
  /** Events on the topic the read models have not applied yet. */
  behind: number;
  /** When the newest event applied happened (null: none yet). */
  lastEventAt: string | null;
}

/**
 * How far the read models are behind their topics: the bus's end offset of each partition less
 * the checkpoint the projection wrote with its last event there, summed per topic.
 */
export async function projectionLag(
  deps: { bus: Bus; db: SqlExecutor },
  generation: number,
  topics: readonly string[],
): Promise<TopicLag[]> {
  const rows = await deps.db.query<{
    topic: string;
    partition: number;
    next_offset: string;
    last_event_at: Date;
  }>(`SELECT topic, partition, next_offset, last_event_at FROM projection_checkpoint WHERE generation = $1`, [
    generation,
  ]);
  return Promise.all(
    topics.map(async (topic) => {
      const ends = await deps.bus.endOffsets(topic);
      const mine = rows.filter((r) => r.topic === topic);
      let behind = 0n;
      for (const [partition, end] of ends) {
        const next = BigInt(mine.find((r) => r.partition === partition)?.next_offset ?? 0);
        if (end > next) behind += end - next;
      }
      const last = mine.reduce<Date | null>(
        (a, r) => (!a || r.last_event_at > a ? r.last_event_at : a),
        null,
      );
      return { topic, behind: Number(behind), lastEventAt: last?.toISOString() ?? null };
    }),
  );
}

/** Keeps the last lag measured for `maxAgeMs`, so reports and metric scrapes do not ask the broker each time. */
export function cachedLag(measure: () => Promise<TopicLag[]>, maxAgeMs: number) {
  let last: { at: number; value: Promise<TopicLag[]> } | undefined;
  return (): Promise<TopicLag[]> => {
    const now = Date.now();
    if (!last || now - last.at > maxAgeMs) {
      const value = measure();
      last = { at: now, value };
      value.catch(() => {
        last = undefined;
      });
    }
    return last.value;
  };
}
