import { metrics } from "@opentelemetry/api";

const meter = metrics.getMeter("@piaoju/finance-exchange");

/** Requests to finance by operation and outcome: sent (ferry), answered, failed (an outage: retried). */
export const requestCounter = meter.createCounter("finance_exchange_requests_total", {
  description: "requests to finance by operation and outcome (answered, sent, failed)",
});
/** Receipts finance decided, by outcome (supervised, rejected). */
export const decisionCounter = meter.createCounter("finance_exchange_receipts_decided_total", {
  description: "receipts finance supervised or rejected (each counted once)",
});
/** Ferry files refused (bad signature, wrong recipient, unreadable). */
export const ferryRejectionCounter = meter.createCounter("finance_exchange_ferry_files_refused_total", {
  description: "ferry files refused and reported",
});

let queued = 0;
let openRequests = 0;
/** The queue as last seen by the batcher: what an outage piles up. */
export function observeQueue(counts: { queued: number; openRequests: number }): void {
  queued = counts.queued;
  openRequests = counts.openRequests;
}
meter
  .createObservableGauge("finance_exchange_receipts_queued", {
    description: "receipts waiting for an upload batch (grows while finance is down)",
  })
  .addCallback((r) => r.observe(queued));
meter
  .createObservableGauge("finance_exchange_requests_open", {
    description: "requests to finance not answered yet",
  })
  .addCallback((r) => r.observe(openRequests));
