import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";

/**
 * The agency bank (代理银行) as a peer: its non-tax counter system and its front-end (银行前置).
 * It plays the bank both ways. As the counter it asks Piaoju what is due on a decision number,
 * collects the amount and reports the payment (and reverses a mistaken one, 冲正), calling
 * `POST <piaoju>/v1/payment/bank/<bankCode>/{query,pay,reverse}`. As the front-end it answers
 * Piaoju's calls: a counter trade's state, refunds by the original route (idempotent by refund
 * id), the day's reconciliation file, and the agency account's statement as ISO 20022 camt.053.
 * Every message both ways carries the MAC the bank and the agency agreed: HMAC-SM3 with the
 * working key over `METHOD\nPATH\nTIMESTAMP\nNONCE\nhex(SM3(body))` (answers: `STATUS\n…`), Unix
 * ms timestamps within 5 minutes. Its own code (node:crypto), not Piaoju's.
 */
export interface BankTrade {
  bankSerialNo: string;
  orderNo: string;
  paymentCode: string;
  amountFen: number;
  paidAt: Date;
  status: "PAID" | "REVERSED";
  reversalSerial?: string;
  reversedAt?: Date;
  refunds: Map<string, { bankRefundNo: string; amountFen: number; refundedAt: Date }>;
}

/** One credit or debit on the agency's account, as the statement shows it. */
export interface AccountCredit {
  amountFen: number;
  debtorAccount: string;
  debtorName: string;
  bookingDay: string;
  valueDay?: string;
  ref?: string;
  endToEndId?: string;
  remittance?: string;
  credit?: boolean;
  status?: "BOOK" | "PDNG";
}

export interface BankAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface BankSimulator {
  /** The front-end's base URL (the channel account's baseUrl). */
  url: string;
  bankCode: string;
  agencyCode: string;
  /** The agency's account at the bank, and the bank's clearing account counter collections come from. */
  account: string;
  clearingAccount: string;
  macKey: string;
  /** The counter: what is due on a decision. */
  query(decisionNo: string, opts?: { key?: string }): Promise<BankAnswer>;
  /** The counter collected this: the report. */
  pay(p: {
    paymentCode: string;
    amountFen: number;
    paidAt?: Date;
    bankSerialNo?: string;
    key?: string;
  }): Promise<BankAnswer>;
  /** 冲正 of a payment reported by mistake. */
  reverse(
    originalBankSerialNo: string,
    reason: string,
    opts?: { bankSerialNo?: string },
  ): Promise<BankAnswer>;
  /** Any message, signed with `key` (another key: a forgery), its body as given. */
  send(
    path: "query" | "pay" | "reverse",
    body: unknown,
    opts?: { key?: string; tamper?: (b: Buffer) => Buffer },
  ): Promise<BankAnswer>;
  nextSerial(): string;
  trade(bankSerialNo: string): BankTrade | undefined;
  readonly refundCalls: number;
  readonly badSignatures: number;
  /** A credit on the agency's account (a channel's settlement arriving, or anything else). */
  credit(entry: AccountCredit): void;
  /** The day's counter collections, net of refunds, credited from the clearing account on bookingDay. */
  settleCounterDay(day: string, bookingDay: string): number;
  dayFile(day: string): string;
  close(): Promise<void>;
}

const sm3hex = (b: Buffer) => createHash("sm3").update(b).digest("hex");
const hmac = (keyHex: string, text: string) =>
  createHmac("sm3", Buffer.from(keyHex, "hex")).update(text, "utf8").digest("hex");
const shanghai = (d: Date) => new Date(d.getTime() + 8 * 3_600_000).toISOString();
const dayOf = (d: Date) => shanghai(d).slice(0, 10);
const yuan = (fen: number) =>
  `${fen < 0 ? "-" : ""}${Math.trunc(Math.abs(fen) / 100)}.${String(Math.abs(fen) % 100).padStart(2, "0")}`;
const compact = (d: Date) => shanghai(d).slice(0, 19).replace(/[-T:]/g, "");
const xml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export async function startBankSimulator(options: {
  piaojuUrl: string | (() => string);
  agencyCode: string;
  bankCode?: string;
  account?: string;
  clearingAccount?: string;
}): Promise<BankSimulator> {
  const bankCode = options.bankCode ?? "ICBC-2301";
  const account = options.account ?? "3500020109000001234";
  const clearingAccount = options.clearingAccount ?? "3500020129999000001";
  const macKey = randomBytes(32).toString("hex");
  const trades = new Map<string, BankTrade>();
  const byOrder = new Map<string, BankTrade>();
  const credits: AccountCredit[] = [];
  let serial = 0;
  let refundCalls = 0;
  let badSignatures = 0;
  let entryNo = 0;

  const signed = (reply: FastifyReply, status: number, body: string, type = "application/json") => {
    const ts = String(Date.now());
    const nonce = randomBytes(8).toString("hex");
    const bytes = Buffer.from(body, "utf8");
    return reply
      .status(status)
      .header("content-type", `${type}; charset=utf-8`)
      .header("x-bank-timestamp", ts)
      .header("x-bank-nonce", nonce)
      .header("x-bank-signature", hmac(macKey, [String(status), ts, nonce, sm3hex(bytes)].join("\n")))
      .send(bytes);
  };

  const app: FastifyInstance = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  app.addHook("preHandler", async (req, reply) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const ts = String(req.headers["x-bank-timestamp"] ?? "");
    const nonce = String(req.headers["x-bank-nonce"] ?? "");
    const given = Buffer.from(String(req.headers["x-bank-signature"] ?? ""), "hex");
    const want = Buffer.from(hmac(macKey, [req.method, req.url, ts, nonce, sm3hex(body)].join("\n")), "hex");
    if (
      req.headers["x-bank-code"] !== bankCode ||
      given.length !== want.length ||
      !timingSafeEqual(given, want) ||
      Math.abs(Date.now() - Number(ts)) > 300_000
    ) {
      badSignatures++;
      return signed(reply, 401, JSON.stringify({ code: "MAC_INVALID", message: "报文校验失败" }));
    }
  });

  app.get("/bankfront/v1/trades/:orderNo", async (req, reply) => {
    const t = byOrder.get((req.params as { orderNo: string }).orderNo);
    if (!t) return signed(reply, 404, JSON.stringify({ code: "NO_TRADE", message: "无此交易" }));
    return signed(
      reply,
      200,
      JSON.stringify({
        status: t.status,
        bankSerialNo: `${bankCode}:${t.bankSerialNo}`,
        amountFen: t.amountFen,
        paidAt: t.paidAt.toISOString(),
      }),
    );
  });

  const refundAnswer = (r: { bankRefundNo: string; amountFen: number; refundedAt: Date }) =>
    JSON.stringify({
      status: "SUCCESS",
      bankRefundNo: r.bankRefundNo,
      amountFen: r.amountFen,
      refundedAt: r.refundedAt.toISOString(),
    });

  app.post("/bankfront/v1/refunds", async (req, reply) => {
    refundCalls++;
    const b = JSON.parse((req.body as Buffer).toString("utf8")) as {
      refundId: string;
      orderNo: string;
      amountFen: number;
    };
    const t = byOrder.get(b.orderNo);
    if (!t) return signed(reply, 404, JSON.stringify({ code: "NO_TRADE", message: "原交易不存在" }));
    const held = t.refunds.get(b.refundId);
    if (held) return signed(reply, 200, refundAnswer(held));
    const refunded = [...t.refunds.values()].reduce((s, r) => s + r.amountFen, 0);
    if (b.amountFen <= 0 || refunded + b.amountFen > t.amountFen) {
      return signed(
        reply,
        409,
        JSON.stringify({ code: "AMOUNT_EXCEEDS", message: "退款金额超过原交易可退金额" }),
      );
    }
    // A reversed trade's money went back at the reversal: the refund is that reversal.
    const r = {
      bankRefundNo:
        t.status === "REVERSED" && t.reversalSerial ? `${bankCode}:${t.reversalSerial}` : `RF${nextSerial()}`,
      amountFen: b.amountFen,
      refundedAt: t.status === "REVERSED" && t.reversedAt ? t.reversedAt : new Date(),
    };
    t.refunds.set(b.refundId, r);
    return signed(reply, 200, refundAnswer(r));
  });

  app.get("/bankfront/v1/refunds/:refundId", async (req, reply) => {
    const id = (req.params as { refundId: string }).refundId;
    for (const t of trades.values()) {
      const r = t.refunds.get(id);
      if (r) return signed(reply, 200, refundAnswer(r));
    }
    return signed(reply, 404, JSON.stringify({ code: "NO_REFUND", message: "无此退款" }));
  });

  const dayFile = (day: string) => {
    const lines: string[] = [];
    let total = 0;
    for (const t of trades.values()) {
      if (dayOf(t.paidAt) === day) {
        lines.push(
          [
            "D",
            "PAY",
            t.bankSerialNo,
            t.orderNo,
            t.paymentCode,
            "",
            yuan(t.amountFen),
            "0.00",
            compact(t.paidAt),
          ].join("|"),
        );
        total += t.amountFen;
      }
      for (const [refundId, r] of t.refunds) {
        if (dayOf(r.refundedAt) !== day) continue;
        lines.push(
          [
            "D",
            "REFUND",
            r.bankRefundNo,
            t.orderNo,
            t.paymentCode,
            refundId,
            yuan(r.amountFen),
            "0.00",
            compact(r.refundedAt),
          ].join("|"),
        );
        total -= r.amountFen;
      }
    }
    return [
      ["H", bankCode, options.agencyCode, day.replaceAll("-", ""), String(lines.length), yuan(total)].join(
        "|",
      ),
      ...lines,
      "",
    ].join("\r\n");
  };

  app.get("/bankfront/v1/reconciliation/:day", async (req, reply) =>
    signed(reply, 200, dayFile((req.params as { day: string }).day), "text/plain"),
  );

  app.get("/bankfront/v1/accounts/:account/statements/:day", async (req, reply) => {
    const p = req.params as { account: string; day: string };
    if (p.account !== account)
      return signed(reply, 404, JSON.stringify({ code: "NO_ACCOUNT", message: "无此账户" }));
    return signed(reply, 200, camt053(p.day), "application/xml");
  });

  function camt053(day: string): string {
    const entries = credits.filter((c) => c.bookingDay === day);
    const sum = entries.reduce((s, c) => s + ((c.credit ?? true) ? c.amountFen : -c.amountFen), 0);
    const now = new Date().toISOString();
    const ntry = entries
      .map(
        (c) => `    <Ntry>
      <NtryRef>${xml(c.ref ?? "")}</NtryRef>
      <Amt Ccy="CNY">${yuan(c.amountFen)}</Amt>
      <CdtDbtInd>${(c.credit ?? true) ? "CRDT" : "DBIT"}</CdtDbtInd>
      <Sts><Cd>${c.status ?? "BOOK"}</Cd></Sts>
      <BookgDt><Dt>${c.bookingDay}</Dt></BookgDt>
      <ValDt><Dt>${c.valueDay ?? c.bookingDay}</Dt></ValDt>
      <AcctSvcrRef>${xml(c.ref ?? "")}</AcctSvcrRef>
      <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
      <NtryDtls><TxDtls>
        <Refs><AcctSvcrRef>${xml(c.ref ?? "")}</AcctSvcrRef><EndToEndId>${xml(c.endToEndId ?? "NOTPROVIDED")}</EndToEndId></Refs>
        <Amt Ccy="CNY">${yuan(c.amountFen)}</Amt>
        <RltdPties>
          <Dbtr><Pty><Nm>${xml(c.debtorName)}</Nm></Pty></Dbtr>
          <DbtrAcct><Id><Othr><Id>${xml(c.debtorAccount)}</Id></Othr></Id></DbtrAcct>
        </RltdPties>
        <RmtInf><Ustrd>${xml(c.remittance ?? "")}</Ustrd></RmtInf>
      </TxDtls></NtryDtls>
    </Ntry>`,
      )
      .join("\n");
    return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>${bankCode}-${day.replaceAll("-", "")}-STMT</MsgId><CreDtTm>${now}</CreDtTm></GrpHdr>
    <Stmt>
    <Id>${account}-${day.replaceAll("-", "")}</Id>
    <ElctrncSeqNb>1</ElctrncSeqNb>
    <CreDtTm>${now}</CreDtTm>
    <FrToDt><FrDtTm>${day}T00:00:00+08:00</FrDtTm><ToDtTm>${day}T23:59:59+08:00</ToDtTm></FrToDt>
    <Acct><Id><Othr><Id>${account}</Id></Othr></Id><Ccy>CNY</Ccy><Ownr><Nm>${xml(options.agencyCode)}</Nm></Ownr></Acct>
    <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>${day}</Dt></Dt></Bal>
    <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">${yuan(Math.abs(sum))}</Amt><CdtDbtInd>${sum < 0 ? "DBIT" : "CRDT"}</CdtDbtInd><Dt><Dt>${day}</Dt></Dt></Bal>
    <TxsSummry><TtlNtries><NbOfNtries>${entries.length}</NbOfNtries></TtlNtries></TxsSummry>
${ntry}
    </Stmt>
  </BkToCstmrStmt>
</Document>
`;
  }

  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  function nextSerial(): string {
    serial++;
    return `${compact(new Date()).slice(0, 8)}${String(serial).padStart(8, "0")}`;
  }

  const piaoju = () =>
    (typeof options.piaojuUrl === "function" ? options.piaojuUrl() : options.piaojuUrl).replace(/\/$/, "");
  async function send(
    what: "query" | "pay" | "reverse",
    body: unknown,
    opts: { key?: string; tamper?: (b: Buffer) => Buffer } = {},
  ): Promise<BankAnswer> {
    const path = `/v1/payment/bank/${encodeURIComponent(bankCode)}/${what}`;
    const bytes = Buffer.from(JSON.stringify(body));
    const ts = String(Date.now());
    const nonce = randomBytes(8).toString("hex");
    const sig = hmac(opts.key ?? macKey, ["POST", path, ts, nonce, sm3hex(bytes)].join("\n"));
    const res = await fetch(`${piaoju()}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-bank-timestamp": ts,
        "x-bank-nonce": nonce,
        "x-bank-signature": sig,
      },
      body: opts.tamper ? opts.tamper(bytes) : bytes,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  }

  const credit = (entry: AccountCredit) => {
    entryNo++;
    credits.push({
      ref: `${bankCode}${entry.bookingDay.replaceAll("-", "")}${String(entryNo).padStart(6, "0")}`,
      ...entry,
    });
  };

  return {
    url: `http://127.0.0.1:${port}`,
    bankCode,
    agencyCode: options.agencyCode,
    account,
    clearingAccount,
    macKey,
    query: (decisionNo, opts) =>
      send("query", { agencyCode: options.agencyCode, decisionNo, bankSerialNo: nextSerial() }, opts),
    async pay(p) {
      const bankSerialNo = p.bankSerialNo ?? nextSerial();
      const paidAt = p.paidAt ?? new Date();
      const answer = await send(
        "pay",
        {
          agencyCode: options.agencyCode,
          bankSerialNo,
          paymentCode: p.paymentCode,
          amountFen: p.amountFen,
          paidAt: paidAt.toISOString(),
        },
        p.key ? { key: p.key } : {},
      );
      // The counter keeps the trade once Piaoju took the report (a replay finds it already there).
      if (answer.status === 200 && !trades.has(bankSerialNo)) {
        const t: BankTrade = {
          bankSerialNo,
          orderNo: String(answer.body.orderNo),
          paymentCode: p.paymentCode,
          amountFen: p.amountFen,
          paidAt,
          status: "PAID",
          refunds: new Map(),
        };
        trades.set(bankSerialNo, t);
        byOrder.set(t.orderNo, t);
      }
      return answer;
    },
    async reverse(originalBankSerialNo, reason, opts = {}) {
      const bankSerialNo = opts.bankSerialNo ?? nextSerial();
      const answer = await send("reverse", {
        agencyCode: options.agencyCode,
        bankSerialNo,
        originalBankSerialNo,
        reason,
      });
      const t = trades.get(originalBankSerialNo);
      if (answer.status === 200 && t && t.status === "PAID") {
        t.status = "REVERSED";
        t.reversalSerial = bankSerialNo;
        t.reversedAt = new Date();
      }
      return answer;
    },
    send,
    nextSerial,
    trade: (s) => trades.get(s),
    get refundCalls() {
      return refundCalls;
    },
    get badSignatures() {
      return badSignatures;
    },
    credit,
    settleCounterDay(day, bookingDay) {
      let net = 0;
      for (const t of trades.values()) {
        if (dayOf(t.paidAt) === day) net += t.amountFen;
        for (const r of t.refunds.values()) if (dayOf(r.refundedAt) === day) net -= r.amountFen;
      }
      if (net > 0) {
        credit({
          amountFen: net,
          debtorAccount: clearingAccount,
          debtorName: "代理银行非税收入过渡户",
          bookingDay,
          endToEndId: `CTR${day.replaceAll("-", "")}`,
          remittance: `柜台代收非税款 ${day}`,
        });
      }
      return net;
    },
    dayFile,
    close: () => app.close(),
  };
}
