import { z } from "zod";

/**
 * The envelope every event travels in, on Kafka and on the embedded bus alike.
 * `data` is validated against the event's own versioned schema (see catalog.ts),
 * not here, so that a consumer can read an envelope whose event it does not know.
 */
export const envelopeSchema = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  version: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  /** Partition key: the aggregate the event is about (a receipt, a segment, a payment). */
  key: z.string().min(1),
  producer: z.string().min(1),
  /** W3C trace context, so a trace crosses the bus. */
  trace: z.object({ traceparent: z.string(), tracestate: z.string().optional() }).optional(),
  data: z.unknown(),
});

export type Envelope = z.infer<typeof envelopeSchema>;

/** An envelope whose data has been validated and upcast to the latest version of its event. */
export type TypedEnvelope<TType extends string, TData> = Omit<Envelope, "type" | "data"> & {
  type: TType;
  data: TData;
};
