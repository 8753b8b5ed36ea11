import { describe, expect, it } from "vitest";
import { readBankFile } from "./bank-channel.ts";
import { bankMac, bankMacHolds, bankRequestString } from "./bank-mac.ts";
import { readCamt053 } from "./camt053.ts";

const doc = (
  entries: string,
  ns = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
) => `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="${ns}"><BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr><Stmt><Id>S1</Id>
<Acct><Id><Othr><Id>3500020109000001234</Id></Othr></Id><Ccy>CNY</Ccy></Acct>${entries}</Stmt></BkToCstmrStmt></Document>`;
const entry = (
  amt: string,
  ind = "CRDT",
  sts = "BOOK",
) => `<Ntry><NtryRef>R1</NtryRef><Amt Ccy="CNY">${amt}</Amt>
<CdtDbtInd>${ind}</CdtDbtInd><Sts><Cd>${sts}</Cd></Sts><BookgDt><Dt>2026-12-04</Dt></BookgDt><ValDt><Dt>2026-12-04</Dt></ValDt>
<AcctSvcrRef>BANKREF-1</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs>
<RltdPties><Dbtr><Pty><Nm>支付宝（中国）网络技术有限公司 &amp; co</Nm></Pty></Dbtr><DbtrAcct><Id><Othr><Id>1001</Id></Othr></Id></DbtrAcct></RltdPties>
<RmtInf><Ustrd>结算 2026-12-03</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>`;

describe("camt.053 reader", () => {
  it("reads the account and each entry's amount, direction, status, dates, references and remitter", () => {
    const s = readCamt053(doc(entry("1234.56") + entry("0.5", "DBIT", "PDNG")));
    expect(s.account).toBe("3500020109000001234");
    expect(s.entries).toEqual([
      {
        ref: "BANKREF-1",
        amountFen: 123456,
        currency: "CNY",
        credit: true,
        status: "BOOK",
        bookingDay: "2026-12-04",
        valueDay: "2026-12-04",
        debtorAccount: "1001",
        debtorName: "支付宝（中国）网络技术有限公司 & co",
        endToEndId: "E2E-1",
        remittance: "结算 2026-12-03",
      },
      expect.objectContaining({ amountFen: 50, credit: false, status: "PDNG" }),
    ]);
  });

  it("refuses a DTD, broken XML, another message type and an amount that is not one", () => {
    expect(() => readCamt053(`<!DOCTYPE x [<!ENTITY a "b">]>${doc("")}`)).toThrow(/DTD/);
    expect(() => readCamt053(doc(entry("1.00")).replace("</Stmt>", ""))).toThrow();
    expect(() => readCamt053(doc("", "urn:iso:std:iso:20022:tech:xsd:camt.052.001.08"))).toThrow(/camt\.053/);
    expect(() => readCamt053(doc(entry("1.234")))).toThrow(/amount/);
    expect(() => readCamt053(doc(entry("1,00")))).toThrow(/amount/);
  });
});

describe("the bank's day file", () => {
  const file = (head: string) =>
    [
      head,
      "D|PAY|2026120300000001|B20261203aa|23012600000000000019||218.00|0.00|20261203101112",
      "D|REFUND|RF1|B20261203aa|23012600000000000019|3f1e…|18.00|0.00|20261203111213",
    ].join("\r\n");
  it("reads payments and refunds when the header's count and total are the lines'", () => {
    const lines = readBankFile(file("H|ICBC|230101|20261203|2|200.00"), "2026-12-03");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ kind: "payment", orderId: "B20261203aa", amountFen: 21800 });
    expect(lines[0]?.completedAt.toISOString()).toBe("2026-12-03T02:11:12.000Z");
    expect(lines[1]).toMatchObject({ kind: "refund", amountFen: 1800, refundId: "3f1e…" });
  });
  it("refuses another day's file and a header that does not add up", () => {
    expect(() => readBankFile(file("H|ICBC|230101|20261202|2|200.00"), "2026-12-03")).toThrow(/day/);
    expect(() => readBankFile(file("H|ICBC|230101|20261203|2|200.01"), "2026-12-03")).toThrow(/header/);
    expect(() => readBankFile(file("H|ICBC|230101|20261203|3|200.00"), "2026-12-03")).toThrow(/header/);
  });
});

describe("the bank's MAC", () => {
  const key = "ab".repeat(32);
  const ts = String(Date.parse("2026-12-03T02:00:00Z"));
  const text = bankRequestString("POST", "/v1/payment/bank/B/pay", ts, "n1", Buffer.from('{"a":1}'));
  const mac = bankMac(key, text);
  it("holds for the key, the text and a timestamp within five minutes only", () => {
    expect(bankMacHolds(key, text, mac, ts, Number(ts) + 299_000)).toBe(true);
    expect(bankMacHolds(key, text, mac, ts, Number(ts) + 301_000)).toBe(false);
    expect(bankMacHolds("cd".repeat(32), text, mac, ts, Number(ts))).toBe(false);
    const other = bankRequestString("POST", "/v1/payment/bank/B/pay", ts, "n1", Buffer.from('{"a":2}'));
    expect(bankMacHolds(key, other, mac, ts, Number(ts))).toBe(false);
    expect(bankMacHolds(key, text, mac.slice(0, 62), ts, Number(ts))).toBe(false);
    expect(bankMacHolds(key, text, undefined, ts, Number(ts))).toBe(false);
  });
});
