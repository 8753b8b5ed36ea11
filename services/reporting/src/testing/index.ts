// What the benchmark (test/bench/reporting.ts) drives directly: the projection and the reports, on a database it loads.
export { PayerProtection } from "../adapters/payer-protection.ts";
export { ensureProjectionState } from "../app/generation.ts";
export { projectionLag } from "../app/lag.ts";
export { projectEvents } from "../app/project-event.ts";
export { reports } from "../app/reports/catalog.ts";
export {
  boundedDeps,
  EXPORT_ROW_LIMIT,
  pageOf,
  type ReportDeps,
  type ReportFilters,
  reportTooLarge,
  VIEW_PAGE_LIMIT,
  VIEW_ROW_LIMIT,
} from "../app/reports/context.ts";
export { searchReceipts } from "../app/reports/search-receipts.ts";
export { applyBatch, projectionGroup, projectionTopics, startProjection } from "../consumers/projection.ts";
export { resolvePeriod } from "../domain/period.ts";
export { reportToPdf } from "../export/pdf.ts";
export { reportToXlsx } from "../export/xlsx.ts";
export * from "./workload.ts";
