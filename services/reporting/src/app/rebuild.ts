import type { Database } from "@piaoju/persistence";
import { nextGeneration } from "./generation.ts";

/**
 * Rebuilds the read models from the topics: empties them and starts the next generation's
 * consumer group, which reads every topic from the start (as far back as the topics retain).
 * The reports say they are catching up (lag) until the new group has read to the end.
 */
export async function rebuildReadModels(
  deps: {
    db: Database;
    clock: () => Date;
    groupOf: (generation: number) => string;
    switchTo: (generation: number) => Promise<void>;
  },
  actor: string,
): Promise<{ generation: number }> {
  const generation = await nextGeneration(deps.db, { actor, at: deps.clock() }, deps.groupOf);
  await deps.switchTo(generation);
  return { generation };
}
