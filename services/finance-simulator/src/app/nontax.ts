import { sm3 } from "@piaoju/gm-crypto";
import { AppError } from "@piaoju/runtime";
import type { NontaxNotice, NontaxNoticeRequest, NontaxPaymentRequest } from "../api.ts";
import { isPaymentCode, paymentCodeOf } from "../domain/payment-code.ts";
import { iso, type SimContext } from "./context.ts";

type Row = Record<string, unknown>;

/** Without a region of its own, an agency's codes carry the province's capital (哈尔滨). */
const DEFAULT_REGION = "230100";

/**
 * 生成缴款书: the non-tax system makes a payment notice and its payment code for an agency's
 * request. Idempotent by (agency, business serial): the same request returns the same notice;
 * another request under the serial is refused (409 NOTICE_CONFLICT).
 */
export async function createNotice(
  ctx: SimContext,
  agencyCode: string,
  input: NontaxNoticeRequest,
): Promise<{ created: boolean; notice: NontaxNotice }> {
  const requestSm3 = sm3(
    JSON.stringify([input.bizSerialNo, input.payerName, input.items.map((i) => [i.itemCode, i.amountFen])]),
  ).toString("hex");
  const principalFen = input.items.reduce((s, i) => s + i.amountFen, 0);
  return ctx.db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [
      `notice:${agencyCode}:${input.bizSerialNo}`,
    ]);
    const [existing] = await tx.query<Row>(
      "SELECT * FROM nontax_notice WHERE agency_code = $1 AND biz_serial_no = $2",
      [agencyCode, input.bizSerialNo],
    );
    if (existing) {
      if (existing.request_sm3 !== requestSm3) {
        throw new AppError("conflict", `serial ${input.bizSerialNo} was used for another notice`, {
          code: "NOTICE_CONFLICT",
        });
      }
      return { created: false, notice: noticeOf(existing) };
    }
    const [agency] = await tx.query<{ region_code: string | null }>(
      "SELECT region_code FROM agency WHERE agency_code = $1",
      [agencyCode],
    );
    const region =
      agency?.region_code && /^\d{6}$/.test(agency.region_code) ? agency.region_code : DEFAULT_REGION;
    const now = new Date();
    const year = Number(new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 4));
    const [seq] = await tx.query<{ next: string | number }>(
      `INSERT INTO nontax_code_sequence (region, year, next) VALUES ($1, $2, 2)
       ON CONFLICT (region, year) DO UPDATE SET next = nontax_code_sequence.next + 1 RETURNING next - 1 AS next`,
      [region, year],
    );
    const paymentCode = paymentCodeOf(region, year, BigInt(seq?.next ?? 1));
    const [row] = await tx.query<Row>(
      `INSERT INTO nontax_notice (payment_code, agency_code, biz_serial_no, request_sm3, payer_name, items,
         principal_fen, status, created_at)
       VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7,'ISSUED',$8) RETURNING *`,
      [
        paymentCode,
        agencyCode,
        input.bizSerialNo,
        requestSm3,
        input.payerName,
        JSON.stringify(input.items),
        principalFen,
        now,
      ],
    );
    return { created: true, notice: noticeOf(row!) };
  });
}

export async function readNotice(
  ctx: SimContext,
  agencyCode: string,
  paymentCode: string,
): Promise<NontaxNotice> {
  const [row] = await ctx.db.query<Row>(
    "SELECT * FROM nontax_notice WHERE payment_code = $1 AND agency_code = $2",
    [paymentCode, agencyCode],
  );
  if (!row) throw new AppError("not_found", `no notice ${paymentCode}`, { code: "UNKNOWN_NOTICE" });
  return noticeOf(row);
}

/**
 * 缴款结果: the agency (its payment platform) reports the notice paid. The same report again is
 * answered as before; a second payment by another trade is DUPLICATE_PAYMENT; an amount that is
 * not the principal plus the reported surcharge is AMOUNT_MISMATCH; a voided notice NOTICE_VOIDED.
 */
export async function recordNoticePayment(
  ctx: SimContext,
  agencyCode: string,
  paymentCode: string,
  input: NontaxPaymentRequest,
): Promise<NontaxNotice> {
  if (!isPaymentCode(paymentCode)) {
    throw AppError.validation([
      {
        field: "params.paymentCode",
        rule: "check_digit",
        message: "not a payment code (20 digits, check digit)",
      },
    ]);
  }
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx.query<Row>(
      "SELECT * FROM nontax_notice WHERE payment_code = $1 AND agency_code = $2 FOR UPDATE",
      [paymentCode, agencyCode],
    );
    if (!row) throw new AppError("not_found", `no notice ${paymentCode}`, { code: "UNKNOWN_NOTICE" });
    if (row.status === "VOIDED")
      throw new AppError("conflict", `notice ${paymentCode} is voided`, { code: "NOTICE_VOIDED" });
    if (row.status === "PAID") {
      if (row.channel_trade_no === input.channelTradeNo) return noticeOf(row);
      throw new AppError("conflict", `notice ${paymentCode} is paid already`, { code: "DUPLICATE_PAYMENT" });
    }
    if (input.paidFen !== Number(row.principal_fen) + input.surchargeFen) {
      throw new AppError(
        "conflict",
        `paid ${input.paidFen} fen is not the principal ${String(row.principal_fen)} plus the surcharge ${input.surchargeFen}`,
        { code: "AMOUNT_MISMATCH" },
      );
    }
    const [paid] = await tx.query<Row>(
      `UPDATE nontax_notice SET status = 'PAID', paid_at = $2, paid_fen = $3, surcharge_fen = $4, channel = $5,
         channel_trade_no = $6 WHERE payment_code = $1 RETURNING *`,
      [paymentCode, input.paidAt, input.paidFen, input.surchargeFen, input.channel, input.channelTradeNo],
    );
    return noticeOf(paid!);
  });
}

function noticeOf(r: Row): NontaxNotice {
  return {
    paymentCode: String(r.payment_code),
    agencyCode: String(r.agency_code),
    bizSerialNo: String(r.biz_serial_no),
    noticeNo: `FS${String(r.payment_code)}`,
    payerName: String(r.payer_name),
    items: r.items as NontaxNotice["items"],
    principalFen: Number(r.principal_fen),
    status: r.status as NontaxNotice["status"],
    createdAt: iso(r.created_at),
    ...(r.paid_at
      ? {
          paid: {
            at: iso(r.paid_at),
            paidFen: Number(r.paid_fen),
            surchargeFen: Number(r.surcharge_fen),
            channel: String(r.channel),
            channelTradeNo: String(r.channel_trade_no),
          },
        }
      : {}),
  };
}
