import type { Database, SqlExecutor } from "@piaoju/persistence";

const STATE_ID = "projection";

export async function ensureProjectionState(db: Database): Promise<void> {
  await db.query(`INSERT INTO projection_state (id, generation) VALUES ($1, 1) ON CONFLICT (id) DO NOTHING`, [
    STATE_ID,
  ]);
}

/** The live generation of the read models. */
export async function currentGeneration(sql: SqlExecutor): Promise<number> {
  const [row] = await sql.query<{ generation: number }>(
    `SELECT generation FROM projection_state WHERE id = $1`,
    [STATE_ID],
  );
  if (!row) throw new Error("projection_state has no row: ensureProjectionState() first");
  return row.generation;
}

/** Every read model table: what a rebuild empties. The names and the audit log stay. */
export const readModelTables = [
  "projection_checkpoint",
  "agency",
  "bill_kind",
  "issuing_point",
  "income_item",
  "receipt_line",
  "receipt",
  "issued_daily",
  "issued_item_daily",
  "stock_daily",
  "segment",
  "distribution",
  "stock_removal",
  "write_off",
  "reconciliation_difference",
  "reconciliation",
  "payment_collected",
  "payment_refunded",
  "channel_reconciliation",
  "channel_difference",
  "clearing_instruction",
] as const;

/**
 * Retires the live generation: under an exclusive lock on the state (consumers read it first in
 * each transaction, so none is half-way), empties the read models and the retired group's inbox,
 * and starts the next generation. Returns it.
 */
export async function nextGeneration(
  db: Database,
  audit: { actor: string; at: Date },
  retiredGroup: (generation: number) => string,
): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query(`LOCK TABLE projection_state IN ACCESS EXCLUSIVE MODE`);
    const retired = await currentGeneration(tx);
    await tx.query(`TRUNCATE ${readModelTables.join(", ")}`);
    await tx.query(`DELETE FROM piaoju_inbox WHERE consumer_group = $1`, [retiredGroup(retired)]);
    const next = retired + 1;
    await tx.query(
      `UPDATE projection_state SET generation = $2, rebuilt_at = $3, rebuilt_by = $4 WHERE id = $1`,
      [STATE_ID, next, audit.at, audit.actor],
    );
    await tx.query(
      `INSERT INTO audit_log (actor, action, subject, detail, occurred_at) VALUES ($1, 'read-models.rebuild', $2, $3::jsonb, $4)`,
      [audit.actor, `generation:${next}`, JSON.stringify({ retired, next }), audit.at],
    );
    return next;
  });
}
