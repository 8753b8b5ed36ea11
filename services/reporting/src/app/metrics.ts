import { metrics } from "@opentelemetry/api";
import type { TopicLag } from "./lag.ts";

const meter = metrics.getMeter("@piaoju/reporting");

/**
 * How far the read models are behind each topic, in events and in time (the age of the newest
 * event applied, while events wait): what an operator alerts on.
 */
export function observeLag(lag: () => Promise<TopicLag[]>, clock: () => Date): void {
  const events = meter.createObservableGauge("reporting_projection_lag_events", {
    description: "events on the topic the read models have not applied yet",
  });
  const seconds = meter.createObservableGauge("reporting_projection_lag_seconds", {
    description: "while events wait: seconds since the newest event the read models applied happened",
  });
  meter.addBatchObservableCallback(
    async (result) => {
      for (const t of await lag().catch(() => [])) {
        result.observe(events, t.behind, { topic: t.topic });
        const age =
          t.behind > 0 && t.lastEventAt ? (clock().getTime() - Date.parse(t.lastEventAt)) / 1000 : 0;
        result.observe(seconds, age, { topic: t.topic });
      }
    },
    [events, seconds],
  );
}
