import type { Database } from "@piaoju/persistence";
import type { Sealer } from "@piaoju/sealing";
import { agencySecretContext } from "./base-data.ts";
import { identityContext } from "./identity.ts";

/**
 * Seals again, in the current format and under the current key, every value sealed before
 * @piaoju/sealing (docs/adr/0015) or under a key since rotated: finance's private keys and the
 * agencies' secrets. Run on start, before anything reads them; returns how many it sealed again.
 */
export async function resealStale(db: Database, sealer: Sealer): Promise<number> {
  return db.transaction(async (tx) => {
    let count = 0;
    const stale = (bytes: Uint8Array) => {
      const info = sealer.inspect(bytes);
      return !(info.format === "v1" && info.current);
    };
    const identities = await tx.query<{ name: string; private_key_enc: Uint8Array }>(
      "SELECT name, private_key_enc FROM identity FOR UPDATE",
    );
    for (const row of identities.filter((r) => stale(r.private_key_enc))) {
      const context = identityContext(row.name);
      await tx.query("UPDATE identity SET private_key_enc = $2 WHERE name = $1", [
        row.name,
        sealer.seal(context, sealer.unseal(context, row.private_key_enc)),
      ]);
      count++;
    }
    const agencies = await tx.query<{ agency_code: string; secret_enc: Uint8Array | null }>(
      "SELECT agency_code, secret_enc FROM agency WHERE secret_enc IS NOT NULL FOR UPDATE",
    );
    for (const row of agencies.filter((r) => r.secret_enc && stale(r.secret_enc))) {
      const context = agencySecretContext(row.agency_code);
      await tx.query("UPDATE agency SET secret_enc = $2 WHERE agency_code = $1", [
        row.agency_code,
        sealer.seal(context, sealer.unseal(context, row.secret_enc as Uint8Array)),
      ]);
      count++;
    }
    return count;
  });
}
