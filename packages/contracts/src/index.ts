export * as paymentApi from "./api/payments.ts";
export * as receiptApi from "./api/receipts.ts";
export * from "./catalog.ts";
export * from "./envelope.ts";
export * from "./event.ts";
export * from "./events/common.ts";
export {
  AgencyProfileSynced,
  FinanceCertificatePublished,
  RECONCILIATION_DIFFERENCES_IN_EVENT,
  ReceiptSupervised,
  ReceiptSupervisionRejected,
  ReconciliationCompleted,
  reconciliationDifferenceKind,
  SegmentIssued,
} from "./events/finance.ts";
export {
  IssuingPointRegistered,
  ReceiptBooked,
  ReceiptIssued,
  ReceiptPaperExchanged,
  ReceiptRedFlushed,
  ReceiptRequested,
  ReceiptSubmittedForSupervision,
  ReceiptVoided,
  receiptLineSchema,
} from "./events/issuance.ts";
export {
  ChannelDifferenceFound,
  ChannelReconciled,
  ClearingInstructed,
  ClearingSettled,
  FundsArrivalReconciled,
  NoticeCreated,
  PaymentAnomalyRecorded,
  PaymentClosed,
  PaymentCompleted,
  PaymentOrderOpened,
  payerSchema,
  paymentCode,
  paymentItemSchema,
  ReceiptDifferenceFound,
  ReceiptsReconciled,
  RefundCompleted,
  RefundRejected,
  RefundRequested,
  receiptDifferenceKind,
  settlementSchema,
} from "./events/payment.ts";
export { AgencyCaPublished, ReceiptSigned, ReceiptSigningRefused } from "./events/signing.ts";
export {
  BillKindRegistered,
  issuingPointCode,
  NumbersReturned,
  NumbersVoided,
  SegmentDistributed,
  SegmentReceived,
  SegmentStocked,
  WriteOffRequested,
} from "./events/stock.ts";
export * from "./fields/index.ts";
export * from "./receipt-document.ts";
export * from "./topics.ts";
export * from "./trust.ts";
