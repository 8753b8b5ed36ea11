// What the benchmark (test/bench/reporting.ts) drives directly: the projection and the reports, on a database it loads.
export { PayerProtection } from "../adapters/payer-protection.ts";
export { projectEvents } from "../app/project-event.ts";
export { reports } from "../app/reports/catalog.ts";
export type { ReportDeps, ReportFilters } from "../app/reports/context.ts";
export { searchReceipts } from "../app/reports/search-receipts.ts";
export { applyBatch, projectionGroup, projectionTopics, startProjection } from "../consumers/projection.ts";
export { resolvePeriod } from "../domain/period.ts";
export * from "./workload.ts";
