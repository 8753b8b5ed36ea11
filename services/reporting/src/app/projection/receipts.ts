import type { CatalogEvent } from "@piaoju/contracts";
import { businessDay } from "@piaoju/locale";
import type { SqlExecutor } from "@piaoju/persistence";
import type { PayerProtection } from "../../adapters/payer-protection.ts";
import { type DocumentLine, readReceiptDocument } from "../../domain/receipt-document.ts";
import type { PendingReceipt, ProjectionBatch, ReceiptKey, Tally } from "./batch.ts";

type Of<T extends CatalogEvent["type"]> = Extract<CatalogEvent, { type: T }>["data"];

export type { Tally } from "./batch.ts";

interface NewReceipt {
  id: string;
  agencyCode: string;
  issuingPointCode: string;
  billCode: string;
  number: string;
  checkCode: string;
  kind: "blue" | "red";
  originalReceiptId?: string | undefined;
  bizSerialNo: string;
  totalFen: number;
  payer: { type: number; code: string; name: string };
  handlingPerson: string;
  issuedAt: string;
  lines: DocumentLine[];
  status: "REQUESTED" | "ISSUED";
  supervisedAt?: string | undefined;
}

/** issuance.ReceiptRequested: the receipt appears (pending); its number counts as used at its point. */
export function receiptRequested(
  batch: ProjectionBatch,
  protection: PayerProtection,
  d: Of<"issuance.ReceiptRequested">,
): void {
  const doc = readReceiptDocument(Buffer.from(d.document, "base64").toString("utf8"));
  newReceipt(batch, protection, {
    id: d.receiptId,
    agencyCode: d.agencyCode,
    issuingPointCode: d.issuingPointCode,
    billCode: d.billCode,
    number: d.number,
    checkCode: d.checkCode,
    kind: d.kind ?? "blue",
    originalReceiptId: d.originalReceiptId,
    bizSerialNo: d.bizSerialNo,
    totalFen: d.totalFen,
    payer: doc.payer,
    handlingPerson: doc.handlingPerson,
    issuedAt: d.issuedAt,
    lines: doc.lines,
    status: "REQUESTED",
  });
}

/**
 * issuance.ReceiptIssued: the receipt is formal. Its request came first (same partition); if
 * the topics no longer hold the request, the receipt is taken whole from this event.
 */
export async function receiptIssued(
  sql: SqlExecutor,
  batch: ProjectionBatch,
  protection: PayerProtection,
  d: Of<"issuance.ReceiptIssued">,
): Promise<void> {
  const pending = touch(batch, d.receiptId);
  if (pending) {
    const row = pending.row;
    row.supervisedAt = d.supervisedAt;
    if (row.status === "REQUESTED" || row.status === "AGENCY_SIGNED") row.status = "ISSUED";
    if (pending.key.tally === "PENDING") retally(pending, "FORMAL");
    return;
  }
  const key = await keyOf(sql, batch, d.receiptId);
  if (!key) {
    newReceipt(batch, protection, {
      id: d.receiptId,
      agencyCode: d.agencyCode,
      issuingPointCode: d.issuingPointCode,
      billCode: d.billCode,
      number: d.number,
      checkCode: d.checkCode,
      kind: d.kind,
      originalReceiptId: d.originalReceiptId,
      bizSerialNo: d.bizSerialNo,
      totalFen: d.totalFen,
      payer: d.payer,
      handlingPerson: d.handlingPerson,
      issuedAt: d.issuedAt,
      lines: d.items.map((i) => ({
        itemCode: i.itemCode,
        itemName: i.itemName,
        quantity: i.quantity,
        amountFen: BigInt(i.amountFen),
      })),
      status: "ISSUED",
      supervisedAt: d.supervisedAt,
    });
    return;
  }
  const to = key.tally === "PENDING" ? "FORMAL" : key.tally;
  await sql.query(
    `UPDATE receipt SET supervised_at = $2, tally = $3,
       status = CASE WHEN status IN ('REQUESTED', 'AGENCY_SIGNED') THEN 'ISSUED' ELSE status END
     WHERE id = $1`,
    [d.receiptId, d.supervisedAt, to],
  );
  moveTally(batch, key, to);
}

export async function receiptSubmitted(
  sql: SqlExecutor,
  batch: ProjectionBatch,
  d: Of<"issuance.ReceiptSubmittedForSupervision">,
): Promise<void> {
  const pending = touch(batch, d.receiptId);
  if (pending) {
    pending.row.agencySignedAt = d.issuedAt;
    if (pending.row.status === "REQUESTED") pending.row.status = "AGENCY_SIGNED";
    return;
  }
  await sql.query(
    `UPDATE receipt SET agency_signed_at = $2,
       status = CASE WHEN status = 'REQUESTED' THEN 'AGENCY_SIGNED' ELSE status END
     WHERE id = $1`,
    [d.receiptId, d.issuedAt],
  );
}

/** 作废: the receipt moves to the VOIDED tally; its number moves from used to voided, as stock counts it. */
export async function receiptVoided(
  sql: SqlExecutor,
  batch: ProjectionBatch,
  d: Of<"issuance.ReceiptVoided">,
): Promise<void> {
  const day = businessDay(new Date(d.voidedAt));
  const pending = touch(batch, d.receiptId);
  if (pending) {
    Object.assign(pending.row, {
      status: "VOIDED",
      voidedAt: d.voidedAt,
      voidDay: day,
      voidReason: d.reason,
    });
    if (pending.key.tally !== "VOIDED") retally(pending, "VOIDED");
  } else {
    const key = await keyOf(sql, batch, d.receiptId);
    await sql.query(
      `UPDATE receipt SET status = 'VOIDED', voided_at = $2, void_day = $3, void_reason = $4, tally = 'VOIDED'
       WHERE id = $1`,
      [d.receiptId, d.voidedAt, day, d.reason],
    );
    if (key && key.tally !== "VOIDED") moveTally(batch, key, "VOIDED");
  }
  const at = { agencyCode: d.agencyCode, billCode: d.billCode, holder: d.issuingPointCode, day };
  batch.addMovement(at, "USED", -1);
  batch.addMovement(at, "VOIDED", 1);
}

/** 冲红: the original is red-flushed by its red receipt (a receipt of its own, counted on its own day). */
export async function receiptRedFlushed(
  sql: SqlExecutor,
  d: Of<"issuance.ReceiptRedFlushed">,
): Promise<void> {
  await sql.query(
    `UPDATE receipt SET status = 'RED_FLUSHED', red_receipt_id = $2, red_flushed_at = $3, red_flush_reason = $4
     WHERE id = $1`,
    [d.receiptId, d.redReceiptId, d.redFlushedAt, d.reason],
  );
}

/** 换开, or the paper taken back (the e-receipt is valid again). */
export async function paperExchanged(
  sql: SqlExecutor,
  d: Of<"issuance.ReceiptPaperExchanged">,
): Promise<void> {
  if (d.returned) {
    await sql.query(
      `UPDATE receipt SET status = 'ISSUED', paper_bill_code = NULL, paper_number = NULL, paper_exchanged_at = NULL
       WHERE id = $1 AND status = 'PAPER_EXCHANGED'`,
      [d.receiptId],
    );
    return;
  }
  await sql.query(
    `UPDATE receipt SET status = 'PAPER_EXCHANGED', paper_bill_code = $2, paper_number = $3, paper_exchanged_at = $4
     WHERE id = $1`,
    [d.receiptId, d.paperBillCode, d.paperNumber, d.at],
  );
}

export async function receiptBooked(sql: SqlExecutor, d: Of<"issuance.ReceiptBooked">): Promise<void> {
  await sql.query(`UPDATE receipt SET status = 'BOOKED', booked_at = $2 WHERE id = $1`, [
    d.receiptId,
    d.bookedAt,
  ]);
}

export async function issuingPointRegistered(
  sql: SqlExecutor,
  d: Of<"issuance.IssuingPointRegistered">,
): Promise<void> {
  await sql.query(
    `INSERT INTO issuing_point (agency_code, code, name) VALUES ($1, $2, $3)
     ON CONFLICT (agency_code, code) DO UPDATE SET name = EXCLUDED.name`,
    [d.agencyCode, d.issuingPointCode, d.name],
  );
}

/** A receipt first seen: kept in the batch, written at its end (or before a statement that may touch it). */
function newReceipt(batch: ProjectionBatch, protection: PayerProtection, r: NewReceipt): void {
  if (batch.keys.has(r.id) || batch.pending.has(r.id)) return;
  const tally: Tally = r.status === "ISSUED" ? "FORMAL" : "PENDING";
  const issueDay = businessDay(new Date(r.issuedAt));
  const items = new Map<string, bigint>();
  for (const l of r.lines) items.set(l.itemCode, (items.get(l.itemCode) ?? 0n) + l.amountFen);
  const key: ReceiptKey = {
    id: r.id,
    agency_code: r.agencyCode,
    issue_day: issueDay,
    issuing_point_code: r.issuingPointCode,
    bill_code: r.billCode,
    handling_person: r.handlingPerson,
    kind: r.kind,
    tally,
    total_fen: String(r.totalFen),
    items,
  };
  batch.keys.set(r.id, key);
  batch.pending.set(r.id, {
    row: {
      id: r.id,
      agencyCode: r.agencyCode,
      issuingPointCode: r.issuingPointCode,
      billCode: r.billCode,
      number: r.number,
      checkCode: r.checkCode,
      kind: r.kind,
      originalReceiptId: r.originalReceiptId ?? null,
      bizSerialNo: r.bizSerialNo,
      totalFen: String(r.totalFen),
      payerType: r.payer.type,
      payerSealedHex: protection.seal({ name: r.payer.name, code: r.payer.code }).toString("hex"),
      payerNameDigest: protection.digest("name", r.payer.name),
      payerCodeDigest: protection.digest("code", r.payer.code),
      handlingPerson: r.handlingPerson,
      issuedAt: r.issuedAt,
      issueDay,
      status: r.status,
      agencySignedAt: null,
      supervisedAt: r.supervisedAt ?? null,
      voidedAt: null,
      voidDay: null,
      voidReason: null,
    },
    lines: r.lines,
    key,
    tallyOps: [{ tally, sign: 1 }],
    laterEvents: 0,
  });
}

/** The receipt if it was made in this batch and not written yet, marked as touched by a later event. */
function touch(batch: ProjectionBatch, id: string): PendingReceipt | undefined {
  const p = batch.pending.get(id);
  if (p) p.laterEvents++;
  return p;
}

function retally(p: PendingReceipt, to: Tally): void {
  p.tallyOps.push({ tally: p.key.tally, sign: -1 }, { tally: to, sign: 1 });
  p.key.tally = to;
}

/** The receipt's tally key, locked for the rest of the transaction; read once per batch. */
async function keyOf(sql: SqlExecutor, batch: ProjectionBatch, id: string): Promise<ReceiptKey | undefined> {
  const known = batch.keys.get(id);
  if (known) return known;
  const [row] = await sql.query<Omit<ReceiptKey, "items"> & { lines: Array<[string, string]> }>(
    `SELECT id, agency_code, to_char(issue_day, 'YYYY-MM-DD') AS issue_day, issuing_point_code, bill_code,
       handling_person, kind, tally, total_fen::text AS total_fen,
       (SELECT coalesce(json_agg(json_build_array(l.item_code, l.amount_fen::text) ORDER BY l.line_no), '[]'::json)
          FROM receipt_line l WHERE l.receipt_id = r.id) AS lines
     FROM receipt r WHERE id = $1 FOR UPDATE`,
    [id],
  );
  if (!row) return undefined;
  const items = new Map<string, bigint>();
  for (const [code, amount] of row.lines) items.set(code, (items.get(code) ?? 0n) + BigInt(amount));
  const { lines: _, ...rest } = row;
  const key: ReceiptKey = { ...rest, items };
  batch.keys.set(id, key);
  return key;
}

/** The receipt leaves its tally for `to` (folded into the batch's counters); nothing when they are one. */
function moveTally(batch: ProjectionBatch, key: ReceiptKey, to: Tally): void {
  if (key.tally === to) return;
  batch.count(key, key.tally, -1);
  batch.count(key, to, 1);
  key.tally = to;
}
