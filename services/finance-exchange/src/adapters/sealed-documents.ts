import type { Database } from "@piaoju/persistence";
import type { Sealer } from "@piaoju/sealing";

/**
 * The receipt documents finance-exchange keeps (the upload queue, the archive of what finance
 * supervised) name the payer, so they are sealed at rest (@piaoju/sealing, docs/adr/0015) like
 * issuance's copy: the `document` column holds the sealed bytes in base64 where it held the
 * document's base64. The rest of the service reads and sends the document as it was: it is
 * opened here on the way out of a table and sealed here on the way in.
 *
 * Rows written before sealing hold the document in clear (its bytes start with `<`, a sealed
 * value's with `PJSL`); they open as they are, and `resealStale` seals them on start.
 */
const PJSL = Buffer.from("PJSL", "latin1");

export function queuedContext(receiptId: string): string {
  return `finance-exchange/supervision/${receiptId}/document`;
}
export function archivedContext(contentSm3: string): string {
  return `finance-exchange/archive/${contentSm3}/document`;
}

export class SealedDocuments {
  constructor(private readonly sealer: Sealer) {}

  /** The stored form of a document (base64 in, base64 out). */
  seal(context: string, documentBase64: string): string {
    return this.sealer.seal(context, Buffer.from(documentBase64, "base64")).toString("base64");
  }

  /** The document's base64 again, from its stored form (sealed, or in clear from before sealing). */
  open(context: string, stored: string): string {
    const bytes = Buffer.from(stored, "base64");
    if (!isSealed(bytes)) return stored;
    return this.sealer.unseal(context, bytes).toString("base64");
  }

  /** Whether a stored form is sealed under the current key (nothing to do for it). */
  current(stored: string): boolean {
    const bytes = Buffer.from(stored, "base64");
    if (!isSealed(bytes)) return false;
    const info = this.sealer.inspect(bytes);
    return info.format === "v1" && info.current;
  }
}

function isSealed(bytes: Buffer): boolean {
  return bytes.length > 4 && bytes.subarray(0, 4).equals(PJSL);
}

/**
 * Seals, under the current key, the documents stored in clear (rows from before sealing) or under
 * a key since rotated, in the upload queue and in the archive. Returns how many it sealed again.
 */
export async function resealStale(db: Database, documents: SealedDocuments): Promise<number> {
  let count = 0;
  const tables = [
    { table: "supervision_item", key: "receipt_id", context: queuedContext },
    { table: "archived_receipt", key: "content_sm3", context: archivedContext },
  ] as const;
  for (const { table, key, context } of tables) {
    let after = "";
    for (;;) {
      const rows = await db.query<{ id: string; document: string }>(
        `SELECT ${key}::text AS id, document FROM ${table} WHERE ${key}::text > $1 ORDER BY ${key}::text LIMIT 200`,
        [after],
      );
      if (rows.length === 0) break;
      after = rows.at(-1)?.id ?? after;
      for (const r of rows) {
        if (documents.current(r.document)) continue;
        const clear = documents.open(context(r.id), r.document);
        // Only if nobody changed it meanwhile (another replica sealing it too).
        await db.query(`UPDATE ${table} SET document = $2 WHERE ${key}::text = $1 AND document = $3`, [
          r.id,
          documents.seal(context(r.id), clear),
          r.document,
        ]);
        count++;
      }
    }
  }
  return count;
}
