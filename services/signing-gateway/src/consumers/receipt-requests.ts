import { type Bus, claimEvent, currentTrace, enqueueEvents, type Subscription } from "@piaoju/bus";
import {
  createEnvelope,
  decodeEvent,
  type Envelope,
  ReceiptRequested,
  ReceiptSigned,
  ReceiptSigningRefused,
  topics,
} from "@piaoju/contracts";
import type { Database } from "@piaoju/persistence";
import type { ReceiptRequestData, ReceiptSigner, SigningDecision } from "../app/receipt-signer.ts";
import { answerEventId } from "../domain/receipt-signing.ts";

export const RECEIPT_SIGNING_GROUP = "signing-gateway.receipt-requests";
const PRODUCER = "signing-gateway";

interface Wiring {
  bus: Bus;
  db: Database;
  signer: ReceiptSigner;
  clock: () => Date;
  published: () => void;
}

/**
 * issuance.ReceiptRequested → signing.ReceiptSigned (or ReceiptSigningRefused), once per receipt.
 *
 * The device call happens outside any transaction (a failover may take a second; no database
 * connection waits on it). Then one transaction claims the event in the inbox, records the
 * decision under the receipt's id and puts the answer in the outbox; a second request for the
 * same receipt (a replay, a republish) finds the receipt decided and changes nothing. The
 * answer's event id is derived from the receipt id, so even a copy would be dropped downstream.
 * Device outages throw TransientError: retried with backoff for minutes, never refused; past
 * that the request goes to the dead-letter topic, from where operators replay it.
 */
export function consumeReceiptRequests(w: Wiring): Promise<Subscription> {
  return w.bus.subscribe({
    group: RECEIPT_SIGNING_GROUP,
    topics: [topics.issuance],
    retry: { maxAttempts: 40, initialBackoffMs: 250, maxBackoffMs: 5_000 },
    handler: async (message) => {
      if (message.envelope.type !== ReceiptRequested.type) return;
      const event = decodeEvent(message.envelope);
      if (event.type !== "issuance.ReceiptRequested") return;
      if (await isDecided(w.db, event.data.receiptId)) return;
      const decision = await w.signer.decide(event.data);
      const recorded = await w.db.transaction(async (sql) => {
        if (!(await claimEvent(sql, RECEIPT_SIGNING_GROUP, message.envelope))) return false;
        const answer = answerOf(event.data, decision, w.clock());
        const rows = await sql.query(
          `INSERT INTO receipt_signature (receipt_id, agency_code, document_sm3, outcome, key_id, signature,
             certificate_sm3, refusal_code, reason, event_id, decided_at)
           VALUES ($1::uuid, $2, $3, $4::"SigningOutcome", $5, $6, $7, $8, $9, $10::uuid, $11)
           ON CONFLICT (receipt_id) DO NOTHING RETURNING receipt_id`,
          [
            event.data.receiptId,
            event.data.agencyCode,
            event.data.documentSm3,
            decision.outcome,
            decision.keyId ?? null,
            decision.outcome === "SIGNED" ? decision.signature : null,
            decision.outcome === "SIGNED" ? decision.certificateSm3 : null,
            decision.outcome === "REFUSED" ? decision.code : null,
            decision.outcome === "REFUSED" ? decision.reason : null,
            answer.id,
            w.clock(),
          ],
        );
        if (rows.length === 0) return false;
        await enqueueEvents(sql, [{ topic: topics.signing, envelope: answer }]);
        return true;
      });
      if (recorded) w.published();
    },
  });
}

async function isDecided(db: Database, receiptId: string): Promise<boolean> {
  const rows = await db.query("SELECT 1 FROM receipt_signature WHERE receipt_id = $1::uuid", [receiptId]);
  return rows.length > 0;
}

function answerOf(request: ReceiptRequestData, decision: SigningDecision, now: Date): Envelope {
  const trace = currentTrace();
  const options = {
    id: answerEventId(request.receiptId),
    producer: PRODUCER,
    occurredAt: now,
    ...(trace ? { trace } : {}),
  };
  if (decision.outcome === "SIGNED") {
    return createEnvelope(
      ReceiptSigned,
      {
        receiptId: request.receiptId,
        agencyCode: request.agencyCode,
        documentSm3: request.documentSm3,
        signature: decision.signature.toString("base64"),
        certificateSm3: decision.certificateSm3,
        keyId: decision.keyId,
        signedAt: now.toISOString(),
      },
      options,
    );
  }
  return createEnvelope(
    ReceiptSigningRefused,
    {
      receiptId: request.receiptId,
      agencyCode: request.agencyCode,
      code: decision.code,
      reason: decision.reason,
      refusedAt: now.toISOString(),
    },
    options,
  );
}
