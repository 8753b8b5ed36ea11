/**
 * Topics, one per bounded context that emits. The partition key is always the aggregate
 * an event is about, so the events of one receipt (or segment, or payment) stay in order.
 */
export const topics = {
  stock: "piaoju.stock.events",
  issuance: "piaoju.issuance.events",
  finance: "piaoju.finance.events",
  payment: "piaoju.payment.events",
  signing: "piaoju.signing.events",
  delivery: "piaoju.delivery.events",
} as const;

export type TopicName = (typeof topics)[keyof typeof topics];

/** Partitions per topic; equal on Kafka and on the embedded bus. */
export const defaultPartitions = 6;

/** Where a consumer group's unprocessable messages go. */
export function deadLetterTopic(group: string): string {
  return `piaoju.dlq.${group}`;
}
