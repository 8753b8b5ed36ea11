import { randomBytes } from "node:crypto";
import { sm3 } from "@piaoju/gm-crypto";
import { businessDay } from "@piaoju/locale";
import { AppError } from "@piaoju/runtime";
import { bankMacHolds, bankRequestString } from "../adapters/bank/bank-mac.ts";
import type { ChannelAccount } from "../adapters/channel.ts";
import { queryDecision } from "../adapters/decision-source.ts";
import { amountDue, amountFixedUntil } from "../domain/surcharge.ts";
import { audit, type PaymentContext, sealJson, type Tx, unsealJson } from "./context.ts";
import { createPayment } from "./create-payment.ts";
import { insertRefund } from "./refunds.ts";
import { dueInputs, lockPayment, type OrderRow, type PaymentRow } from "./rows.ts";
import { settleInTransaction } from "./settle.ts";

/**
 * 银行柜台按决定书编号查询缴款 (seed 004, flow 3): the agency bank's non-tax system asks, through
 * its front-end, what is due on a penalty decision; we ask the police business system, make the
 * notice (createPayment, idempotent by the police system's serial) and answer with its payment
 * code and the amount due today (加处罚款 included). The bank collects at its counter and reports
 * the payment; it completes the notice once, through the same settlement as every channel's word
 * (settleInTransaction: a second report completes nothing, money taken for a paid notice is a
 * DUPLICATE_PAYMENT refunded by the bank). A report made by mistake is reversed (冲正) within the day.
 * Every message is authenticated by the bank's MAC (adapters/bank/bank-mac.ts) before anything is read.
 */
export interface BankMessage {
  method: string;
  /** The request's path as sent (the MAC covers it). */
  path: string;
  headers: Record<string, string | undefined>;
  rawBody: Uint8Array;
}

/** The bank's account for the agency, once its MAC over the message holds; else 401, nothing read or written. */
export async function authenticateBank(
  ctx: PaymentContext,
  bankCode: string,
  agencyCode: string,
  message: BankMessage,
): Promise<ChannelAccount> {
  const [row] = await ctx.db.query<{ account_id: string; sealed: Uint8Array }>(
    "SELECT account_id, sealed FROM channel_account WHERE agency_code = $1 AND channel = 'bank' AND account_id = $2",
    [agencyCode, bankCode],
  );
  const account: ChannelAccount | undefined = row
    ? { accountId: row.account_id, config: unsealJson(ctx, row.sealed) }
    : undefined;
  const h = message.headers;
  const holds =
    account !== undefined &&
    bankMacHolds(
      account.config.macKey ?? "",
      bankRequestString(
        message.method,
        message.path,
        h["x-bank-timestamp"] ?? "",
        h["x-bank-nonce"] ?? "",
        message.rawBody,
      ),
      h["x-bank-signature"],
      h["x-bank-timestamp"],
      ctx.clock().getTime(),
    );
  if (!holds || !account) {
    throw new AppError(
      "unauthenticated",
      `the message's MAC does not hold for bank ${bankCode} and agency ${agencyCode}`,
      {
        code: "BANK_SIGNATURE_INVALID",
      },
    );
  }
  return account;
}

export interface DueAnswer {
  agencyCode: string;
  decisionNo: string;
  noticeNo: string;
  paymentCode: string;
  payerName: string;
  principalFen: number;
  surchargeFen: number;
  amountDueFen: number;
  daysLate: number;
  deadline?: string;
  /** The amount holds until this instant (the next Shanghai midnight, when the surcharge may grow). */
  amountValidUntil: string;
}

/** 查询应缴信息: the notice for a decision (made now if need be) and what is due on it today. */
export async function bankQuery(
  ctx: PaymentContext,
  input: { agencyCode: string; decisionNo: string; bankSerialNo: string },
  timeoutMs: number,
): Promise<DueAnswer> {
  let [payment] = await ctx.db.query<PaymentRow>(
    `SELECT * FROM payment WHERE agency_code = $1 AND decision_no = $2
       ORDER BY (status IN ('CREATED','PAYING')) DESC, created_at DESC LIMIT 1`,
    [input.agencyCode, input.decisionNo],
  );
  if (!payment) {
    const [source] = await ctx.db.query<{ app_id: string; url: string; secret_sealed: Uint8Array }>(
      "SELECT app_id, url, secret_sealed FROM decision_source WHERE agency_code = $1",
      [input.agencyCode],
    );
    if (!source) {
      throw new AppError(
        "unavailable",
        `no business system answers decisions for agency ${input.agencyCode}`,
        {
          code: "BUSINESS_SYSTEM_UNAVAILABLE",
        },
      );
    }
    const answer = await queryDecision(
      { url: source.url, secret: unsealJson<string>(ctx, source.secret_sealed) },
      input.agencyCode,
      input.decisionNo,
      timeoutMs,
    );
    if (answer.kind === "not-found") {
      throw new AppError("not_found", `the business system has no decision ${input.decisionNo}`, {
        code: "DECISION_NOT_FOUND",
      });
    }
    if (answer.kind === "unavailable") {
      throw new AppError(
        "unavailable",
        `the business system did not answer for ${input.decisionNo}: ${answer.reason}`,
        {
          code: "BUSINESS_SYSTEM_UNAVAILABLE",
        },
      );
    }
    const made = await createPayment(ctx, `app:${source.app_id}`, {
      agencyCode: input.agencyCode,
      ...answer.request,
    });
    [payment] = await ctx.db.query<PaymentRow>("SELECT * FROM payment WHERE id = $1", [made.payment.id]);
    if (!payment) throw new Error("the notice just made is gone");
  }
  if (payment.status === "PAID" || payment.status === "REFUNDING" || payment.status === "REFUNDED") {
    throw new AppError("conflict", `decision ${input.decisionNo} is paid already`, { code: "ALREADY_PAID" });
  }
  if (payment.status === "CLOSED" || payment.status === "FAILED") {
    throw new AppError(
      "conflict",
      `the notice of decision ${input.decisionNo} is ${payment.status.toLowerCase()}`,
      {
        code: "PAYMENT_CLOSED",
      },
    );
  }
  const now = ctx.clock();
  const due = amountDue(dueInputs(payment), now);
  const payer = unsealJson<{ name: string }>(ctx, payment.payer_sealed);
  const deadline = dueInputs(payment).deadline;
  return {
    agencyCode: payment.agency_code,
    decisionNo: input.decisionNo,
    noticeNo: payment.notice_no,
    paymentCode: payment.payment_code,
    payerName: payer.name,
    principalFen: due.principalFen,
    surchargeFen: due.surchargeFen,
    amountDueFen: due.totalFen,
    daysLate: due.daysLate,
    ...(deadline ? { deadline } : {}),
    amountValidUntil: amountFixedUntil(now).toISOString(),
  };
}

export interface PayAnswer {
  bankSerialNo: string;
  /** Our trade number for the counter's payment: the day file and refunds name it. */
  orderNo: string;
  paymentCode: string;
  paidFen: number;
  /** PAID: the notice is paid by this; DUPLICATE: it was paid already, the money goes back by the bank. */
  result: "PAID" | "DUPLICATE";
}

const fingerprint = (v: unknown) => sm3(Buffer.from(JSON.stringify(v))).toString("hex");

async function heldMessage(
  tx: Tx,
  bankCode: string,
  bankSerialNo: string,
  sm3hex: string,
): Promise<unknown | undefined> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`bank:${bankCode}:${bankSerialNo}`]);
  const [held] = await tx.query<{ request_sm3: string; answer: unknown }>(
    "SELECT request_sm3, answer FROM bank_transaction WHERE bank_code = $1 AND bank_serial_no = $2",
    [bankCode, bankSerialNo],
  );
  if (!held) return undefined;
  if (held.request_sm3 !== sm3hex) {
    throw new AppError("conflict", `bank serial ${bankSerialNo} was used for another message`, {
      code: "BANK_SERIAL_REUSED",
    });
  }
  return held.answer;
}

/**
 * 缴款结果: the bank collected the amount at its counter. Once per bank serial (a replay answers
 * the same, changes nothing); the amount must be the amount due at the time of payment (else
 * 409 AMOUNT_DUE_CHANGED and nothing is written: the bank does not take it, or reverses).
 */
export async function bankPay(
  ctx: PaymentContext,
  bankCode: string,
  input: { agencyCode: string; bankSerialNo: string; paymentCode: string; amountFen: number; paidAt: string },
): Promise<{ replayed: boolean; answer: PayAnswer }> {
  const sm3hex = fingerprint(["PAY", input.agencyCode, input.paymentCode, input.amountFen, input.paidAt]);
  return ctx.inTransaction(async (tx, emit) => {
    const held = await heldMessage(tx, bankCode, input.bankSerialNo, sm3hex);
    if (held) return { replayed: true, answer: held as PayAnswer };
    const now = ctx.clock();
    const paidAt = new Date(input.paidAt);
    if (paidAt.getTime() > now.getTime() + 5 * 60_000 || paidAt.getTime() < now.getTime() - 86_400_000) {
      throw AppError.validation([
        { field: "body.paidAt", rule: "range", message: "a counter payment is reported within a day of it" },
      ]);
    }
    const [found] = await tx.query<{ id: string }>(
      "SELECT id FROM payment WHERE agency_code = $1 AND payment_code = $2",
      [input.agencyCode, input.paymentCode],
    );
    const payment = found ? await lockPayment(tx, found.id) : undefined;
    if (!payment) {
      throw new AppError("not_found", `no notice with payment code ${input.paymentCode}`, {
        code: "PAYMENT_NOT_FOUND",
      });
    }
    if (payment.status === "CLOSED" || payment.status === "FAILED") {
      throw new AppError("conflict", `the notice ${input.paymentCode} is ${payment.status.toLowerCase()}`, {
        code: "PAYMENT_CLOSED",
      });
    }
    const due = amountDue(dueInputs(payment), paidAt);
    if (input.amountFen !== due.totalFen) {
      throw new AppError(
        "conflict",
        `the amount due at ${input.paidAt} was ${due.totalFen} fen, not ${input.amountFen}`,
        { code: "AMOUNT_DUE_CHANGED" },
      );
    }
    const orderId = `B${businessDay(paidAt).replaceAll("-", "")}${randomBytes(10).toString("hex")}`;
    await tx.query<OrderRow>(
      `INSERT INTO payment_order (id, payment_id, agency_code, channel, scene, amount_fen, status, channel_account,
         expires_at, opened_at, next_query_at)
       VALUES ($1,$2,$3,'bank','counter',$4,'OPEN',$5,$6,$6,$6)`,
      [orderId, payment.id, payment.agency_code, input.amountFen, bankCode, now],
    );
    const decided = await settleInTransaction(
      ctx,
      tx,
      emit,
      orderId,
      {
        kind: "paid",
        channelTradeNo: `${bankCode}:${input.bankSerialNo}`,
        amountFen: input.amountFen,
        paidAt,
      },
      "counter",
    );
    if (decided !== "complete" && decided !== "anomaly")
      throw new Error(`a counter payment settled as ${decided}`);
    const answer: PayAnswer = {
      bankSerialNo: input.bankSerialNo,
      orderNo: orderId,
      paymentCode: payment.payment_code,
      paidFen: input.amountFen,
      result: decided === "complete" ? "PAID" : "DUPLICATE",
    };
    await tx.query(
      `INSERT INTO bank_transaction (bank_code, bank_serial_no, kind, agency_code, request_sm3, payment_id, order_id,
         amount_fen, status, answer, recorded_at) VALUES ($1,$2,'PAY',$3,$4,$5,$6,$7,$8,$9::jsonb,$10)`,
      [
        bankCode,
        input.bankSerialNo,
        payment.agency_code,
        sm3hex,
        payment.id,
        orderId,
        input.amountFen,
        decided === "complete" ? "COMPLETED" : "DUPLICATE",
        JSON.stringify(answer),
        now,
      ],
    );
    await audit(tx, now, `bank:${bankCode}`, "payment.bank.pay", `payment:${payment.id}`, {
      bankSerialNo: input.bankSerialNo,
      orderId,
      amountFen: input.amountFen,
      result: answer.result,
    });
    return { replayed: false, answer };
  });
}

export interface ReverseAnswer {
  bankSerialNo: string;
  originalBankSerialNo: string;
  status: "REVERSED";
  /** The refund that undoes it in our books (the bank has paid the payer back itself). */
  refundId?: string;
}

/**
 * 冲正: the bank says a payment it reported was a mistake (the counter transaction failed or was
 * undone), on the day it reported it. The bank has given the money back itself; here the money
 * goes out of the books by the refund path, so the non-tax system hears of it, the receipt is
 * red-flushed and the business system is told: a completed notice gets a full refund
 * (`REV-<serial>`) of the counter's order, which the bank answers from its reversal; a duplicate
 * already has its refund. Once per reversal serial; a second reversal of the same payment is refused.
 */
export async function bankReverse(
  ctx: PaymentContext,
  bankCode: string,
  input: { agencyCode: string; bankSerialNo: string; originalBankSerialNo: string; reason: string },
): Promise<{ replayed: boolean; answer: ReverseAnswer }> {
  const sm3hex = fingerprint(["REVERSE", input.agencyCode, input.originalBankSerialNo, input.reason]);
  return ctx.inTransaction(async (tx, emit) => {
    const held = await heldMessage(tx, bankCode, input.bankSerialNo, sm3hex);
    if (held) return { replayed: true, answer: held as ReverseAnswer };
    const [original] = await tx.query<{
      payment_id: string;
      order_id: string;
      amount_fen: string | number;
      status: string;
      recorded_at: Date;
    }>(
      `SELECT payment_id, order_id, amount_fen, status, recorded_at FROM bank_transaction
        WHERE bank_code = $1 AND bank_serial_no = $2 AND kind = 'PAY' AND agency_code = $3`,
      [bankCode, input.originalBankSerialNo, input.agencyCode],
    );
    if (!original) {
      throw new AppError("not_found", `bank ${bankCode} reported no payment ${input.originalBankSerialNo}`, {
        code: "BANK_TRANSACTION_NOT_FOUND",
      });
    }
    const payment = await lockPayment(tx, original.payment_id);
    if (!payment) throw new Error("the reversed payment is gone");
    if (original.status === "REVERSED") {
      throw new AppError("conflict", `payment ${input.originalBankSerialNo} is reversed already`, {
        code: "ALREADY_REVERSED",
      });
    }
    const now = ctx.clock();
    if (businessDay(new Date(original.recorded_at)) !== businessDay(now)) {
      throw new AppError("conflict", `payment ${input.originalBankSerialNo} was reported on another day`, {
        code: "REVERSAL_TOO_LATE",
      });
    }
    let refundId: string | undefined;
    if (original.status === "COMPLETED") {
      const [order] = await tx.query<OrderRow>("SELECT * FROM payment_order WHERE id = $1 FOR UPDATE", [
        original.order_id,
      ]);
      if (!order?.channel_trade_no) throw new Error("the counter's order has no trade number");
      const refunded = await insertRefund(
        tx,
        emit,
        now,
        payment,
        { id: order.id, channel: "bank", channel_trade_no: order.channel_trade_no },
        {
          kind: "REFUND",
          refundSerialNo: `REV-${input.bankSerialNo}`,
          amountFen: Number(original.amount_fen),
          reason: `银行冲正 ${input.reason}`.slice(0, 200),
          actor: `bank:${bankCode}`,
        },
      );
      refundId = refunded.id;
      await tx.query("UPDATE payment SET status = 'REFUNDING', updated_at = $2 WHERE id = $1", [
        payment.id,
        now,
      ]);
    } else {
      const [dup] = await tx.query<{ id: string }>(
        "SELECT id FROM payment_refund WHERE order_id = $1 AND kind = 'DUPLICATE'",
        [original.order_id],
      );
      refundId = dup?.id;
    }
    await tx.query(
      "UPDATE bank_transaction SET status = 'REVERSED', reversed_at = $3 WHERE bank_code = $1 AND bank_serial_no = $2",
      [bankCode, input.originalBankSerialNo, now],
    );
    const answer: ReverseAnswer = {
      bankSerialNo: input.bankSerialNo,
      originalBankSerialNo: input.originalBankSerialNo,
      status: "REVERSED",
      ...(refundId ? { refundId } : {}),
    };
    await tx.query(
      `INSERT INTO bank_transaction (bank_code, bank_serial_no, kind, agency_code, request_sm3, payment_id, order_id,
         amount_fen, status, reverses, answer, recorded_at) VALUES ($1,$2,'REVERSE',$3,$4,$5,$6,$7,'DONE',$8,$9::jsonb,$10)`,
      [
        bankCode,
        input.bankSerialNo,
        input.agencyCode,
        sm3hex,
        payment.id,
        original.order_id,
        Number(original.amount_fen),
        input.originalBankSerialNo,
        JSON.stringify(answer),
        now,
      ],
    );
    await audit(tx, now, `bank:${bankCode}`, "payment.bank.reverse", `payment:${payment.id}`, {
      bankSerialNo: input.bankSerialNo,
      originalBankSerialNo: input.originalBankSerialNo,
      refundId,
      reason: input.reason,
    });
    return { replayed: false, answer };
  });
}

/** The police business system says where its decisions are asked (its secret sealed; an app sets its own). */
export async function setDecisionSource(
  ctx: PaymentContext,
  actor: string,
  input: { agencyCode: string; appId: string; url: string; secret: string },
): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock();
    await tx.query(
      `INSERT INTO decision_source (agency_code, app_id, url, secret_sealed, updated_at, updated_by)
       VALUES ($1,$2,$3,$4,$5,$6)
       ON CONFLICT (agency_code) DO UPDATE SET app_id = $2, url = $3, secret_sealed = $4, updated_at = $5, updated_by = $6`,
      [input.agencyCode, input.appId, input.url, sealJson(ctx, input.secret), now, actor],
    );
    await audit(tx, now, actor, "decision-source.set", `decision-source:${input.agencyCode}`, {
      appId: input.appId,
      url: input.url,
    });
  });
}
