import { type Bus, consumeEvents, type Subscription, TransientError } from "@piaoju/bus";
import { type Emit, type RefundCompleted, topics } from "@piaoju/contracts";
import { AppError, issuesFromZod } from "@piaoju/runtime";
import type { z } from "zod";
import { recordBillKind } from "../app/catalog.ts";
import { type IssuanceContext, issuanceUnitOfWork, type Tx } from "../app/context.ts";
import { issueReceiptIn } from "../app/issue-receipt.ts";
import { receiveRun } from "../app/numbers.ts";
import { agencySigned, signingRefused, supervised, supervisionRejected } from "../app/outcomes.ts";
import { redFlushIn } from "../app/red-flush.ts";
import { issueRequestShape } from "../domain/request.ts";
import type { PrismaClient } from "../generated/prisma/client.ts";

export const NUMBER_INTAKE_GROUP = "issuance.number-intake";
export const PAYMENT_INTAKE_GROUP = "issuance.payment-intake";
export const SIGNING_OUTCOME_GROUP = "issuance.signing-outcome";
export const SUPERVISION_OUTCOME_GROUP = "issuance.supervision-outcome";

interface Wiring {
  bus: Bus;
  prisma: PrismaClient;
  issuance: IssuanceContext;
  clock: () => Date;
  published: () => void;
}

/**
 * Takes in the runs of numbers stock distributed to issuing points (stock.SegmentDistributed),
 * and the bill kinds' names for the documents, exactly once per event (inbox).
 */
export function consumeStockEvents(w: Wiring): Promise<Subscription> {
  return consumeEvents<Tx>(w.bus, issuanceUnitOfWork(w.prisma), {
    group: NUMBER_INTAKE_GROUP,
    types: ["stock.SegmentDistributed", "stock.BillKindRegistered"],
    topics: [topics.stock],
    producer: "issuance",
    clock: w.clock,
    published: w.published,
    handle: async (event, tx) => {
      if (event.type === "stock.SegmentDistributed") await receiveRun(w.issuance, tx, event.data);
      else if (event.type === "stock.BillKindRegistered") await recordBillKind(w.issuance, tx, event.data);
    },
  });
}

/**
 * 即缴即开: issues the receipt of a completed payment through the same use case as the API.
 * Exactly once per payment: the inbox drops a redelivered event, and the (agency, serial)
 * idempotency returns the receipt already issued for a payment published again under a new
 * event id (or issued by the API first). A payment that cannot be issued (bad payer code, no
 * stock) is dead-lettered, and replayed once fixed.
 */
export function consumePaymentEvents(w: Wiring): Promise<Subscription> {
  return consumeEvents<Tx>(w.bus, issuanceUnitOfWork(w.prisma), {
    group: PAYMENT_INTAKE_GROUP,
    types: ["payment.PaymentCompleted", "payment.RefundCompleted"],
    topics: [topics.payment],
    producer: "issuance",
    clock: w.clock,
    published: w.published,
    handle: async (event, tx, emit) => {
      if (event.type === "payment.RefundCompleted") {
        await refundedPayment(w, tx, emit, event.data);
        return;
      }
      if (event.type !== "payment.PaymentCompleted") return;
      const p = event.data;
      const parsed = issueRequestShape.safeParse({
        agencyCode: p.agencyCode,
        issuingPointCode: p.issuingPointCode,
        billCode: p.billCode,
        bizSerialNo: p.bizSerialNo,
        payer: p.payer,
        items: p.items,
        totalFen: p.totalFen,
        payMode: p.channel,
        remark: p.remark,
        handlingPerson: p.handlingPerson ?? `payment:${p.channel}`,
      });
      if (!parsed.success) throw AppError.validation(issuesFromZod(parsed.error, "data"));
      await issueReceiptIn(w.issuance, tx, emit, `payment:${p.paymentId}`, "PAYMENT", parsed.data);
    },
  });
}

/**
 * The signing gateway's answers: the agency's signature (→ AGENCY_SIGNED, then on to finance)
 * or its refusal (→ VOIDED). The inbox drops a redelivered event; the receipt's state drops
 * a repeat under a new id, or an answer for a receipt a clerk voided meanwhile.
 */
export function consumeSigningEvents(w: Wiring): Promise<Subscription> {
  return consumeEvents<Tx>(w.bus, issuanceUnitOfWork(w.prisma), {
    group: SIGNING_OUTCOME_GROUP,
    types: ["signing.ReceiptSigned", "signing.ReceiptSigningRefused"],
    topics: [topics.signing],
    producer: "issuance",
    clock: w.clock,
    published: w.published,
    handle: async (event, tx, emit) => {
      if (event.type === "signing.ReceiptSigned") await agencySigned(w.issuance, tx, emit, event.data);
      else if (event.type === "signing.ReceiptSigningRefused")
        await signingRefused(w.issuance, tx, emit, event.data);
    },
  });
}

/**
 * Finance's answers via the finance-exchange: supervised (→ ISSUED, and a red receipt's
 * original → RED_FLUSHED) or rejected (→ VOIDED). A supervision that overtakes the agency's
 * signature (two topics, no order between them) is kept until the signature arrives.
 */
export function consumeFinanceEvents(w: Wiring): Promise<Subscription> {
  return consumeEvents<Tx>(w.bus, issuanceUnitOfWork(w.prisma), {
    group: SUPERVISION_OUTCOME_GROUP,
    types: ["finance.ReceiptSupervised", "finance.ReceiptSupervisionRejected"],
    topics: [topics.finance],
    producer: "issuance",
    clock: w.clock,
    published: w.published,
    handle: async (event, tx, emit) => {
      if (event.type === "finance.ReceiptSupervised") await supervised(w.issuance, tx, emit, event.data);
      else if (event.type === "finance.ReceiptSupervisionRejected")
        await supervisionRejected(w.issuance, tx, emit, event.data);
    },
  });
}

/**
 * A payment refunded by the original route (原渠道退回): its receipt is red-flushed (冲红) and,
 * for a partial refund (轧差退付), issued again for what stays paid under `<serial>-R<n>`, the
 * n-th refund's receipt (the one the next refund red-flushes). Idempotent: the red-flush of the
 * same reason returns the red receipt already made, the re-issue is idempotent by its serial. A
 * receipt still on its way to ISSUED is waited for (a transient error: the bus tries again).
 */
async function refundedPayment(
  w: Wiring,
  tx: Tx,
  emit: Emit,
  r: z.infer<typeof RefundCompleted.schema>,
): Promise<void> {
  if (r.kind !== "REFUND") return; // a duplicate payment was never receipted
  const serial = r.sequence === 1 ? r.bizSerialNo : `${r.bizSerialNo}-R${r.sequence - 1}`;
  const original = await tx.receipt.findFirst({
    where: { agencyCode: r.agencyCode, bizSerialNo: serial, kind: "BLUE" },
  });
  if (!original) throw new TransientError(`no receipt yet for ${r.agencyCode}/${serial}`);
  const actor = `payment:${r.paymentId}`;
  try {
    await redFlushIn(w.issuance, tx, emit, actor, original.id, {
      reason: `退款冲红 refund ${r.refundSerialNo}`.slice(0, 200),
      handlingPerson: `payment:${r.channel}`,
    });
  } catch (error) {
    // Issued a moment ago and still at signing or finance: not yet red-flushable.
    if (error instanceof AppError && error.code === "NOT_ISSUED")
      throw new TransientError(error.message, { cause: error });
    throw error;
  }
  if (r.remainingFen === 0) return;
  const request = original.request as unknown as Record<string, unknown>;
  const parsed = issueRequestShape.safeParse({
    ...request,
    bizSerialNo: `${r.bizSerialNo}-R${r.sequence}`,
    items: r.remainder,
    totalFen: r.remainingFen,
  });
  if (!parsed.success) throw AppError.validation(issuesFromZod(parsed.error, "data"));
  await issueReceiptIn(w.issuance, tx, emit, actor, "PAYMENT", parsed.data);
}
