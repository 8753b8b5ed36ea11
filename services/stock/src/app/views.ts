import type { RemovalKind } from "../domain/removals.ts";
import { formatNumber, type NumberRange, rangeSize } from "../domain/segments.ts";

/** What the stock use cases take and answer, and how rows become those answers. */

export interface ReceiveSegment extends NumberRange {
  agencyCode: string;
  billCode: string;
  source: "FINANCE" | "MANUAL";
  financeRef?: string;
}

export interface SegmentView {
  id: string;
  agencyCode: string;
  billCode: string;
  startNumber: string;
  endNumber: string;
  count: number;
  status: "RECEIVED" | "STOCKED";
  source: "FINANCE" | "MANUAL";
  financeRef: string | null;
  receivedAt: string;
  stockedAt: string | null;
  stockedBy: string | null;
}

export interface RemovalInput extends NumberRange {
  agencyCode: string;
  billCode: string;
}

export interface RemovalView {
  id: string;
  segmentId: string;
  agencyCode: string;
  billCode: string;
  kind: RemovalKind;
  startNumber: string;
  endNumber: string;
  count: number;
  reason: string | null;
  removedBy: string;
  removedAt: string;
}

export interface WriteOffView {
  id: string;
  agencyCode: string;
  billCode: string;
  period: string;
  status: string;
  record: unknown;
  submittedBy: string;
  submittedAt: string;
}

export interface RuleInput {
  agencyCode: string;
  billCode: string;
  issuingPointCode: string;
  threshold: number;
  batchSize: number;
  enabled: boolean;
}

export interface DistributionView {
  id: string;
  segmentId: string;
  agencyCode: string;
  billCode: string;
  issuingPointCode: string;
  startNumber: string;
  endNumber: string;
  count: number;
  distributedAt: string;
  distributedBy: string;
}

/** Serialises intake and distribution per bill kind, so no two can take the same numbers. */

/**
 * Stocked numbers not yet handed to any point, oldest segment first, without those returned
 * (申退) or voided (库存作废): a segment with removals yields one piece per gap between them.
 */

export function removalView(r: {
  id: string;
  segmentId: string;
  agencyCode: string;
  billCode: string;
  kind: RemovalKind;
  startNumber: bigint;
  endNumber: bigint;
  reason: string | null;
  removedBy: string;
  removedAt: Date;
}): RemovalView {
  return {
    ...r,
    startNumber: formatNumber(r.startNumber),
    endNumber: formatNumber(r.endNumber),
    count: rangeSize(r),
    removedAt: r.removedAt.toISOString(),
  };
}

export function writeOffView(w: {
  id: string;
  agencyCode: string;
  billCode: string;
  period: string;
  status: string;
  record: unknown;
  submittedBy: string;
  submittedAt: Date;
}): WriteOffView {
  return { ...w, submittedAt: w.submittedAt.toISOString() };
}

/** An issuing point's numbers handed over and not yet used or voided. */

export function distributionView(d: {
  id: string;
  segmentId: string;
  agencyCode: string;
  billCode: string;
  issuingPointCode: string;
  startNumber: bigint;
  endNumber: bigint;
  distributedAt: Date;
  distributedBy: string;
}): DistributionView {
  return {
    ...d,
    startNumber: formatNumber(d.startNumber),
    endNumber: formatNumber(d.endNumber),
    count: rangeSize(d),
    distributedAt: d.distributedAt.toISOString(),
  };
}

export function segmentView(s: {
  id: string;
  agencyCode: string;
  billCode: string;
  startNumber: bigint;
  endNumber: bigint;
  status: "RECEIVED" | "STOCKED";
  source: "FINANCE" | "MANUAL";
  financeRef: string | null;
  receivedAt: Date;
  stockedAt: Date | null;
  stockedBy: string | null;
}): SegmentView {
  return {
    id: s.id,
    agencyCode: s.agencyCode,
    billCode: s.billCode,
    startNumber: formatNumber(s.startNumber),
    endNumber: formatNumber(s.endNumber),
    count: rangeSize(s),
    status: s.status,
    source: s.source,
    financeRef: s.financeRef,
    receivedAt: s.receivedAt.toISOString(),
    stockedAt: s.stockedAt?.toISOString() ?? null,
    stockedBy: s.stockedBy,
  };
}
