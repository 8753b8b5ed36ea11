import type { CatalogEvent } from "@piaoju/contracts";
import { businessDay } from "@piaoju/locale";
import type { SqlExecutor } from "@piaoju/persistence";
import { AGENCY_HOLDER } from "../../domain/ledger.ts";
import type { ProjectionBatch } from "./batch.ts";

type Of<T extends CatalogEvent["type"]> = Extract<CatalogEvent, { type: T }>["data"];

export async function billKindRegistered(sql: SqlExecutor, d: Of<"stock.BillKindRegistered">): Promise<void> {
  await sql.query(
    `INSERT INTO bill_kind (agency_code, bill_code, name) VALUES ($1, $2, $3)
     ON CONFLICT (agency_code, bill_code) DO UPDATE SET name = EXCLUDED.name`,
    [d.agencyCode, d.billCode, d.name],
  );
}

export async function segmentReceived(sql: SqlExecutor, d: Of<"stock.SegmentReceived">): Promise<void> {
  await sql.query(
    `INSERT INTO segment (id, agency_code, bill_code, start_number, end_number, count, source, finance_ref)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO NOTHING`,
    [
      d.segmentId,
      d.agencyCode,
      d.billCode,
      d.startNumber,
      d.endNumber,
      d.count,
      d.source,
      d.financeRef ?? null,
    ],
  );
}

/** 入库: the numbers come into the agency's stock on the day of the confirmation. */
export async function segmentStocked(
  sql: SqlExecutor,
  batch: ProjectionBatch,
  d: Of<"stock.SegmentStocked">,
): Promise<void> {
  const day = businessDay(new Date(d.confirmedAt));
  await sql.query(
    `INSERT INTO segment (id, agency_code, bill_code, start_number, end_number, count, source,
       stocked_at, stocked_day, stocked_by)
     VALUES ($1,$2,$3,$4,$5,$6,'manual',$7,$8,$9)
     ON CONFLICT (id) DO UPDATE SET stocked_at = EXCLUDED.stocked_at, stocked_day = EXCLUDED.stocked_day,
       stocked_by = EXCLUDED.stocked_by`,
    [
      d.segmentId,
      d.agencyCode,
      d.billCode,
      d.startNumber,
      d.endNumber,
      d.count,
      d.confirmedAt,
      day,
      d.confirmedBy,
    ],
  );
  batch.addMovement(
    { agencyCode: d.agencyCode, billCode: d.billCode, holder: AGENCY_HOLDER, day },
    "STOCKED",
    d.count,
  );
}

/** 分发: the run comes into the issuing point's stock (the agency's own is unchanged: a move within it). */
export async function segmentDistributed(
  sql: SqlExecutor,
  batch: ProjectionBatch,
  d: Of<"stock.SegmentDistributed">,
): Promise<void> {
  const day = businessDay(new Date(d.distributedAt));
  await sql.query(
    `INSERT INTO distribution (id, segment_id, agency_code, bill_code, issuing_point_code, start_number, end_number,
       count, distributed_at, day, distributed_by)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
    [
      d.distributionId,
      d.segmentId,
      d.agencyCode,
      d.billCode,
      d.issuingPointCode,
      d.startNumber,
      d.endNumber,
      d.count,
      d.distributedAt,
      day,
      d.distributedBy ?? null,
    ],
  );
  batch.addMovement(
    { agencyCode: d.agencyCode, billCode: d.billCode, holder: d.issuingPointCode, day },
    "DISTRIBUTED",
    d.count,
  );
}

/** 申退 and 库存作废: undistributed numbers leave the agency's stock. */
export async function numbersRemoved(
  sql: SqlExecutor,
  batch: ProjectionBatch,
  d: Of<"stock.NumbersReturned"> | Of<"stock.NumbersVoided">,
): Promise<void> {
  const returned = "returnedAt" in d;
  const at = returned ? d.returnedAt : d.voidedAt;
  const day = businessDay(new Date(at));
  await sql.query(
    `INSERT INTO stock_removal (id, kind, segment_id, agency_code, bill_code, start_number, end_number, count,
       reason, removed_by, removed_at, day)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
    [
      d.removalId,
      returned ? "RETURNED" : "VOIDED",
      d.segmentId,
      d.agencyCode,
      d.billCode,
      d.startNumber,
      d.endNumber,
      d.count,
      returned ? null : d.reason,
      returned ? d.returnedBy : d.voidedBy,
      at,
      day,
    ],
  );
  batch.addMovement(
    { agencyCode: d.agencyCode, billCode: d.billCode, holder: AGENCY_HOLDER, day },
    returned ? "RETURNED" : "VOIDED",
    d.count,
  );
}

export async function writeOffRequested(sql: SqlExecutor, d: Of<"stock.WriteOffRequested">): Promise<void> {
  const { writeOffId, agencyCode, billCode, period, submittedBy, submittedAt, ...record } = d;
  await sql.query(
    `INSERT INTO write_off (id, agency_code, bill_code, period, record, submitted_by, submitted_at)
     VALUES ($1,$2,$3,$4,$5::jsonb,$6,$7) ON CONFLICT (id) DO NOTHING`,
    [writeOffId, agencyCode, billCode, period, JSON.stringify(record), submittedBy, submittedAt],
  );
}
