import type { Operation, ReceiptForSupervision } from "../domain/messages.ts";
import type { IssuedHere } from "../domain/reconcile.ts";

export interface RequestRow {
  id: string;
  operation: Operation;
  payload: Record<string, unknown>;
  status: "PENDING" | "SENT" | "ANSWERED";
  attempts: number;
}

export interface ItemRow {
  receipt_id: string;
  agency_code: string;
  bill_code: string;
  number: string;
  kind: "blue" | "red";
  original_receipt_id: string | null;
  issuing_point_code: string;
  check_code: string;
  total_fen: string | number;
  issued_at: Date;
  document: string;
  document_sm3: string;
  agency_signature: string;
  status: IssuedHere["status"];
  finance_signature: string | null;
  rejection_code: string | null;
}

/** A queued receipt as the upload request carries it. */
export function toReceipt(i: ItemRow): ReceiptForSupervision {
  return {
    receiptId: i.receipt_id,
    agencyCode: i.agency_code,
    billCode: i.bill_code,
    number: i.number,
    kind: i.kind,
    ...(i.original_receipt_id ? { originalReceiptId: i.original_receipt_id } : {}),
    issuingPointCode: i.issuing_point_code,
    checkCode: i.check_code,
    totalFen: Number(i.total_fen),
    issuedAt: i.issued_at.toISOString(),
    document: i.document,
    documentSm3: i.document_sm3,
    agencySignature: i.agency_signature,
  };
}
