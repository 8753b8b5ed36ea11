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
  status: "ISSUED" | "RED_FLUSHED" | "PAPER_EXCHANGED";
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
  /** While exchanged for paper (换开): the paper receipt's code and number. */
  paper?: { billCode: string; number: string } | undefined;
  documentSm3: string;
}

/** What the payer reads about a receipt's state (票据状态). */
export function statusText(r: Pick<ReceiptView, "status" | "kind" | "redFlush" | "paper">): string {
  if (r.status === "RED_FLUSHED") {
    return r.redFlush ? `已冲红（红字票据 ${r.redFlush.billCode}-${r.redFlush.number}）` : "已冲红";
  }
  if (r.status === "PAPER_EXCHANGED") {
    return `已换开纸质票据${r.paper ? `（${r.paper.billCode}-${r.paper.number}）` : ""}，电子票据不再用于报销`;
  }
  return r.kind === "red" ? "红字票据，已开具" : "已开具，正常";
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
