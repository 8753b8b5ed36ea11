import type { SqlExecutor } from "@piaoju/persistence";
import type { Movement } from "../../domain/ledger.ts";

/** The bucket of the daily tallies a receipt counts in: not yet supervised, formal, or voided. */
export type Tally = "PENDING" | "FORMAL" | "VOIDED";

/** What the daily tallies of a receipt are keyed by, and what it adds to them. */
export interface ReceiptKey {
  id: string;
  agency_code: string;
  issue_day: string;
  issuing_point_code: string;
  bill_code: string;
  handling_person: string;
  kind: string;
  tally: Tally;
  total_fen: string;
  /** Its lines' amounts summed per income item (a receipt counts once per item it has). */
  items: ReadonlyMap<string, bigint>;
}

/** A receipt row first seen in this batch: written at the flush, with the batch's later events applied to it. */
export interface PendingReceipt {
  row: {
    id: string;
    agencyCode: string;
    issuingPointCode: string;
    billCode: string;
    number: string;
    checkCode: string;
    kind: string;
    originalReceiptId: string | null;
    bizSerialNo: string;
    totalFen: string;
    payerType: number;
    payerSealedHex: string;
    payerNameDigest: string;
    payerCodeDigest: string;
    handlingPerson: string;
    issuedAt: string;
    issueDay: string;
    status: string;
    agencySignedAt: string | null;
    supervisedAt: string | null;
    voidedAt: string | null;
    voidDay: string | null;
    voidReason: string | null;
  };
  lines: ReadonlyArray<{ itemCode: string; itemName: string; quantity: string; amountFen: bigint }>;
  key: ReceiptKey;
  /** The tally changes it went through in this batch, its own +1 first; counted only if the row is new. */
  tallyOps: Array<{ tally: Tally; sign: 1 | -1 }>;
  /** Events of this batch after the one that made it (a conflict then cannot be settled in memory). */
  laterEvents: number;
}

/** Thrown when a batch cannot be settled in memory: the bus then applies its events one at a time. */
export class ApplyOneByOne extends Error {
  constructor(why: string) {
    super(`reporting batch applied one event at a time: ${why}`);
    this.name = "ApplyOneByOne";
  }
}

interface Counter {
  cols: readonly string[];
  receipts: number;
  amount: bigint;
}

/**
 * One batch of events, applied in one transaction (group commit). The daily tallies (issued per
 * day/point/bill kind/clerk/kind/tally, per income item, and 领用存 movements) are folded here
 * and written at the end, one upsert row per key, each table in one statement; receipts first
 * seen in the batch are written at the end too, as the batch's later events left them.
 * Zero deltas are written like any other, so the rows that exist do not depend on batch size.
 */
export class ProjectionBatch {
  private readonly daily = new Map<string, Counter>();
  private readonly itemDaily = new Map<string, Counter>();
  private readonly movements = new Map<string, Counter>();
  private readonly incomeItems = new Map<string, readonly [string, string, string]>();
  /** Receipts read (locked) or made in this batch, by id. */
  readonly keys = new Map<string, ReceiptKey>();
  readonly pending = new Map<string, PendingReceipt>();
  /** How many events of the batch have been applied (1 for a batch of one). */
  events = 0;

  /** Adds (sign 1) or takes away (−1) a receipt in its day's tallies of `tally`, per item too. */
  count(key: ReceiptKey, tally: Tally, sign: 1 | -1): void {
    const base = [
      key.agency_code,
      key.issue_day,
      key.issuing_point_code,
      key.bill_code,
      key.handling_person,
      key.kind,
      tally,
    ];
    add(this.daily, base, sign, BigInt(sign) * BigInt(key.total_fen));
    for (const [item, amount] of key.items) add(this.itemDaily, [...base, item], sign, BigInt(sign) * amount);
  }

  /** A 领用存 movement on a business day: holder "" is the agency's own stock, else an issuing point. */
  addMovement(
    at: { agencyCode: string; billCode: string; holder: string; day: string },
    movement: Movement,
    quantity: number,
  ): void {
    add(this.movements, [at.agencyCode, at.billCode, at.holder, at.day, movement], 0, BigInt(quantity));
  }

  incomeItem(agencyCode: string, code: string, name: string): void {
    this.incomeItems.set(`${agencyCode}\u0000${code}`, [agencyCode, code, name]);
  }

  /** Writes the receipts made in this batch (before any statement that may touch them). */
  async writeReceipts(sql: SqlExecutor): Promise<void> {
    if (this.pending.size === 0) return;
    const pending = [...this.pending.values()];
    this.pending.clear();
    const r = pending.map((p) => p.row);
    const inserted = await sql.query<{ id: string }>(
      `INSERT INTO receipt (id, agency_code, issuing_point_code, bill_code, number, check_code, kind,
         original_receipt_id, biz_serial_no, total_fen, payer_type, payer_sealed, payer_name_digest, payer_code_digest,
         handling_person, issued_at, issue_day, status, tally, agency_signed_at, supervised_at, voided_at, void_day,
         void_reason)
       SELECT id, a, ip, b, n::bigint, cc, k, o, bz, t::bigint, pt, decode(ps, 'hex'), pn, pc, hp, ia::timestamptz,
              d::date, st, tl, asa::timestamptz, sa::timestamptz, va::timestamptz, vd::date, vr
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[],
                     $9::text[], $10::text[], $11::int[], $12::text[], $13::text[], $14::text[], $15::text[],
                     $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[],
                     $23::text[], $24::text[])
           AS x(id, a, ip, b, n, cc, k, o, bz, t, pt, ps, pn, pc, hp, ia, d, st, tl, asa, sa, va, vd, vr)
       ON CONFLICT (id) DO NOTHING
       RETURNING id`,
      [
        r.map((x) => x.id),
        r.map((x) => x.agencyCode),
        r.map((x) => x.issuingPointCode),
        r.map((x) => x.billCode),
        r.map((x) => x.number),
        r.map((x) => x.checkCode),
        r.map((x) => x.kind),
        r.map((x) => x.originalReceiptId),
        r.map((x) => x.bizSerialNo),
        r.map((x) => x.totalFen),
        r.map((x) => x.payerType),
        r.map((x) => x.payerSealedHex),
        r.map((x) => x.payerNameDigest),
        r.map((x) => x.payerCodeDigest),
        r.map((x) => x.handlingPerson),
        r.map((x) => x.issuedAt),
        r.map((x) => x.issueDay),
        r.map((x) => x.status),
        pending.map((p) => p.key.tally),
        r.map((x) => x.agencySignedAt),
        r.map((x) => x.supervisedAt),
        r.map((x) => x.voidedAt),
        r.map((x) => x.voidDay),
        r.map((x) => x.voidReason),
      ],
    );
    const fresh = new Set(inserted.map((x) => x.id));
    const made = pending.filter((p) => fresh.has(p.row.id));
    for (const p of pending) {
      if (fresh.has(p.row.id)) continue;
      // Already there (the request came twice under two event ids): as a lone event it adds
      // nothing; with later events of this batch applied to the copy, start again one by one.
      if (p.laterEvents > 0) throw new ApplyOneByOne(`receipt ${p.row.id} was already projected`);
      this.keys.delete(p.row.id);
    }
    const lines = made.flatMap((p) => p.lines.map((l, i) => ({ id: p.row.id, no: i + 1, ...l })));
    if (lines.length > 0) {
      await sql.query(
        `INSERT INTO receipt_line (receipt_id, line_no, item_code, item_name, quantity, amount_fen)
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[])`,
        [
          lines.map((l) => l.id),
          lines.map((l) => l.no),
          lines.map((l) => l.itemCode),
          lines.map((l) => l.itemName),
          lines.map((l) => l.quantity),
          lines.map((l) => String(l.amountFen)),
        ],
      );
    }
    for (const p of made) {
      for (const l of p.lines) this.incomeItem(p.row.agencyCode, l.itemCode, l.itemName);
      for (const op of p.tallyOps) this.count(p.key, op.tally, op.sign);
      this.addMovement(
        {
          agencyCode: p.row.agencyCode,
          billCode: p.row.billCode,
          holder: p.row.issuingPointCode,
          day: p.row.issueDay,
        },
        "USED",
        1,
      );
    }
  }

  /** The end of the batch: receipts, then every folded tally, rows taken in key order. */
  async flush(sql: SqlExecutor): Promise<void> {
    await this.writeReceipts(sql);
    if (this.incomeItems.size > 0) {
      const items = [...this.incomeItems.values()].sort(byCols);
      await sql.query(
        // Names already there as they are are left out before the upsert: an upsert locks the row
        // even when it changes nothing, and every batch names the same few items.
        `INSERT INTO income_item (agency_code, code, name)
         SELECT a, c, n FROM unnest($1::text[], $2::text[], $3::text[]) AS x(a, c, n)
          WHERE NOT EXISTS (SELECT 1 FROM income_item i WHERE i.agency_code = x.a AND i.code = x.c AND i.name = x.n)
         ON CONFLICT (agency_code, code) DO UPDATE SET name = EXCLUDED.name
           WHERE income_item.name IS DISTINCT FROM EXCLUDED.name`,
        [items.map((i) => i[0]), items.map((i) => i[1]), items.map((i) => i[2])],
      );
    }
    if (this.daily.size > 0) {
      const rows = sorted(this.daily);
      await sql.query(
        `INSERT INTO issued_daily (agency_code, day, issuing_point_code, bill_code, handling_person, kind, tally,
           receipts, amount_fen)
         SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                              $8::int[], $9::bigint[])
         ON CONFLICT (agency_code, day, issuing_point_code, bill_code, handling_person, kind, tally) DO UPDATE
           SET receipts = issued_daily.receipts + EXCLUDED.receipts,
               amount_fen = issued_daily.amount_fen + EXCLUDED.amount_fen`,
        [...columns(rows, 7), rows.map((r) => r.receipts), rows.map((r) => String(r.amount))],
      );
    }
    if (this.itemDaily.size > 0) {
      const rows = sorted(this.itemDaily);
      await sql.query(
        `INSERT INTO issued_item_daily (agency_code, day, issuing_point_code, bill_code, handling_person, kind, tally,
           item_code, receipts, amount_fen)
         SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                              $8::text[], $9::int[], $10::bigint[])
         ON CONFLICT (agency_code, day, item_code, issuing_point_code, bill_code, handling_person, kind, tally)
         DO UPDATE SET receipts = issued_item_daily.receipts + EXCLUDED.receipts,
                       amount_fen = issued_item_daily.amount_fen + EXCLUDED.amount_fen`,
        [...columns(rows, 8), rows.map((r) => r.receipts), rows.map((r) => String(r.amount))],
      );
    }
    if (this.movements.size > 0) {
      const rows = sorted(this.movements);
      await sql.query(
        `INSERT INTO stock_daily (agency_code, bill_code, holder, day, movement, quantity)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::text[], $6::bigint[])
         ON CONFLICT (agency_code, bill_code, holder, day, movement) DO UPDATE
           SET quantity = stock_daily.quantity + EXCLUDED.quantity`,
        [...columns(rows, 5), rows.map((r) => String(r.amount))],
      );
    }
    this.daily.clear();
    this.itemDaily.clear();
    this.movements.clear();
    this.incomeItems.clear();
  }
}

function add(map: Map<string, Counter>, cols: readonly string[], receipts: number, amount: bigint): void {
  const id = cols.join("\u0000");
  const c = map.get(id);
  if (c) {
    c.receipts += receipts;
    c.amount += amount;
  } else map.set(id, { cols, receipts, amount });
}

const byCols = (a: readonly string[], b: readonly string[]): number => {
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! < b[i]! ? -1 : a[i]! > b[i]! ? 1 : 0;
    if (d !== 0) return d;
  }
  return 0;
};

/** Key order, so concurrent batches take the rows' locks alike (no deadlock between partitions). */
function sorted(map: Map<string, Counter>): Counter[] {
  return [...map.values()].sort((a, b) => byCols(a.cols, b.cols));
}

function columns(rows: readonly Counter[], n: number): string[][] {
  return Array.from({ length: n }, (_, i) => rows.map((r) => r.cols[i]!));
}
