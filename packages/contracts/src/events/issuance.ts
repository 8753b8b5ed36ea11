import { z } from "zod";
import { defineEvent } from "../event.ts";
import { topics } from "../topics.ts";
import { agencyCode, billCode, billNumber, isoTime } from "./common.ts";
import { issuingPointCode } from "./stock.ts";

/**
 * Issuance took a number for a receipt and built its document; the receipt now awaits the
 * agency's signature (单位签名) and then finance's supervision (财政监制).
 *
 * `document` is the receipt's XML (Header + EInvoiceData), base64, exactly the bytes the
 * agency signature covers; `documentSm3` is their SM3 in hex, so the signer can check what it
 * signs. The document travels in the event (a few KB) so the signer needs no call back.
 * Keyed by the receipt, so one receipt's events stay in order.
 */
export const ReceiptRequested = defineEvent({
  type: "issuance.ReceiptRequested",
  topic: topics.issuance,
  version: 1,
  schema: z.object({
    receiptId: z.uuid(),
    agencyCode,
    issuingPointCode,
    bizSerialNo: z.string().min(1).max(64),
    billCode,
    number: billNumber,
    checkCode: z.string().regex(/^\d{6}$/),
    /** Integer fen. */
    totalFen: z.number().int().nonnegative(),
    payerType: z.union([z.literal(1), z.literal(2)]),
    issuedAt: isoTime,
    documentSm3: z.string().regex(/^[0-9a-f]{64}$/),
    document: z.base64(),
  }),
  partitionKey: (d) => d.receiptId,
});

export const issuanceEvents = { ReceiptRequested } as const;
