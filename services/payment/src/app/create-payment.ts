import { randomUUID } from "node:crypto";
import { NoticeCreated } from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import { AppError } from "@piaoju/runtime";
import { makePaymentCode } from "../domain/payment-code.ts";
import { audit, type PaymentContext, sealJson, type Tx } from "./context.ts";
import type { PaymentRow } from "./rows.ts";
import { type PaymentView, viewOf } from "./views.ts";

export interface CreatePayment {
  agencyCode: string;
  bizSerialNo: string;
  decisionNo?: string | undefined;
  payer: { type: 1 | 2; code: string; name: string; phone?: string | undefined; email?: string | undefined };
  items: Array<{ itemCode: string; quantity: string; amountFen: number }>;
  /** The fine the surcharge (加处罚款) runs on, and from when. */
  surcharge?: { fineItemCode: string; deadline: string; itemCode: string } | undefined;
  issuingPointCode: string;
  billCode: string;
  remark?: string | undefined;
}

/**
 * Makes the payment notice (缴款书) for a business system's request, with its payment code.
 * Idempotent by (agency, business serial): the same request again returns the same notice (200),
 * another request under the serial is refused (409 BIZ_SERIAL_REUSED).
 */
export async function createPayment(
  ctx: PaymentContext,
  actor: string,
  input: CreatePayment,
): Promise<{ created: boolean; payment: PaymentView }> {
  const fingerprint = sm3(Buffer.from(canonical(input))).toString("hex");
  const principalFen = input.items.reduce((sum, item) => sum + item.amountFen, 0);
  const fineFen = input.surcharge
    ? input.items
        .filter((i) => i.itemCode === input.surcharge?.fineItemCode)
        .reduce((s, i) => s + i.amountFen, 0)
    : 0;
  if (input.surcharge && fineFen === 0) {
    throw AppError.validation([
      {
        field: "body.surcharge.fineItemCode",
        rule: "custom",
        message: "no item of the request has this code",
      },
    ]);
  }
  // The non-tax system makes the notice first (it is idempotent by serial, so a retry after a lost
  // answer gets the same code); a request we already hold never reaches it again.
  let issued: { noticeNo: string; paymentCode: string } | undefined;
  if (ctx.noticeIssuer) {
    const [held] = await ctx.db.query<{ id: string }>(
      "SELECT id FROM payment WHERE agency_code = $1 AND biz_serial_no = $2",
      [input.agencyCode, input.bizSerialNo],
    );
    if (!held) {
      issued = await ctx.noticeIssuer.issue(input.agencyCode, {
        bizSerialNo: input.bizSerialNo,
        payerName: input.payer.name,
        items: input.items.map((i) => ({ itemCode: i.itemCode, amountFen: i.amountFen })),
      });
    }
  }
  return ctx.inTransaction(async (tx, emit) => {
    // Serialises requests under one serial, so two concurrent retries make one notice.
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [
      `payment:${input.agencyCode}:${input.bizSerialNo}`,
    ]);
    const [existing] = await tx.query<PaymentRow>(
      "SELECT * FROM payment WHERE agency_code = $1 AND biz_serial_no = $2",
      [input.agencyCode, input.bizSerialNo],
    );
    if (existing) {
      if (existing.request_sm3 !== fingerprint) {
        throw new AppError(
          "conflict",
          `business serial ${input.bizSerialNo} was used for another payment request (${existing.id})`,
          { code: "BIZ_SERIAL_REUSED" },
        );
      }
      return { created: false, payment: viewOf(ctx, existing) };
    }
    const now = ctx.clock();
    if (ctx.noticeIssuer && !issued) {
      throw new AppError("conflict", `payment ${input.bizSerialNo} is being created; try again`, {
        code: "PAYMENT_IN_PROGRESS",
      });
    }
    const paymentCode = issued?.paymentCode ?? (await nextPaymentCode(ctx, tx, now));
    const id = randomUUID();
    const noticeNo = issued?.noticeNo ?? `N${paymentCode}`;
    const [row] = await tx.query<PaymentRow>(
      `INSERT INTO payment (id, agency_code, biz_serial_no, request_sm3, notice_no, payment_code, decision_no,
         payer_sealed, items, principal_fen, fine_fen, deadline, surcharge_item_code, issuing_point_code, bill_code,
         remark, status, requested_by, created_at, updated_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb,$10,$11,$12::date,$13,$14,$15,$16,'CREATED',$17,$18,$18)
       RETURNING *`,
      [
        id,
        input.agencyCode,
        input.bizSerialNo,
        fingerprint,
        noticeNo,
        paymentCode,
        input.decisionNo ?? null,
        sealJson(ctx, input.payer),
        JSON.stringify(input.items),
        principalFen,
        fineFen,
        input.surcharge?.deadline ?? null,
        input.surcharge?.itemCode ?? null,
        input.issuingPointCode,
        input.billCode,
        input.remark ?? null,
        actor,
        now,
      ],
    );
    if (!row) throw new Error("payment insert returned nothing");
    await audit(tx, now, actor, "payment.create", `payment:${id}`, {
      bizSerialNo: input.bizSerialNo,
      paymentCode,
      principalFen,
    });
    emit(NoticeCreated, {
      paymentId: id,
      agencyCode: input.agencyCode,
      bizSerialNo: input.bizSerialNo,
      noticeNo,
      paymentCode,
      ...(input.decisionNo ? { decisionNo: input.decisionNo } : {}),
      principalFen,
      ...(input.surcharge ? { deadline: input.surcharge.deadline } : {}),
      createdAt: now.toISOString(),
      requestedBy: actor,
    });
    return { created: true, payment: viewOf(ctx, row) };
  });
}

/** The region's next code this year; the row lock makes the sequence gap-free and never reused. */
async function nextPaymentCode(ctx: PaymentContext, tx: Tx, now: Date): Promise<string> {
  const year = Number(new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 4));
  const [row] = await tx.query<{ next: string | number }>(
    `INSERT INTO payment_code_sequence (region, year, next) VALUES ($1, $2, 2)
     ON CONFLICT (region, year) DO UPDATE SET next = payment_code_sequence.next + 1
     RETURNING next - 1 AS next`,
    [ctx.codeRule.region, year],
  );
  return makePaymentCode(ctx.codeRule, year, BigInt(row?.next ?? 1));
}

/** The request's fields in a fixed order: what "the same request" means. */
function canonical(input: CreatePayment): string {
  return JSON.stringify([
    input.agencyCode,
    input.bizSerialNo,
    input.decisionNo ?? null,
    [input.payer.type, input.payer.code, input.payer.name],
    input.items.map((i) => [i.itemCode, i.quantity, i.amountFen]),
    input.surcharge
      ? [input.surcharge.fineItemCode, input.surcharge.deadline, input.surcharge.itemCode]
      : null,
    input.issuingPointCode,
    input.billCode,
    input.remark ?? null,
  ]);
}
