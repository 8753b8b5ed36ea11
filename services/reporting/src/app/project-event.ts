import type { CatalogEvent } from "@piaoju/contracts";
import type { SqlExecutor } from "@piaoju/persistence";
import type { PayerProtection } from "../adapters/payer-protection.ts";
import { ProjectionBatch } from "./projection/batch.ts";
import { agencyProfileSynced, reconciliationCompleted } from "./projection/finance.ts";
import {
  channelDifferenceFound,
  channelReconciled,
  clearingInstructed,
  clearingSettled,
  paymentCompleted,
  refundCompleted,
} from "./projection/payment.ts";
import {
  issuingPointRegistered,
  paperExchanged,
  receiptBooked,
  receiptIssued,
  receiptRedFlushed,
  receiptRequested,
  receiptSubmitted,
  receiptVoided,
} from "./projection/receipts.ts";
import {
  billKindRegistered,
  numbersRemoved,
  segmentDistributed,
  segmentReceived,
  segmentStocked,
  writeOffRequested,
} from "./projection/stock.ts";

/** The event types the read models are built from; the others on the same topics are passed by. */
export const projectedTypes: ReadonlySet<string> = new Set<CatalogEvent["type"]>([
  "stock.BillKindRegistered",
  "stock.SegmentReceived",
  "stock.SegmentStocked",
  "stock.SegmentDistributed",
  "stock.NumbersReturned",
  "stock.NumbersVoided",
  "stock.WriteOffRequested",
  "issuance.ReceiptRequested",
  "issuance.ReceiptSubmittedForSupervision",
  "issuance.ReceiptIssued",
  "issuance.ReceiptRedFlushed",
  "issuance.ReceiptPaperExchanged",
  "issuance.ReceiptVoided",
  "issuance.ReceiptBooked",
  "issuance.IssuingPointRegistered",
  "finance.AgencyProfileSynced",
  "finance.ReconciliationCompleted",
  "payment.PaymentCompleted",
  "payment.RefundCompleted",
  "payment.ChannelReconciled",
  "payment.ChannelDifferenceFound",
  "payment.ClearingInstructed",
  "payment.ClearingSettled",
]);

/** Events applied to receipts made in the same batch in memory: others need them written first. */
const inMemory: ReadonlySet<string> = new Set([
  "issuance.ReceiptRequested",
  "issuance.ReceiptSubmittedForSupervision",
  "issuance.ReceiptIssued",
  "issuance.ReceiptVoided",
]);

/**
 * Applies events to the read models inside the caller's transaction (with their inbox claims),
 * as one batch: tallies folded, receipts first seen written once at the end. Every case is
 * written to be applied once per event; the inbox sees to that.
 */
export async function projectEvents(
  sql: SqlExecutor,
  protection: PayerProtection,
  events: readonly CatalogEvent[],
): Promise<void> {
  const batch = new ProjectionBatch();
  for (const event of events) await projectEvent(sql, batch, protection, event);
  await batch.flush(sql);
}

/** One event into a batch (see projectEvents); the batch's flush writes what it folded. */
export async function projectEvent(
  sql: SqlExecutor,
  batch: ProjectionBatch,
  protection: PayerProtection,
  event: CatalogEvent,
): Promise<void> {
  batch.events++;
  if (!inMemory.has(event.type)) await batch.writeReceipts(sql);
  switch (event.type) {
    case "stock.BillKindRegistered":
      return billKindRegistered(sql, event.data);
    case "stock.SegmentReceived":
      return segmentReceived(sql, event.data);
    case "stock.SegmentStocked":
      return segmentStocked(sql, batch, event.data);
    case "stock.SegmentDistributed":
      return segmentDistributed(sql, batch, event.data);
    case "stock.NumbersReturned":
    case "stock.NumbersVoided":
      return numbersRemoved(sql, batch, event.data);
    case "stock.WriteOffRequested":
      return writeOffRequested(sql, event.data);
    case "issuance.ReceiptRequested":
      return receiptRequested(batch, protection, event.data);
    case "issuance.ReceiptSubmittedForSupervision":
      return receiptSubmitted(sql, batch, event.data);
    case "issuance.ReceiptIssued":
      return receiptIssued(sql, batch, protection, event.data);
    case "issuance.ReceiptRedFlushed":
      return receiptRedFlushed(sql, event.data);
    case "issuance.ReceiptPaperExchanged":
      return paperExchanged(sql, event.data);
    case "issuance.ReceiptVoided":
      return receiptVoided(sql, batch, event.data);
    case "issuance.ReceiptBooked":
      return receiptBooked(sql, event.data);
    case "issuance.IssuingPointRegistered":
      return issuingPointRegistered(sql, event.data);
    case "finance.AgencyProfileSynced":
      return agencyProfileSynced(sql, event.data);
    case "finance.ReconciliationCompleted":
      return reconciliationCompleted(sql, event.data);
    case "payment.PaymentCompleted":
      return paymentCompleted(sql, event.data);
    case "payment.RefundCompleted":
      return refundCompleted(sql, event.data);
    case "payment.ChannelReconciled":
      return channelReconciled(sql, event.data);
    case "payment.ChannelDifferenceFound":
      return channelDifferenceFound(sql, event.data);
    case "payment.ClearingInstructed":
      return clearingInstructed(sql, event.data);
    case "payment.ClearingSettled":
      return clearingSettled(sql, event.data);
    // Not what reports are made of: the signing and supervision steps show in issuance's events.
    case "finance.SegmentIssued":
    case "finance.ReceiptSupervised":
    case "finance.ReceiptSupervisionRejected":
    case "payment.NoticeCreated":
    case "payment.PaymentOrderOpened":
    case "payment.PaymentClosed":
    case "payment.PaymentAnomalyRecorded":
    // A refund's application and refusal move no money: the reports count refunds paid back.
    case "payment.RefundRequested":
    case "payment.RefundRejected":
    // Not in a report yet: funds arrival and the three-way match (their reports are next).
    case "payment.FundsArrivalReconciled":
    case "payment.ReceiptsReconciled":
    case "payment.ReceiptDifferenceFound":
    case "signing.ReceiptSigned":
    case "signing.ReceiptSigningRefused":
    // The certificates the platform trusts: for verifiers (delivery, the gateway's trust list), not reports.
    case "signing.AgencyCaPublished":
    case "finance.FinanceCertificatePublished":
      return;
    default: {
      const unhandled: never = event;
      throw new Error(`no projection for ${(unhandled as CatalogEvent).type}`);
    }
  }
}
