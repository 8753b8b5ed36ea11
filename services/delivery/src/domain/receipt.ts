/** A receipt as delivery renders, sends and shows it (the payer already unsealed). */
export interface ReceiptView {
  receiptId: string;
  agencyCode: string;
  agencyName?: string | undefined;
  /** EInvoiceName, e.g. 北京市非税收入统一票据（电子）. */
  billName: string;
  billCode: string;
  number: string;
  checkCode: string;
  kind: "blue" | "red";
  status: "ISSUED" | "RED_FLUSHED";
  issuedAt: Date;
  supervisedAt: Date;
  /** Integer fen; negative on a red receipt. */
  totalFen: bigint;
  bizSerialNo: string;
  payMode?: string | undefined;
  payer: PayerDetails;
  items: ReceiptLine[];
  remark?: string | undefined;
  handlingPerson: string;
  checker?: string | undefined;
  /** A red receipt's original. */
  related?: { billCode: string; number: string } | undefined;
  /** When this (blue) receipt was red-flushed: its red receipt. */
  redFlush?: { billCode: string; number: string; reason: string; at: Date } | undefined;
  documentSm3: string;
}

export interface PayerDetails {
  type: 1 | 2;
  code: string;
  name: string;
  account?: string | undefined;
  bank?: string | undefined;
  phone?: string | undefined;
  email?: string | undefined;
}

export interface ReceiptLine {
  itemCode: string;
  itemName: string;
  unit?: string | undefined;
  quantity: string;
  standardFen?: number | undefined;
  amountFen: number;
}

/** The default bill name when the document carries none. */
export const DEFAULT_BILL_NAME = "非税收入统一票据（电子）";
