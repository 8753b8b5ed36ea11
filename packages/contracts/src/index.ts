export * from "./catalog.ts";
export * from "./envelope.ts";
export * from "./event.ts";
export * from "./events/common.ts";
export { SegmentIssued } from "./events/finance.ts";
export { ReceiptRequested } from "./events/issuance.ts";
export { PaymentCompleted, payerSchema, paymentItemSchema } from "./events/payment.ts";
export {
  BillKindRegistered,
  issuingPointCode,
  SegmentDistributed,
  SegmentReceived,
  SegmentStocked,
} from "./events/stock.ts";
export * from "./topics.ts";
