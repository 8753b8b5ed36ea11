// Issuance played on the bus for the payment service's three-way reconciliation: a receipt for
// every payment issuance would receipt (即缴即开), a red-flush (and for a partial refund the
// re-issue `<serial>-R<n>`) for every refund, as issuance's consumer does, with the events issuance
// publishes (packages/contracts). Faults are planted by telling it what to leave out or get wrong.
import { randomBytes, randomUUID } from "node:crypto";
import type { Bus, Subscription } from "@piaoju/bus";
import { createEnvelope, type Envelope, ReceiptIssued, ReceiptRedFlushed, topics } from "@piaoju/contracts";

interface Issued {
  receiptId: string;
  bizSerialNo: string;
  totalFen: number;
  number: string;
}

export interface IssuancePlayer {
  /** Serials it does not receipt (a receipt missing for a payment). */
  skip: Set<string>;
  /** Serials it receipts for another amount (fen added). */
  wrongBy: Map<string, number>;
  /** The blue receipt of a serial, once issued. */
  receiptOf(bizSerialNo: string): Issued | undefined;
  /** A receipt issued for a payment that is not one here (its serial unknown): RECEIPT_WITHOUT_PAYMENT. */
  issueForeign(bizSerialNo: string, totalFen: number, at: Date): Promise<Issued>;
  /** A red receipt for a serial's receipt with no refund behind it: RED_FLUSH_WITHOUT_REFUND. */
  redFlushWithoutRefund(bizSerialNo: string, at: Date): Promise<Issued>;
  stop(): Promise<void>;
}

export async function playIssuance(
  probe: Bus,
  options: { clock: () => Date; agencyCode: string; billCode?: string },
): Promise<IssuancePlayer> {
  const billCode = options.billCode ?? "23010526";
  const bySerial = new Map<string, Issued>();
  const skip = new Set<string>();
  const wrongBy = new Map<string, number>();
  let number = 0;
  const payer = { type: 1 as const, code: "230102199003077778", name: "王五" };

  const issue = async (
    agencyCode: string,
    bizSerialNo: string,
    totalFen: number,
    at: Date,
    red?: { original: Issued },
  ): Promise<Issued> => {
    const issued: Issued = {
      receiptId: randomUUID(),
      bizSerialNo,
      totalFen,
      number: String(++number).padStart(10, "0"),
    };
    const envelopes: Envelope[] = [
      createEnvelope(
        ReceiptIssued,
        {
          receiptId: issued.receiptId,
          agencyCode,
          billCode,
          number: issued.number,
          kind: red ? "red" : "blue",
          ...(red ? { originalReceiptId: red.original.receiptId } : {}),
          bizSerialNo,
          issuingPointCode: "JJ-01",
          checkCode: String(100000 + (number % 900000)),
          issuedAt: at.toISOString(),
          supervisedAt: at.toISOString(),
          totalFen,
          payer,
          items: [{ itemCode: "FK01", itemName: "交通违法罚款", quantity: "1", amountFen: totalFen }],
          handlingPerson: "payment:alipay",
          document: randomBytes(16).toString("base64"),
          documentSm3: randomBytes(32).toString("hex"),
          agencySignature: randomBytes(32).toString("base64"),
          financeSignature: randomBytes(32).toString("base64"),
        },
        { producer: "issuance" },
      ),
    ];
    if (red) {
      envelopes.push(
        createEnvelope(
          ReceiptRedFlushed,
          {
            receiptId: red.original.receiptId,
            agencyCode,
            billCode,
            number: red.original.number,
            redReceiptId: issued.receiptId,
            redBillCode: billCode,
            redNumber: issued.number,
            reason: "退款冲红",
            redFlushedAt: at.toISOString(),
          },
          { producer: "issuance" },
        ),
      );
    } else bySerial.set(bizSerialNo, issued);
    await probe.publish(envelopes.map((envelope) => ({ topic: topics.issuance, envelope })));
    return issued;
  };

  const subscription: Subscription = await probe.subscribe({
    group: `play-issuance-${randomUUID().slice(0, 8)}`,
    topics: [topics.payment],
    handler: async (m) => {
      const e = m.envelope;
      const d = e.data as Record<string, unknown>;
      const agencyCode = String(d.agencyCode);
      const serial = String(d.bizSerialNo);
      if (e.type === "payment.PaymentCompleted") {
        if (skip.has(serial) || bySerial.has(serial)) return;
        await issue(agencyCode, serial, Number(d.totalFen) + (wrongBy.get(serial) ?? 0), options.clock());
      } else if (e.type === "payment.RefundCompleted" && d.kind === "REFUND") {
        const sequence = Number(d.sequence);
        const replaced = bySerial.get(sequence === 1 ? serial : `${serial}-R${sequence - 1}`);
        if (!replaced) throw new Error(`no receipt yet for ${serial}`); // the bus tries again
        const at = options.clock();
        await issue(agencyCode, `red:${replaced.number}`, -replaced.totalFen, at, { original: replaced });
        if (Number(d.remainingFen) > 0)
          await issue(agencyCode, `${serial}-R${sequence}`, Number(d.remainingFen), at);
      }
    },
  });

  return {
    skip,
    wrongBy,
    receiptOf: (s) => bySerial.get(s),
    issueForeign: (s, totalFen, at) => issue(options.agencyCode, s, totalFen, at),
    async redFlushWithoutRefund(s, at) {
      const original = bySerial.get(s);
      if (!original) throw new Error(`no receipt for ${s}`);
      return issue(options.agencyCode, `red:${original.number}`, -original.totalFen, at, { original });
    },
    stop: () => subscription.stop(),
  };
}
