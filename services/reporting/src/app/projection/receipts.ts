import type { CatalogEvent } from "@piaoju/contracts";
import { businessDay } from "@piaoju/locale";
import type { SqlExecutor } from "@piaoju/persistence";
import type { PayerProtection } from "../../adapters/payer-protection.ts";
import { type DocumentLine, readReceiptDocument } from "../../domain/receipt-document.ts";
import { addMovement } from "./stock.ts";

type Of<T extends CatalogEvent["type"]> = Extract<CatalogEvent, { type: T }>["data"];
/** The bucket of the daily tallies a receipt counts in: not yet supervised, formal, or voided. */
export type Tally = "PENDING" | "FORMAL" | "VOIDED";

interface ReceiptKey {
  id: string;
  agency_code: string;
  issue_day: string;
  issuing_point_code: string;
  bill_code: string;
  handling_person: string;
  kind: string;
  tally: Tally;
  total_fen: string;
}

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
export async function receiptRequested(
  sql: SqlExecutor,
  protection: PayerProtection,
  d: Of<"issuance.ReceiptRequested">,
): Promise<void> {
  const doc = readReceiptDocument(Buffer.from(d.document, "base64").toString("utf8"));
  await insertReceipt(sql, protection, {
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
  protection: PayerProtection,
  d: Of<"issuance.ReceiptIssued">,
): Promise<void> {
  const key = await keyOf(sql, d.receiptId);
  if (!key) {
    await insertReceipt(sql, protection, {
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
  await sql.query(
    `UPDATE receipt SET supervised_at = $2,
       status = CASE WHEN status IN ('REQUESTED', 'AGENCY_SIGNED') THEN 'ISSUED' ELSE status END
     WHERE id = $1`,
    [d.receiptId, d.supervisedAt],
  );
  if (key.tally === "PENDING") await moveTally(sql, key, "FORMAL");
}

export async function receiptSubmitted(
  sql: SqlExecutor,
  d: Of<"issuance.ReceiptSubmittedForSupervision">,
): Promise<void> {
  await sql.query(
    `UPDATE receipt SET agency_signed_at = $2,
       status = CASE WHEN status = 'REQUESTED' THEN 'AGENCY_SIGNED' ELSE status END
     WHERE id = $1`,
    [d.receiptId, d.issuedAt],
  );
}

/** 作废: the receipt moves to the VOIDED tally; its number moves from used to voided, as stock counts it. */
export async function receiptVoided(sql: SqlExecutor, d: Of<"issuance.ReceiptVoided">): Promise<void> {
  const day = businessDay(new Date(d.voidedAt));
  const key = await keyOf(sql, d.receiptId);
  await sql.query(
    `UPDATE receipt SET status = 'VOIDED', voided_at = $2, void_day = $3, void_reason = $4 WHERE id = $1`,
    [d.receiptId, d.voidedAt, day, d.reason],
  );
  if (key && key.tally !== "VOIDED") await moveTally(sql, key, "VOIDED");
  const at = { agencyCode: d.agencyCode, billCode: d.billCode, holder: d.issuingPointCode, day };
  await addMovement(sql, at, "USED", -1);
  await addMovement(sql, at, "VOIDED", 1);
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

async function insertReceipt(sql: SqlExecutor, protection: PayerProtection, r: NewReceipt): Promise<void> {
  const tally: Tally = r.status === "ISSUED" ? "FORMAL" : "PENDING";
  const issueDay = businessDay(new Date(r.issuedAt));
  const [key] = await sql.query<ReceiptKey>(
    `INSERT INTO receipt (id, agency_code, issuing_point_code, bill_code, number, check_code, kind, original_receipt_id,
       biz_serial_no, total_fen, payer_type, payer_sealed, payer_name_digest, payer_code_digest, handling_person,
       issued_at, issue_day, status, tally, supervised_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)
     ON CONFLICT (id) DO NOTHING
     RETURNING id, agency_code, to_char(issue_day, 'YYYY-MM-DD') AS issue_day, issuing_point_code, bill_code,
       handling_person, kind, tally, total_fen`,
    [
      r.id,
      r.agencyCode,
      r.issuingPointCode,
      r.billCode,
      r.number,
      r.checkCode,
      r.kind,
      r.originalReceiptId ?? null,
      r.bizSerialNo,
      String(r.totalFen),
      r.payer.type,
      protection.seal({ name: r.payer.name, code: r.payer.code }),
      protection.digest("name", r.payer.name),
      protection.digest("code", r.payer.code),
      r.handlingPerson,
      r.issuedAt,
      issueDay,
      r.status,
      tally,
      r.supervisedAt ?? null,
    ],
  );
  if (!key) return;
  if (r.lines.length > 0) {
    await sql.query(
      `INSERT INTO receipt_line (receipt_id, line_no, item_code, item_name, quantity, amount_fen)
       SELECT $1, n, c, nm, q, a::bigint
         FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(n, c, nm, q, a)`,
      [
        r.id,
        r.lines.map((_, i) => i + 1),
        r.lines.map((l) => l.itemCode),
        r.lines.map((l) => l.itemName),
        r.lines.map((l) => l.quantity),
        r.lines.map((l) => String(l.amountFen)),
      ],
    );
    const names = new Map(r.lines.map((l) => [l.itemCode, l.itemName]));
    await sql.query(
      `INSERT INTO income_item (agency_code, code, name)
       SELECT $1, c, n FROM unnest($2::text[], $3::text[]) AS t(c, n) ORDER BY c
       ON CONFLICT (agency_code, code) DO UPDATE SET name = EXCLUDED.name
         WHERE income_item.name IS DISTINCT FROM EXCLUDED.name`,
      [r.agencyCode, [...names.keys()], [...names.values()]],
    );
  }
  await countIn(sql, key, tally, 1);
  const at = { agencyCode: r.agencyCode, billCode: r.billCode, holder: r.issuingPointCode, day: issueDay };
  await addMovement(sql, at, "USED", 1);
}

async function keyOf(sql: SqlExecutor, id: string): Promise<ReceiptKey | undefined> {
  const [row] = await sql.query<ReceiptKey>(
    `SELECT id, agency_code, to_char(issue_day, 'YYYY-MM-DD') AS issue_day, issuing_point_code, bill_code,
       handling_person, kind, tally, total_fen FROM receipt WHERE id = $1 FOR UPDATE`,
    [id],
  );
  return row;
}

async function moveTally(sql: SqlExecutor, key: ReceiptKey, to: Tally): Promise<void> {
  await count(
    sql,
    key,
    [
      { tally: key.tally, sign: -1 },
      { tally: to, sign: 1 },
    ],
    to,
  );
}

async function countIn(sql: SqlExecutor, key: ReceiptKey, tally: Tally, sign: 1 | -1): Promise<void> {
  await count(sql, key, [{ tally, sign }]);
}

/**
 * Adds (or takes away) the receipt in the daily tallies of its day, point, bill kind, clerk and
 * kind, and per income item (its lines of that item summed), and records its new tally: one
 * statement, rows taken in key order so concurrent receipts lock alike.
 */
async function count(
  sql: SqlExecutor,
  key: ReceiptKey,
  changes: ReadonlyArray<{ tally: Tally; sign: 1 | -1 }>,
  retally?: Tally,
): Promise<void> {
  await sql.query(
    `WITH m(tally, sign) AS (SELECT * FROM unnest($7::text[], $8::int[])),
     daily AS (
       INSERT INTO issued_daily (agency_code, day, issuing_point_code, bill_code, handling_person, kind, tally,
         receipts, amount_fen)
       SELECT $1, $2::date, $3, $4, $5, $6, m.tally, m.sign, m.sign * $9::bigint FROM m ORDER BY m.tally
       ON CONFLICT (agency_code, day, issuing_point_code, bill_code, handling_person, kind, tally) DO UPDATE
         SET receipts = issued_daily.receipts + EXCLUDED.receipts,
             amount_fen = issued_daily.amount_fen + EXCLUDED.amount_fen
     ),
     retally AS (UPDATE receipt SET tally = $11 WHERE id = $10 AND $11::text IS NOT NULL)
     INSERT INTO issued_item_daily (agency_code, day, issuing_point_code, bill_code, handling_person, kind, tally,
       item_code, receipts, amount_fen)
     SELECT $1, $2::date, $3, $4, $5, $6, m.tally, l.item_code, m.sign, m.sign * sum(l.amount_fen)
       FROM receipt_line l CROSS JOIN m WHERE l.receipt_id = $10
      GROUP BY m.tally, m.sign, l.item_code ORDER BY l.item_code, m.tally
     ON CONFLICT (agency_code, day, item_code, issuing_point_code, bill_code, handling_person, kind, tally) DO UPDATE
       SET receipts = issued_item_daily.receipts + EXCLUDED.receipts,
           amount_fen = issued_item_daily.amount_fen + EXCLUDED.amount_fen`,
    [
      key.agency_code,
      key.issue_day,
      key.issuing_point_code,
      key.bill_code,
      key.handling_person,
      key.kind,
      changes.map((c) => c.tally),
      changes.map((c) => c.sign),
      key.total_fen,
      key.id,
      retally ?? null,
    ],
  );
}
