import type { CatalogEvent } from "@piaoju/contracts";
import type { SqlExecutor } from "@piaoju/persistence";

type Of<T extends CatalogEvent["type"]> = Extract<CatalogEvent, { type: T }>["data"];

/** The agency's registered name, printed on every report. */
export async function agencyProfileSynced(
  sql: SqlExecutor,
  d: Of<"finance.AgencyProfileSynced">,
): Promise<void> {
  await sql.query(
    `INSERT INTO agency (code, name, synced_at) VALUES ($1, $2, $3)
     ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, synced_at = EXCLUDED.synced_at
       WHERE agency.synced_at <= EXCLUDED.synced_at`,
    [d.agencyCode, d.name, d.syncedAt],
  );
}

/** 对账: the newest reconciliation of a day replaces an older one, its differences with it. */
export async function reconciliationCompleted(
  sql: SqlExecutor,
  d: Of<"finance.ReconciliationCompleted">,
): Promise<void> {
  const [kept] = await sql.query<{ report_id: string }>(
    `INSERT INTO reconciliation (agency_code, day, report_id, reconciled_at, summary, differences_omitted)
     VALUES ($1,$2,$3,$4,$5::jsonb,$6)
     ON CONFLICT (agency_code, day) DO UPDATE SET report_id = EXCLUDED.report_id, reconciled_at = EXCLUDED.reconciled_at,
       summary = EXCLUDED.summary, differences_omitted = EXCLUDED.differences_omitted
       WHERE reconciliation.reconciled_at < EXCLUDED.reconciled_at
     RETURNING report_id`,
    [d.agencyCode, d.day, d.reportId, d.reconciledAt, JSON.stringify(d.summary), d.differencesOmitted],
  );
  if (!kept) return; // an older report arrived after a newer one
  await sql.query(`DELETE FROM reconciliation_difference WHERE agency_code = $1 AND day = $2`, [
    d.agencyCode,
    d.day,
  ]);
  if (d.differences.length === 0) return;
  await sql.query(
    `INSERT INTO reconciliation_difference (agency_code, day, seq, kind, bill_code, number, receipt_id, finance_ref,
       explanation)
     SELECT $1, $2::date, s, k, b, n, r, f, e
       FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
         AS t(s, k, b, n, r, f, e)`,
    [
      d.agencyCode,
      d.day,
      d.differences.map((_, i) => i + 1),
      d.differences.map((x) => x.kind),
      d.differences.map((x) => x.billCode),
      d.differences.map((x) => x.number),
      d.differences.map((x) => x.receiptId ?? null),
      d.differences.map((x) => x.financeRef ?? null),
      d.differences.map((x) => x.explanation),
    ],
  );
}
