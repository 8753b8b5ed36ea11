import {
  type PayerType,
  RECEIPT_DOCUMENT_VERSION,
  STORABLE_TEXT_RULE,
  unstorableCharacter,
} from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime/errors";
import { fenToYuan, normalizeQuantity } from "./money.ts";

export interface DocumentItem {
  code: string;
  name: string;
  unit: string;
  quantity: string;
  standardFen: bigint | null;
  amountFen: bigint;
}

/** Everything the receipt document says, already decided (number, check code, time). */
export interface ReceiptDocumentInput {
  billName: string;
  billCode: string;
  number: string;
  checkCode: string;
  totalFen: bigint;
  issuedAt: Date;
  agencyCode: string;
  payer: {
    type: PayerType;
    code: string;
    name: string;
    account?: string | undefined;
    bank?: string | undefined;
  };
  payMode?: string | undefined;
  bizSerialNo: string;
  remark?: string | undefined;
  handlingPerson: string;
  checker?: string | undefined;
  items: readonly DocumentItem[];
  /** A red receipt's original (冲红): its bill code and number. */
  related?: { billCode: string; number: string } | undefined;
}

/** 1.2.0: the signatures cover Header + EInvoiceData (1.1.0 documents were signed whole). */
export const DOCUMENT_VERSION = RECEIPT_DOCUMENT_VERSION;

/**
 * The receipt document (domain.md): `<EInvoice><Header/><EInvoiceData/></EInvoice>`, unsigned.
 *
 * Deterministic: the same receipt gives the same bytes (fixed element order, no whitespace
 * between elements, absent optional fields omitted, money with 2 decimals, quantities in their
 * canonical form). The agency signature covers the bytes from `<Header>` to `</EInvoiceData>`
 * inclusive (`signedContentOf` in @piaoju/contracts); the served document carries both signatures in
 * `<EInvoiceSignature>` before `</EInvoice>` (`withSignatures`), the stored one none.
 */
export function buildReceiptDocument(r: ReceiptDocumentInput): Buffer {
  const { date, time } = shanghaiDateTime(r.issuedAt);
  const header = el(
    "Header",
    text("EInvoiceID", `${reverse(r.number)}-${reverse(r.billCode)}`) +
      text("EInvoiceTag", `CZ-EI-${r.billCode.slice(0, 2)}`) +
      text("Version", DOCUMENT_VERSION),
  );
  const main =
    text("EInvoiceName", r.billName) +
    text("EInvoiceCode", r.billCode) +
    text("EInvoiceNumber", r.number) +
    text("RandomNumber", r.checkCode) +
    text("TotalAmount", fenToYuan(r.totalFen)) +
    text("IssueDate", date) +
    text("IssueTime", time) +
    el("InvoicingParty", text("InvoicingPartyCode", r.agencyCode)) +
    el(
      "PayerParty",
      text("PayerPartyType", String(r.payer.type)) +
        text("PayerPartyCode", r.payer.code) +
        text("PayerPartyName", r.payer.name) +
        opt("PayerAcct", r.payer.account) +
        opt("PayerOpBk", r.payer.bank),
    ) +
    opt("PayMode", r.payMode) +
    text("BizCode", r.bizSerialNo) +
    text("CurrencyType", "CNY") +
    text("ExchangeRate", "1") +
    opt("Remark", r.remark) +
    text("HandlingPerson", r.handlingPerson) +
    opt("Checker", r.checker) +
    (r.related
      ? text("RelatedInvoiceCode", r.related.billCode) + text("RelatedInvoiceNumber", r.related.number)
      : "");
  const details = el(
    "Details",
    r.items
      .map((item) =>
        el(
          "Item",
          text("ItemCode", item.code) +
            text("ItemName", item.name) +
            text("ItemUnit", item.unit) +
            text("ItemQuantity", normalizeQuantity(item.quantity)) +
            opt("ItemStd", item.standardFen === null ? undefined : fenToYuan(item.standardFen)) +
            text("ItemAmount", fenToYuan(item.amountFen)),
        ),
      )
      .join(""),
  );
  const xml = `<?xml version="1.0" encoding="UTF-8"?><EInvoice>${header}${el("EInvoiceData", el("Main", main) + details)}</EInvoice>`;
  return Buffer.from(xml, "utf8");
}

/** yyyyMMdd and HH:mm:ss in Asia/Shanghai (UTC+8 all year: China has had no daylight saving since 1991). */
export function shanghaiDateTime(at: Date): { date: string; time: string } {
  const iso = new Date(at.getTime() + 8 * 3_600_000).toISOString();
  return { date: iso.slice(0, 10).replaceAll("-", ""), time: iso.slice(11, 19) };
}

function el(name: string, content: string): string {
  return `<${name}>${content}</${name}>`;
}

function text(name: string, value: string): string {
  const bad = unstorableCharacter(value);
  if (bad) {
    // The API's text rule refuses these first; the builder refuses too, so no path can ever
    // produce a document that is not well-formed XML.
    throw new AppError("validation", `${name} contains ${bad.codePoint}, which XML 1.0 cannot hold`, {
      code: "UNSTORABLE_TEXT",
      issues: [{ field: `document.${name}`, rule: STORABLE_TEXT_RULE, message: `contains ${bad.codePoint}` }],
    });
  }
  return el(name, escapeXml(value));
}

function opt(name: string, value: string | undefined): string {
  return value === undefined || value === "" ? "" : text(name, value);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  // A parser turns a literal CR (and CR LF) into LF; as a reference it reads back as it was.
  "\r": "&#13;",
};

/** Escapes markup and CR; the text must already hold only XML 1.0 characters (`text` checks). */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r]/g, (c) => ESCAPES[c]!);
}

function reverse(text: string): string {
  return [...text].reverse().join("");
}
