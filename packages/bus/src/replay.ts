import type { Bus, DeadLetter } from "./bus.ts";

/**
 * Puts dead letters back on the topic they came from. Consumers dedupe by event id
 * (inbox), so groups that had processed the event are not affected; the failing
 * group gets it again. Returns the letters replayed.
 */
export async function replayDeadLetters(
  bus: Bus,
  group: string,
  select: (letter: DeadLetter) => boolean = () => true,
): Promise<DeadLetter[]> {
  const letters = (await bus.readDeadLetters(group)).filter(select);
  // One event may have died several times (replayed, failed again): put it back once.
  const unique = [...new Map(letters.map((l) => [l.envelope.id, l])).values()];
  await bus.publish(unique.map((l) => ({ topic: l.topic, envelope: l.envelope })));
  return unique;
}
