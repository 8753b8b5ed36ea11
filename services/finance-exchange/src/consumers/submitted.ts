import { type Bus, consumeEvents, type Subscription } from "@piaoju/bus";
import { topics } from "@piaoju/contracts";
import type { Database, SqlExecutor, UnitOfWork } from "@piaoju/persistence";
import type { FinanceExchange } from "../app/exchange.ts";

export const SUPERVISION_INTAKE_GROUP = "finance-exchange.supervision-intake";

/**
 * Receipts the agency signed (issuance.ReceiptSubmittedForSupervision) join the durable upload
 * queue, exactly once per event (inbox) and once per receipt (primary key). What later happens
 * to a supervised receipt (paper exchange, red-flush, void) becomes a status update for finance.
 */
export function consumeSubmittedReceipts(w: {
  bus: Bus;
  db: Database;
  exchange: FinanceExchange;
  clock: () => Date;
  published: () => void;
  /** Called after an intake commits: the pump batches at once instead of at its next tick. */
  queued: () => void;
}): Promise<Subscription> {
  const unitOfWork: UnitOfWork<SqlExecutor> = (work) => w.db.transaction((tx) => work(tx, tx));
  return consumeEvents<SqlExecutor>(w.bus, unitOfWork, {
    group: SUPERVISION_INTAKE_GROUP,
    types: [
      "issuance.ReceiptSubmittedForSupervision",
      "issuance.ReceiptPaperExchanged",
      "issuance.ReceiptRedFlushed",
      "issuance.ReceiptVoided",
    ],
    topics: [topics.issuance],
    producer: "finance-exchange",
    clock: w.clock,
    published: () => {
      w.published();
      w.queued();
    },
    handle: async (event, tx) => {
      if (event.type === "issuance.ReceiptPaperExchanged" && !event.data.returned) {
        const d = event.data;
        await w.exchange.reportStatus(tx, event.id, { ...ref(d), status: "EXCHANGED", at: d.at });
        return;
      }
      if (event.type === "issuance.ReceiptRedFlushed") {
        const d = event.data;
        await w.exchange.reportStatus(tx, event.id, {
          ...ref(d),
          status: "RED_FLUSHED",
          at: d.redFlushedAt,
          reason: d.reason,
        });
        return;
      }
      if (event.type === "issuance.ReceiptVoided") {
        const d = event.data;
        await w.exchange.reportStatus(tx, event.id, {
          ...ref(d),
          status: "VOIDED",
          at: d.voidedAt,
          reason: d.reason,
        });
        return;
      }
      if (event.type !== "issuance.ReceiptSubmittedForSupervision") return;
      const d = event.data;
      await w.exchange.enqueueForSupervision(tx, {
        receiptId: d.receiptId,
        agencyCode: d.agencyCode,
        billCode: d.billCode,
        number: d.number,
        kind: d.kind,
        ...(d.originalReceiptId ? { originalReceiptId: d.originalReceiptId } : {}),
        issuingPointCode: d.issuingPointCode,
        checkCode: d.checkCode,
        totalFen: d.totalFen,
        issuedAt: d.issuedAt,
        document: d.document,
        documentSm3: d.documentSm3,
        agencySignature: d.agencySignature,
      });
    },
  });
}

function ref(d: { agencyCode: string; billCode: string; number: string }) {
  return { agencyCode: d.agencyCode, billCode: d.billCode, number: d.number };
}
