import { z } from "zod";
import { defineEvent } from "../event.ts";
import { topics } from "../topics.ts";
import { agencyCode, billCode, billNumber, isoTime } from "./common.ts";

/**
 * Finance approved a stock application (申领) and issued a segment of numbers to the agency.
 * Emitted by the finance-exchange daemon; stock takes it in as a segment awaiting 入库.
 */
export const SegmentIssued = defineEvent({
  type: "finance.SegmentIssued",
  topic: topics.finance,
  version: 1,
  schema: z
    .object({
      financeRef: z.string().min(1).max(64),
      applicationId: z.string().min(1).max(64).optional(),
      agencyCode,
      billCode,
      startNumber: billNumber,
      endNumber: billNumber,
      issuedAt: isoTime,
    })
    .refine((s) => s.startNumber <= s.endNumber, {
      message: "startNumber must not exceed endNumber",
      path: ["endNumber"],
    }),
  partitionKey: (d) => `${d.agencyCode}:${d.billCode}`,
});

export const financeEvents = { SegmentIssued } as const;
