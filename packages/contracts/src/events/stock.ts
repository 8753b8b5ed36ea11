import { z } from "zod";
import { defineEvent } from "../event.ts";
import { topics } from "../topics.ts";
import { agencyCode, billCode, billNumber, isoTime } from "./common.ts";

const segment = {
  segmentId: z.uuid(),
  agencyCode,
  billCode,
  startNumber: billNumber,
  endNumber: billNumber,
  count: z.number().int().positive(),
};

/** A bill kind (票据种类) became usable by the agency. */
export const BillKindRegistered = defineEvent({
  type: "stock.BillKindRegistered",
  topic: topics.stock,
  version: 1,
  schema: z.object({ agencyCode, billCode, name: z.string().min(1).max(100) }),
  partitionKey: (d) => `${d.agencyCode}:${d.billCode}`,
});

/** A segment of numbers arrived (from finance, or entered by a ticket manager) and awaits 入库. */
export const SegmentReceived = defineEvent({
  type: "stock.SegmentReceived",
  topic: topics.stock,
  version: 1,
  schema: z.object({ ...segment, source: z.enum(["finance", "manual"]), financeRef: z.string().optional() }),
  partitionKey: (d) => `${d.agencyCode}:${d.billCode}`,
});

/** A ticket manager confirmed a received segment into stock (入库): its numbers can now be distributed. */
export const SegmentStocked = defineEvent({
  type: "stock.SegmentStocked",
  topic: topics.stock,
  version: 1,
  schema: z.object({ ...segment, confirmedBy: z.string().min(1), confirmedAt: isoTime }),
  partitionKey: (d) => `${d.agencyCode}:${d.billCode}`,
});

/** An issuing point (开票点) code, unique within its agency. */
export const issuingPointCode = z
  .string()
  .regex(/^[0-9A-Za-z_-]{1,32}$/, "an issuing point code is 1-32 letters, digits, _ or -");

/**
 * 分发: stock handed a run of numbers from a stocked segment to an issuing point. Issuance
 * takes numbers from these runs, in order, each once. The partition key is the bill kind's,
 * so a distribution is never seen before the segment it comes from.
 */
export const SegmentDistributed = defineEvent({
  type: "stock.SegmentDistributed",
  topic: topics.stock,
  version: 1,
  schema: z
    .object({
      distributionId: z.uuid(),
      segmentId: z.uuid(),
      agencyCode,
      billCode,
      issuingPointCode,
      startNumber: billNumber,
      endNumber: billNumber,
      count: z.number().int().positive(),
      distributedAt: isoTime,
      /** Who handed it out: a ticket manager, or "rule" for an automatic top-up. Absent in events before it was added. */
      distributedBy: z.string().min(1).max(64).optional(),
    })
    .refine((d) => d.startNumber <= d.endNumber, {
      message: "startNumber must not exceed endNumber",
      path: ["endNumber"],
    }),
  partitionKey: (d) => `${d.agencyCode}:${d.billCode}`,
});

const removal = {
  removalId: z.uuid(),
  segmentId: z.uuid(),
  agencyCode,
  billCode,
  startNumber: billNumber,
  endNumber: billNumber,
  count: z.number().int().positive(),
};

/** 申退: a ticket manager returned undistributed numbers of a stocked segment; finance-exchange forwards it to finance. */
export const NumbersReturned = defineEvent({
  type: "stock.NumbersReturned",
  topic: topics.stock,
  version: 1,
  schema: z.object({ ...removal, returnedBy: z.string().min(1), returnedAt: isoTime }),
  partitionKey: (d) => `${d.agencyCode}:${d.billCode}`,
});

/** 库存作废: a ticket manager voided undistributed (never used) numbers of a stocked segment, with a reason. */
export const NumbersVoided = defineEvent({
  type: "stock.NumbersVoided",
  topic: topics.stock,
  version: 1,
  schema: z.object({
    ...removal,
    reason: z.string().min(1).max(200),
    voidedBy: z.string().min(1),
    voidedAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.billCode}`,
});

const ledgerTotals = z.object({
  opening: z.number().int(),
  received: z.number().int(),
  used: z.number().int(),
  voided: z.number().int(),
  returned: z.number().int(),
  closing: z.number().int(),
});

/**
 * 核销申请: the agency applies to write off a bill kind's month, with its 领用存 built from the
 * stock ledger: the agency's, each issuing point's, and what is still in stock undistributed.
 */
export const WriteOffRequested = defineEvent({
  type: "stock.WriteOffRequested",
  topic: topics.stock,
  version: 1,
  schema: z.object({
    writeOffId: z.uuid(),
    agencyCode,
    billCode,
    period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "a period is YYYY-MM"),
    agency: ledgerTotals,
    points: z.array(ledgerTotals.extend({ issuingPointCode })),
    inStock: z.number().int(),
    submittedBy: z.string().min(1),
    submittedAt: isoTime,
  }),
  partitionKey: (d) => `${d.agencyCode}:${d.billCode}`,
});

export const stockEvents = {
  BillKindRegistered,
  SegmentReceived,
  SegmentStocked,
  SegmentDistributed,
  NumbersReturned,
  NumbersVoided,
  WriteOffRequested,
} as const;
