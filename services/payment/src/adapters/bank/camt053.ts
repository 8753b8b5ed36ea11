import { yuanStringToFen } from "../channel.ts";

/**
 * The agency's bank account statement as ISO 20022 camt.053 (BankToCustomerStatement), the
 * format Chinese banks' cash-management front-ends give corporate customers besides their own
 * (MT940's successor, XML, one entry per booking with its remitter and references). Only what
 * funds arrival needs is read: the account, and per entry the amount, credit/debit, status,
 * booking and value dates, the bank's reference, the remitter's account and name, the
 * end-to-end id and the remittance text. The reader is small and strict: no DTD, no entities
 * but XML's five and character references, well-formed or refused.
 */
export interface AccountEntry {
  /** The bank's reference of the entry (AcctSvcrRef, else NtryRef). */
  ref: string;
  amountFen: number;
  currency: string;
  credit: boolean;
  /** BOOK (booked) or another status (PDNG, INFO): only booked entries count. */
  status: string;
  bookingDay: string;
  valueDay: string;
  debtorAccount?: string;
  debtorName?: string;
  endToEndId?: string;
  remittance?: string;
}

export interface AccountStatement {
  account: string;
  currency: string;
  entries: AccountEntry[];
}

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const decode = (s: string) =>
  s.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_m, e: string) => {
    if (e[0] === "#")
      return String.fromCodePoint(e[1] === "x" ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[e] ?? "";
  });

const local = (name: string) => name.slice(name.indexOf(":") + 1);

/** A minimal, strict XML reader: elements, attributes, text; declarations and comments skipped. */
export function parseXml(xml: string): XmlElement {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new Error("the statement carries a DTD: refused");
  const root: XmlElement = { name: "#root", attrs: {}, children: [], text: "" };
  const stack: XmlElement[] = [root];
  const tag =
    /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of xml.matchAll(tag)) {
    const top = stack[stack.length - 1] as XmlElement;
    if (m[7]) throw new Error("the statement is not well-formed XML");
    if (m[1] !== undefined) top.text += m[1];
    else if (m[6] !== undefined) {
      if (m[6].trim() !== "" && stack.length === 1) throw new Error("text outside the document element");
      top.text += decode(m[6]);
    } else if (m[3]) {
      if (m[2] === "/") {
        if (top.name !== m[3] || stack.length === 1) throw new Error(`unexpected </${m[3]}>`);
        stack.pop();
        continue;
      }
      const attrs: Record<string, string> = {};
      for (const a of (m[4] ?? "").matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        attrs[local(a[1] as string)] = decode(a[2] ?? a[3] ?? "");
      }
      const el: XmlElement = { name: m[3], attrs, children: [], text: "" };
      top.children.push(el);
      if (m[5] !== "/") stack.push(el);
    }
  }
  if (stack.length !== 1 || root.children.length !== 1)
    throw new Error("the statement is not well-formed XML");
  return root.children[0] as XmlElement;
}

const child = (el: XmlElement | undefined, ...path: string[]): XmlElement | undefined => {
  let at = el;
  for (const p of path) at = at?.children.find((c) => local(c.name) === p);
  return at;
};
const textOf = (el: XmlElement | undefined, ...path: string[]) =>
  child(el, ...path)?.text.trim() || undefined;
const all = (el: XmlElement | undefined, name: string) =>
  el?.children.filter((c) => local(c.name) === name) ?? [];

/** An account id as camt.053 carries it: an IBAN, or another scheme's id (a Chinese account number). */
const accountId = (acct: XmlElement | undefined) =>
  textOf(acct, "Id", "IBAN") ?? textOf(acct, "Id", "Othr", "Id");

/** Reads one camt.053 document (its first statement); throws on anything not a statement. */
export function readCamt053(xml: string): AccountStatement {
  const doc = parseXml(xml);
  if (local(doc.name) !== "Document" || !/camt\.053\./.test(doc.attrs.xmlns ?? "")) {
    throw new Error("not a camt.053 document");
  }
  const stmt = child(doc, "BkToCstmrStmt", "Stmt");
  const account = accountId(child(stmt, "Acct"));
  if (!stmt || !account) throw new Error("the statement names no account");
  const entries: AccountEntry[] = [];
  for (const n of all(stmt, "Ntry")) {
    const amt = child(n, "Amt");
    const amountFen = yuanStringToFen(amt?.text ?? "");
    if (Number.isNaN(amountFen)) throw new Error(`an entry's amount is not one: ${amt?.text}`);
    const tx = child(n, "NtryDtls", "TxDtls");
    const bookingDay = textOf(n, "BookgDt", "Dt") ?? textOf(n, "BookgDt", "DtTm")?.slice(0, 10) ?? "";
    entries.push({
      ref: textOf(n, "AcctSvcrRef") ?? textOf(n, "NtryRef") ?? "",
      amountFen,
      currency: amt?.attrs.Ccy ?? "",
      credit: textOf(n, "CdtDbtInd") === "CRDT",
      status: textOf(n, "Sts", "Cd") ?? textOf(n, "Sts") ?? "",
      bookingDay,
      valueDay: textOf(n, "ValDt", "Dt") ?? bookingDay,
      ...opt("debtorAccount", accountId(child(tx, "RltdPties", "DbtrAcct"))),
      ...opt(
        "debtorName",
        textOf(tx, "RltdPties", "Dbtr", "Pty", "Nm") ?? textOf(tx, "RltdPties", "Dbtr", "Nm"),
      ),
      ...opt("endToEndId", textOf(tx, "Refs", "EndToEndId")),
      ...opt("remittance", textOf(tx, "RmtInf", "Ustrd")),
    });
  }
  return { account, currency: textOf(stmt, "Acct", "Ccy") ?? "CNY", entries };
}

const opt = <K extends string>(key: K, value: string | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;
