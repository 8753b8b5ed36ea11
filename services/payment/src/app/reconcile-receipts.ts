import { ReceiptDifferenceFound, ReceiptsReconciled, type receiptDifferenceKind } from "@piaoju/contracts";
import type { z } from "zod";
import { audit, type PaymentContext } from "./context.ts";
import { keepHandledReconciliation } from "./handling.ts";

/** The three-way match's leg in the work list (payment_difference.channel, payment_reconciliation.channel). */
export const RECEIPT_LEG = "receipt";

export type ReceiptDifferenceKind = z.infer<typeof receiptDifferenceKind>;

export interface ReceiptDifference {
  kind: ReceiptDifferenceKind;
  subject: "payment" | "refund" | "receipt";
  paymentId?: string;
  refundId?: string;
  receiptId?: string;
  ourFen?: number;
  receiptFen?: number;
  /** OPEN: for a person; HELD: within the grace period, looked at again. */
  resolution: "OPEN" | "HELD";
}

export interface ReceiptReconciliation {
  agencyCode: string;
  businessDay: string;
  matched: number;
  differences: ReceiptDifference[];
  /** When the earliest held finding's grace ends (the day-end looks again then). */
  lookAgainAt?: Date;
}

interface ReceiptRow {
  receipt_id: string;
  biz_serial_no: string;
  kind: "blue" | "red";
  original_receipt_id: string | null;
  total_fen: string | number;
  handling_person: string;
  issued_at: Date;
  red_flushed_at: Date | null;
}

interface PaidRow {
  id: string;
  biz_serial_no: string;
  status: string;
  paid_fen: string | number;
  paid_at: Date;
  updated_at: Date;
}

interface RefundLine {
  id: string;
  payment_id: string;
  amount_fen: string | number;
  refunded_at: Date;
  updated_at: Date;
}

const dayStart = (day: string) => new Date(`${day}T00:00:00+08:00`);
const dayEnd = (day: string) => new Date(dayStart(day).getTime() + 86_400_000);
/** The receipt serial of a payment after its n-th refund (issuance's rule: `<serial>`, then `<serial>-R<n>`). */
const serialAfter = (serial: string, refunds: number) => (refunds === 0 ? serial : `${serial}-R${refunds}`);
const PAID = ["PAID", "REFUNDING", "REFUNDED"];

/**
 * 三方对账 (channel ↔ payment ↔ receipt), the receipt leg, for an agency's Asia/Shanghai day, from
 * what issuance's events told this service (payment_receipt; issuance's tables are never read):
 * every payment paid that day has exactly one blue receipt for its serial, for what was paid;
 * every refund completed that day red-flushed the receipt it replaces and, when money stays paid,
 * a re-issue `<serial>-R<n>` for the rest; every receipt issued that day for a payment has its
 * paid payment, and every red receipt its refund. Something missing within `graceMs` of the
 * payment or refund completing here is held, not reported. A rerun replaces the day's findings.
 */
export async function reconcileReceipts(
  ctx: PaymentContext,
  actor: string,
  input: { agencyCode: string; businessDay: string; graceMs: number },
): Promise<ReceiptReconciliation> {
  const { agencyCode, businessDay, graceMs } = input;
  const now = ctx.clock();
  const from = dayStart(businessDay);
  const to = dayEnd(businessDay);
  const differences: ReceiptDifference[] = [];
  let matched = 0;
  let lookAgainAt: Date | undefined;
  /** Missing, and still within the grace period: held (and looked at again), else open. */
  const missing = (d: Omit<ReceiptDifference, "resolution">, completedHere: Date) => {
    const graceEnds = new Date(completedHere.getTime() + graceMs);
    if (graceEnds > now) {
      differences.push({ ...d, resolution: "HELD" });
      if (!lookAgainAt || graceEnds < lookAgainAt) lookAgainAt = graceEnds;
    } else differences.push({ ...d, resolution: "OPEN" });
  };

  // The payments of the day (paid here that day), their refunds so far, and their receipts.
  const payments = await ctx.db.query<PaidRow>(
    `SELECT id, biz_serial_no, status, paid_fen, paid_at, updated_at FROM payment
       WHERE agency_code = $1 AND status = ANY($2) AND paid_at >= $3 AND paid_at < $4 ORDER BY paid_at, id`,
    [agencyCode, PAID, from, to],
  );
  // Refunds completed that day (of payments of any day), and every earlier refund of those payments.
  const refundedToday = await ctx.db.query<RefundLine>(
    `SELECT id, payment_id, amount_fen, refunded_at, updated_at FROM payment_refund
       WHERE agency_code = $1 AND kind = 'REFUND' AND status = 'REFUNDED' AND refunded_at >= $2 AND refunded_at < $3`,
    [agencyCode, from, to],
  );
  const refundedPaymentIds = [...new Set(refundedToday.map((r) => r.payment_id))];
  const refundedPayments = refundedPaymentIds.length
    ? await ctx.db.query<PaidRow>(
        "SELECT id, biz_serial_no, status, paid_fen, paid_at, updated_at FROM payment WHERE id = ANY($1)",
        [refundedPaymentIds],
      )
    : [];
  const paymentById = new Map([...payments, ...refundedPayments].map((p) => [p.id, p]));
  const allRefunds = paymentById.size
    ? await ctx.db.query<RefundLine>(
        `SELECT id, payment_id, amount_fen, refunded_at, updated_at FROM payment_refund
           WHERE payment_id = ANY($1) AND kind = 'REFUND' AND status = 'REFUNDED' ORDER BY refunded_at, created_at, id`,
        [[...paymentById.keys()]],
      )
    : [];
  const refundsOf = new Map<string, RefundLine[]>();
  for (const r of allRefunds) refundsOf.set(r.payment_id, [...(refundsOf.get(r.payment_id) ?? []), r]);

  // Receipts that bear on them: each payment's serial and its re-issues.
  const serials = [...paymentById.values()].flatMap((p) =>
    Array.from({ length: (refundsOf.get(p.id)?.length ?? 0) + 1 }, (_, n) => serialAfter(p.biz_serial_no, n)),
  );
  const receipts = serials.length
    ? await ctx.db.query<ReceiptRow>(
        `SELECT receipt_id, biz_serial_no, kind, original_receipt_id, total_fen, handling_person, issued_at, red_flushed_at
           FROM payment_receipt WHERE agency_code = $1 AND kind = 'blue' AND biz_serial_no = ANY($2)`,
        [agencyCode, serials],
      )
    : [];
  const blueOf = new Map<string, ReceiptRow[]>();
  for (const r of receipts) blueOf.set(r.biz_serial_no, [...(blueOf.get(r.biz_serial_no) ?? []), r]);

  // 1. Every payment of the day: exactly one receipt, for what was paid.
  for (const p of payments) {
    const paidFen = Number(p.paid_fen);
    const issued = blueOf.get(p.biz_serial_no) ?? [];
    const base = { subject: "payment" as const, paymentId: p.id, ourFen: paidFen };
    if (issued.length === 0) {
      missing({ ...base, kind: "RECEIPT_MISSING" }, p.updated_at);
      continue;
    }
    if (issued.length > 1) {
      for (const r of issued.slice(1))
        differences.push({
          ...base,
          kind: "RECEIPT_DUPLICATE",
          receiptId: r.receipt_id,
          receiptFen: Number(r.total_fen),
          resolution: "OPEN",
        });
      continue;
    }
    const [receipt] = issued;
    if (receipt && Number(receipt.total_fen) !== paidFen) {
      differences.push({
        ...base,
        kind: "RECEIPT_AMOUNT",
        receiptId: receipt.receipt_id,
        receiptFen: Number(receipt.total_fen),
        resolution: "OPEN",
      });
      continue;
    }
    matched++;
  }

  // 2. Every refund of the day: the receipt it replaces red-flushed; the rest re-issued.
  const todayIds = new Set(refundedToday.map((r) => r.id));
  for (const p of paymentById.values()) {
    const chain = refundsOf.get(p.id) ?? [];
    let remaining = Number(p.paid_fen);
    for (const [i, r] of chain.entries()) {
      remaining -= Number(r.amount_fen);
      if (!todayIds.has(r.id)) continue;
      const base = {
        subject: "refund" as const,
        paymentId: p.id,
        refundId: r.id,
        ourFen: Number(r.amount_fen),
      };
      const replaced = blueOf.get(serialAfter(p.biz_serial_no, i))?.[0];
      if (!replaced?.red_flushed_at) {
        missing(
          {
            ...base,
            kind: "REFUND_NOT_RED_FLUSHED",
            ...(replaced ? { receiptId: replaced.receipt_id } : {}),
          },
          r.updated_at,
        );
        continue;
      }
      if (remaining > 0) {
        const reissued = blueOf.get(serialAfter(p.biz_serial_no, i + 1))?.[0];
        if (!reissued) {
          missing({ ...base, kind: "REISSUE_MISSING", ourFen: remaining }, r.updated_at);
          continue;
        }
        if (Number(reissued.total_fen) !== remaining) {
          differences.push({
            ...base,
            kind: "RECEIPT_AMOUNT",
            ourFen: remaining,
            receiptId: reissued.receipt_id,
            receiptFen: Number(reissued.total_fen),
            resolution: "OPEN",
          });
          continue;
        }
      }
      matched++;
    }
  }

  // 3. Every receipt issued that day for a payment has its paid payment; every red one its refund.
  const issuedToday = await ctx.db.query<ReceiptRow & { original_serial: string | null }>(
    `SELECT r.receipt_id, r.biz_serial_no, r.kind, r.original_receipt_id, r.total_fen, r.handling_person, r.issued_at,
            r.red_flushed_at, o.biz_serial_no AS original_serial
       FROM payment_receipt r LEFT JOIN payment_receipt o ON o.receipt_id = r.original_receipt_id
      WHERE r.agency_code = $1 AND r.issued_at >= $2 AND r.issued_at < $3 ORDER BY r.issued_at, r.receipt_id`,
    [agencyCode, from, to],
  );
  const serialOf = (s: string) => {
    const m = /^(.*)-R(\d+)$/.exec(s);
    return m ? { base: m[1] ?? s, refunds: Number(m[2]) } : { base: s, refunds: 0 };
  };
  const candidates = [
    ...new Set(
      issuedToday.flatMap((r) => {
        const s = r.kind === "blue" ? r.biz_serial_no : r.original_serial;
        return s ? [s, serialOf(s).base] : [];
      }),
    ),
  ];
  const known = candidates.length
    ? await ctx.db.query<{ id: string; biz_serial_no: string; status: string }>(
        "SELECT id, biz_serial_no, status FROM payment WHERE agency_code = $1 AND biz_serial_no = ANY($2)",
        [agencyCode, candidates],
      )
    : [];
  const paymentOfSerial = new Map(known.map((p) => [p.biz_serial_no, p]));
  const refundCount = async (paymentId: string) => {
    const [row] = await ctx.db.query<{ n: string | number }>(
      "SELECT count(*) AS n FROM payment_refund WHERE payment_id = $1 AND kind = 'REFUND' AND status = 'REFUNDED'",
      [paymentId],
    );
    return Number(row?.n ?? 0);
  };
  for (const r of issuedToday) {
    const base = { subject: "receipt" as const, receiptId: r.receipt_id, receiptFen: Number(r.total_fen) };
    if (r.kind === "blue") {
      // A serial of a notice here, whole or with -R<n>; or issued by the payment route: a payment's receipt.
      const whole = paymentOfSerial.get(r.biz_serial_no);
      const parts = serialOf(r.biz_serial_no);
      const payment = whole ?? (parts.refunds > 0 ? paymentOfSerial.get(parts.base) : undefined);
      if (!payment && !r.handling_person.startsWith("payment:")) continue; // a receipt not for a payment
      const refunds = whole ? 0 : parts.refunds;
      if (
        !payment ||
        !PAID.includes(payment.status) ||
        (refunds > 0 && (await refundCount(payment.id)) < refunds)
      ) {
        differences.push({
          ...base,
          kind: "RECEIPT_WITHOUT_PAYMENT",
          ...(payment ? { paymentId: payment.id } : {}),
          resolution: "OPEN",
        });
      }
      continue;
    }
    // A red receipt: the receipt it flushed must be a payment's whose refund replaced it.
    if (!r.original_serial) continue; // flushes a receipt this service never saw issued for a payment
    const whole = paymentOfSerial.get(r.original_serial);
    const parts = serialOf(r.original_serial);
    const payment = whole ?? (parts.refunds > 0 ? paymentOfSerial.get(parts.base) : undefined);
    if (!payment) continue;
    const nth = (whole ? 0 : parts.refunds) + 1;
    if ((await refundCount(payment.id)) < nth) {
      differences.push({
        ...base,
        kind: "RED_FLUSH_WITHOUT_REFUND",
        paymentId: payment.id,
        resolution: "OPEN",
      });
    }
  }

  await ctx.inTransaction(async (tx, emit) => {
    const restoreHandled = await keepHandledReconciliation(tx, agencyCode, RECEIPT_LEG, businessDay);
    await tx.query(
      "DELETE FROM payment_difference WHERE agency_code = $1 AND channel = $2 AND business_day = $3",
      [agencyCode, RECEIPT_LEG, businessDay],
    );
    for (const d of differences) {
      await tx.query(
        `INSERT INTO payment_difference (agency_code, channel, business_day, kind, subject, payment_id, refund_id,
           receipt_id, our_fen, channel_fen, resolution, found_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
        [
          agencyCode,
          RECEIPT_LEG,
          businessDay,
          d.kind,
          d.subject,
          d.paymentId ?? null,
          d.refundId ?? null,
          d.receiptId ?? null,
          d.ourFen ?? null,
          d.receiptFen ?? null,
          d.resolution,
          now,
        ],
      );
      emit(ReceiptDifferenceFound, { agencyCode, businessDay, ...d, foundAt: now.toISOString() });
    }
    await restoreHandled();
    const open = differences.filter((d) => d.resolution === "OPEN").length;
    const held = differences.length - open;
    await tx.query(
      `INSERT INTO payment_reconciliation (agency_code, channel, business_day, matched, differences, repaired, held,
         collected_fen, refunded_fen, ran_at, ran_by) VALUES ($1,$2,$3,$4,$5,0,$6,0,0,$7,$8)
       ON CONFLICT (agency_code, channel, business_day) DO UPDATE SET matched = $4, differences = $5, held = $6,
         ran_at = $7, ran_by = $8`,
      [agencyCode, RECEIPT_LEG, businessDay, matched, open, held, now, actor],
    );
    await audit(tx, now, actor, "payment.reconcile", `reconciliation:${RECEIPT_LEG}:${businessDay}`, {
      agencyCode,
      matched,
      differences: open,
    });
    emit(ReceiptsReconciled, {
      agencyCode,
      businessDay,
      matched,
      differences: open,
      held,
      completedAt: now.toISOString(),
    });
  });
  return { agencyCode, businessDay, matched, differences, ...(lookAgainAt ? { lookAgainAt } : {}) };
}
