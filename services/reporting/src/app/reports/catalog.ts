import type { Granularity } from "../../domain/period.ts";
import type { ReportTable } from "../../domain/report-table.ts";
import type { ReportDeps, ReportFilters } from "./context.ts";
import { distributionReport } from "./distribution.ts";
import { inboundReport } from "./inbound.ts";
import { issuedSummaryReport, type SummaryGroup } from "./issued-summary.ts";
import { ledgerReport } from "./ledger.ts";
import { channelDifferencesReport, clearingReport, collectionsReport, refundsReport } from "./payments.ts";
import { reconciliationReport } from "./reconciliation.ts";
import { redFlushReport } from "./red-flush.ts";
import { issuedDetailReport, type ReceiptQuery } from "./search-receipts.ts";
import { stockBalanceReport } from "./stock-balance.ts";
import { voidsReport } from "./voids.ts";

/** What a report may take beyond the common filters. */
export interface ReportOptions {
  granularity: Granularity;
  groupBy: SummaryGroup;
  search: Omit<ReceiptQuery, "limit" | "cursor" | "from" | "to" | "agencyCode">;
  /** A view's page (reports that can read only their page do; the route pages the others). */
  page?: { number: number; size: number } | undefined;
}

type Run = (deps: ReportDeps, f: ReportFilters, o: ReportOptions, caller: string) => Promise<ReportTable>;

/**
 * The reports, by the name in their route. The tender's eight (§3(6)), the reconciliation
 * differences (§3(5)); payment's collection reports (缴款/收缴) join here when the payment
 * service publishes its events (see the README).
 */
export const reports: Record<string, { title: string; run: Run }> = {
  "stock-balance": { title: "库存结余表", run: (d, f, _o, c) => stockBalanceReport(d, f, c) },
  inbound: { title: "票据入库情况", run: (d, f, _o, c) => inboundReport(d, f, c) },
  distribution: { title: "票据分发情况", run: (d, f, _o, c) => distributionReport(d, f, c) },
  voids: { title: "票据作废情况", run: (d, f, o, c) => voidsReport(d, f, c, o.page) },
  ledger: { title: "票据领用存情况", run: (d, f, _o, c) => ledgerReport(d, f, c) },
  "issued-detail": {
    title: "开票明细查询",
    run: (d, f, o, c) => issuedDetailReport(d, f, o.search, c, o.page),
  },
  "issued-summary": {
    title: "开票汇总查询",
    run: (d, f, o, c) => issuedSummaryReport(d, f, { granularity: o.granularity, group: o.groupBy }, c),
  },
  "red-flush": { title: "冲红明细查询", run: (d, f, _o, c) => redFlushReport(d, f, c) },
  reconciliation: { title: "对账差异报表", run: (d, f, _o, c) => reconciliationReport(d, f, c) },
  // 缴款 (the payment service's events)
  collections: { title: "缴款收缴情况", run: (d, f, _o, c) => collectionsReport(d, f, c) },
  refunds: { title: "退付明细", run: (d, f, _o, c) => refundsReport(d, f, c, undefined) },
  "duplicate-refunds": {
    title: "重复缴款退付明细",
    run: (d, f, _o, c) => refundsReport(d, f, c, "DUPLICATE"),
  },
  "payment-differences": { title: "渠道对账差异", run: (d, f, _o, c) => channelDifferencesReport(d, f, c) },
  clearing: { title: "资金清分划转", run: (d, f, _o, c) => clearingReport(d, f, c) },
};

export type ReportName = keyof typeof reports;
export const reportNames = Object.keys(reports) as [string, ...string[]];
