import { randomUUID } from "node:crypto";
import type { z } from "zod";
import { type Envelope, envelopeSchema, type TypedEnvelope } from "./envelope.ts";
import { type EventDefinition, EventSchemaError, readEventData } from "./event.ts";
import { financeEvents } from "./events/finance.ts";
import { issuanceEvents } from "./events/issuance.ts";
import { paymentEvents } from "./events/payment.ts";
import { signingEvents } from "./events/signing.ts";
import { stockEvents } from "./events/stock.ts";

/** Every event Piaoju knows. Services import from here, never from each other. */
export const events = {
  ...financeEvents,
  ...stockEvents,
  ...issuanceEvents,
  ...paymentEvents,
  ...signingEvents,
} as const;

type Events = typeof events;
export type EventType = Events[keyof Events]["type"];
export type EventData<T extends EventType> = z.infer<Extract<Events[keyof Events], { type: T }>["schema"]>;
/** A decoded event: a discriminated union on `type`, so a consumer's switch can be exhaustive. */
export type CatalogEvent = {
  [K in keyof Events]: TypedEnvelope<Events[K]["type"], z.infer<Events[K]["schema"]>>;
}[keyof Events];

const byType = new Map<string, EventDefinition>(
  Object.values(events).map((def) => [def.type, def as unknown as EventDefinition]),
);

export function eventDefinition(type: string): EventDefinition | undefined {
  return byType.get(type);
}

export interface EnvelopeOptions {
  producer: string;
  id?: string;
  occurredAt?: Date;
  trace?: Envelope["trace"];
}

/** Wraps new event data (validated against the latest version) in an envelope. */
export function createEnvelope<TType extends string, S extends z.ZodType>(
  def: EventDefinition<TType, S>,
  data: z.input<S>,
  options: EnvelopeOptions,
): Envelope {
  const parsed = def.schema.safeParse(data);
  if (!parsed.success) throw new EventSchemaError(def.type, def.version, parsed.error.issues);
  return {
    id: options.id ?? randomUUID(),
    type: def.type,
    version: def.version,
    occurredAt: (options.occurredAt ?? new Date()).toISOString(),
    key: def.partitionKey(parsed.data),
    producer: options.producer,
    ...(options.trace ? { trace: options.trace } : {}),
    data: parsed.data,
  };
}

export class UnknownEventError extends Error {
  constructor(readonly eventType: string) {
    super(`unknown event type ${eventType}`);
    this.name = "UnknownEventError";
  }
}

/**
 * Validates an envelope read from the bus and its data, upcasting older versions.
 * Throws UnknownEventError for a type this build does not know, EventSchemaError for bad data.
 */
export function decodeEvent(raw: unknown): CatalogEvent {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) throw new EventSchemaError("(envelope)", 0, envelope.error.issues);
  const def = byType.get(envelope.data.type);
  if (!def) throw new UnknownEventError(envelope.data.type);
  const data = readEventData(def, envelope.data.version, envelope.data.data);
  return { ...envelope.data, version: def.version, data } as CatalogEvent;
}
