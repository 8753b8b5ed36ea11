import { randomBytes } from "node:crypto";
import type { ChannelOutcome } from "../../domain/payment.ts";
import {
  type ChannelAccount,
  ChannelRefusedError,
  ChannelUnavailableError,
  type NotifyReply,
  type PaymentChannel,
  type RefundOutcome,
  type StatementLine,
  yuanStringToFen,
} from "../channel.ts";
import { bankAnswerString, bankMac, bankMacHolds, bankRequestString } from "./bank-mac.ts";
import { type AccountStatement, readCamt053 } from "./camt053.ts";

/**
 * The agency bank (代理银行) as a channel: its counter collects by decision number (the bank asks
 * us, src/app/bank-counter.ts), and this adapter is our side of the bank's front-end (银行前置) for
 * the rest: a counter trade's state, a refund by the original route (the bank pays the payer back),
 * the day's reconciliation file, and the agency account's statement (camt.053) for funds arrival.
 *
 * Account (`PUT /v1/payment/channel-accounts/bank`): accountId = the bank's code (its 联行号 or the
 * code it calls us under); config: `macKey` (64 hex: the HMAC-SM3 working key for this agency),
 * `baseUrl` (the front-end), `account` (the agency's account at the bank: its statement), and
 * `settlementAccount` (the bank's clearing account its counter collections are credited from).
 * Every request and every answer carries the MAC of bank-mac.ts; an answer without a valid MAC is
 * no answer (ChannelUnavailableError), as for the other channels.
 */
export class BankChannel implements PaymentChannel {
  readonly name = "bank";
  readonly notifyPerAccount = false;
  readonly wapNeedsPayerIp = false;
  /** The payer pays at the bank's own counter: no order is opened from the cashier. */
  readonly counterOnly = true;
  readonly notifyAnswer: { taken: NotifyReply; refused: NotifyReply } = {
    taken: { status: 200, contentType: "application/json", body: '{"code":"OK"}' },
    refused: { status: 400, contentType: "application/json", body: '{"code":"NOT_A_NOTIFY"}' },
  };

  constructor(private readonly opts: { timeoutMs: number }) {}

  async openOrder(): Promise<{ payTarget: string }> {
    throw new ChannelRefusedError(
      "bank",
      "COUNTER_ONLY",
      "the bank collects at its counter, by decision number",
    );
  }

  async query(account: ChannelAccount, orderId: string): Promise<ChannelOutcome> {
    const res = await this.call(account, "GET", `/bankfront/v1/trades/${encodeURIComponent(orderId)}`);
    if (res.status === 404) return { kind: "unknown" };
    this.refusedUnlessOk(res);
    const t = res.json as { status: string; bankSerialNo: string; amountFen: number; paidAt: string };
    if (t.status === "PAID") {
      return {
        kind: "paid",
        channelTradeNo: t.bankSerialNo,
        amountFen: t.amountFen,
        paidAt: new Date(t.paidAt),
      };
    }
    return t.status === "REVERSED" ? { kind: "closed" } : { kind: "waiting" };
  }

  async close(): Promise<"closed" | "paid"> {
    // A counter order is written paid or not at all: there is nothing open at the bank to close.
    return "closed";
  }

  notifyAccountId(): string | undefined {
    return undefined;
  }

  verifyNotify(): undefined {
    // The bank reports a payment through POST /v1/payment/bank/:bankCode/pay, not a notify.
    return undefined;
  }

  async refund(
    account: ChannelAccount,
    request: { orderId: string; refundId: string; amountFen: number; reason: string },
  ): Promise<RefundOutcome> {
    const res = await this.call(account, "POST", "/bankfront/v1/refunds", {
      refundId: request.refundId,
      orderNo: request.orderId,
      amountFen: request.amountFen,
      reason: request.reason,
    });
    this.refusedUnlessOk(res);
    return refunded(res.json);
  }

  async queryRefund(account: ChannelAccount, request: { refundId: string }): Promise<RefundOutcome> {
    const res = await this.call(
      account,
      "GET",
      `/bankfront/v1/refunds/${encodeURIComponent(request.refundId)}`,
    );
    if (res.status === 404) return { kind: "none" };
    this.refusedUnlessOk(res);
    return refunded(res.json);
  }

  async statementUrl(account: ChannelAccount, businessDay: string): Promise<string> {
    return `${base(account)}/bankfront/v1/reconciliation/${businessDay}`;
  }

  /**
   * The bank's day file (对账文件), text, one record a line, fields split by `|`:
   * `H|bankCode|agencyCode|YYYYMMDD|count|totalYuan` then `D|PAY|bankSerialNo|orderNo|paymentCode||amountYuan|feeYuan|yyyyMMddHHmmss`
   * and `D|REFUND|bankRefundNo|orderNo|paymentCode|refundId|amountYuan|feeYuan|yyyyMMddHHmmss`;
   * the header's count and total must be the lines', or the file is refused.
   */
  async statement(account: ChannelAccount, businessDay: string): Promise<StatementLine[]> {
    const res = await this.call(account, "GET", `/bankfront/v1/reconciliation/${businessDay}`);
    this.refusedUnlessOk(res);
    return readBankFile(res.text, businessDay);
  }

  /** The agency account's statement of a booking day, camt.053. */
  async accountStatement(account: ChannelAccount, bookingDay: string): Promise<AccountStatement> {
    const acct = account.config.account ?? "";
    const res = await this.call(
      account,
      "GET",
      `/bankfront/v1/accounts/${encodeURIComponent(acct)}/statements/${bookingDay}`,
    );
    this.refusedUnlessOk(res);
    const statement = readCamt053(res.text);
    if (statement.account !== acct)
      throw new ChannelRefusedError("bank", "WRONG_ACCOUNT", `statement of ${statement.account}`);
    return statement;
  }

  private refusedUnlessOk(res: { status: number; json: unknown }): void {
    if (res.status >= 200 && res.status < 300) return;
    const body = (res.json ?? {}) as { code?: string; message?: string };
    throw new ChannelRefusedError("bank", String(body.code ?? res.status), String(body.message ?? ""));
  }

  private async call(
    account: ChannelAccount,
    method: "GET" | "POST",
    path: string,
    payload?: unknown,
  ): Promise<{ status: number; text: string; json: unknown }> {
    const key = account.config.macKey ?? "";
    const body = Buffer.from(payload === undefined ? "" : JSON.stringify(payload), "utf8");
    const timestamp = String(Date.now());
    const nonce = randomBytes(12).toString("hex");
    let res: Response;
    let bytes: Buffer;
    try {
      res = await fetch(`${base(account)}${path}`, {
        method,
        headers: {
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
          "x-bank-code": account.accountId,
          "x-bank-timestamp": timestamp,
          "x-bank-nonce": nonce,
          "x-bank-signature": bankMac(key, bankRequestString(method, path, timestamp, nonce, body)),
        },
        ...(payload === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      bytes = Buffer.from(await res.arrayBuffer());
    } catch (error) {
      throw new ChannelUnavailableError("bank", error);
    }
    if (res.status >= 500) throw new ChannelUnavailableError("bank", new Error(`answered ${res.status}`));
    const ts = res.headers.get("x-bank-timestamp") ?? undefined;
    const text = bankAnswerString(res.status, ts ?? "", res.headers.get("x-bank-nonce") ?? "", bytes);
    if (!bankMacHolds(key, text, res.headers.get("x-bank-signature") ?? undefined, ts, Date.now())) {
      throw new ChannelUnavailableError("bank", new Error("the answer's MAC does not hold"));
    }
    const str = bytes.toString("utf8");
    let json: unknown;
    try {
      json = str.startsWith("{") ? JSON.parse(str) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, text: str, json };
  }
}

const base = (account: ChannelAccount) => (account.config.baseUrl ?? "").replace(/\/$/, "");

function refunded(body: unknown): RefundOutcome {
  const r = body as { status?: string; bankRefundNo?: string; amountFen?: number; refundedAt?: string };
  if (r.status === "SUCCESS" && r.bankRefundNo && typeof r.amountFen === "number" && r.refundedAt) {
    return {
      kind: "refunded",
      channelRefundNo: r.bankRefundNo,
      amountFen: r.amountFen,
      refundedAt: new Date(r.refundedAt),
    };
  }
  return r.status === "PROCESSING" ? { kind: "pending" } : { kind: "none" };
}

const shanghaiTime = (s: string) =>
  new Date(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(8, 10)}:${s.slice(10, 12)}:${s.slice(12, 14)}+08:00`,
  );

/** Reads the bank's day file (see BankChannel.statement); throws when it is not that day's or does not add up. */
export function readBankFile(text: string, businessDay: string): StatementLine[] {
  const rows = text.split(/\r?\n/).filter((l) => l.length > 0);
  const head = (rows.shift() ?? "").split("|");
  if (head[0] !== "H" || head[3] !== businessDay.replaceAll("-", ""))
    throw new Error("not the day's bank file");
  const lines: StatementLine[] = [];
  let total = 0;
  for (const row of rows) {
    const v = row.split("|");
    if (v[0] !== "D" || v.length !== 9 || !/^\d{14}$/.test(v[8] ?? ""))
      throw new Error(`a bad line in the bank file: ${row}`);
    const amountFen = yuanStringToFen(v[6] ?? "");
    const feeFen = yuanStringToFen(v[7] || "0");
    if (Number.isNaN(amountFen) || Number.isNaN(feeFen)) throw new Error(`an amount that is not one: ${row}`);
    const kind = v[1] === "PAY" ? "payment" : v[1] === "REFUND" ? "refund" : undefined;
    if (!kind) throw new Error(`a line of no known type: ${row}`);
    total += kind === "payment" ? amountFen : -amountFen;
    lines.push({
      kind,
      channelTradeNo: v[2] ?? "",
      orderId: v[3] ?? "",
      amountFen,
      ...(kind === "refund" ? { refundId: v[5] ?? "" } : {}),
      ...(feeFen > 0 ? { feeFen } : {}),
      completedAt: shanghaiTime(v[8] ?? ""),
    });
  }
  if (
    Number(head[4]) !== lines.length ||
    yuanStringToFen((head[5] ?? "").replace(/^-/, "")) * (head[5]?.startsWith("-") ? -1 : 1) !== total
  ) {
    throw new Error("the bank file's header does not match its lines");
  }
  return lines;
}
