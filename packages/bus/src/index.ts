export * from "./bus.ts";
export { EmbeddedBus, type EmbeddedBusOptions } from "./embedded-bus.ts";
export { claimEvent, consumeEvents, type InboxOutcome, subscribeOnce } from "./inbox.ts";
export { KafkaBus, type KafkaBusOptions } from "./kafka-bus.ts";
export {
  enqueueEvents,
  OutboxRelay,
  type OutboxRelayOptions,
  platformMigrationsDir,
  recordEvents,
  type TransactionalDatabase,
  transactionsWithEvents,
} from "./outbox.ts";
export { partitionFor } from "./partitioner.ts";
export { replayDeadLetters } from "./replay.ts";
export { defaultRetryPolicy, isTransientByDefault, isUnavailable, TransientError } from "./retry.ts";
export {
  EventSealer,
  installEventSealing,
  openEvent,
  SEALED_PREFIX,
  SealedEventError,
  sealEvent,
} from "./sealed-events.ts";
export { currentTrace, withConsumerSpan } from "./tracing.ts";
