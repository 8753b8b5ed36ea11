import { Certificate, DevCa, Sm2PrivateKey } from "@piaoju/gm-crypto";
import type { Database } from "@piaoju/persistence";
import type { Sealer } from "@piaoju/sealing";
import type { FinanceIdentity } from "./context.ts";

interface IdentityRow {
  name: string;
  certificate_pem: string;
  private_key_enc: Uint8Array;
}

/**
 * Finance's CA and supervision key: made on the first start and kept in the database (keys
 * sealed with the master key), so a restart keeps the same certificate. Two processes starting
 * at once on one database both end up with the first one's identity.
 */
export async function loadOrCreateIdentity(db: Database, sealer: Sealer): Promise<FinanceIdentity> {
  let rows = await readIdentity(db);
  if (!rows.has("ca") || !rows.has("finance")) {
    const ca = await DevCa.create({ name: "Finance E-Receipt Simulator CA", validDays: 3650 });
    const key = Sm2PrivateKey.generate();
    const certificate = ca.issue({
      subject: {
        commonName: "Finance e-receipt supervision",
        organization: "Finance Simulator",
        country: "CN",
      },
      publicKey: key.publicKey,
      // One certificate to verify finance's signatures and to envelope data to finance.
      usage: "sign+encrypt",
      validDays: 3650,
    });
    await db.transaction(async (tx) => {
      for (const [name, cert, priv] of [
        ["ca", ca.certificate, ca.privateKey],
        ["finance", certificate, key],
      ] as const) {
        await tx.query(
          `INSERT INTO identity (name, certificate_pem, private_key_enc) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
          [name, cert.toPem(), sealer.seal(identityContext(name), priv.toDer())],
        );
      }
    });
    rows = await readIdentity(db);
  }
  const caRow = rows.get("ca")!;
  const financeRow = rows.get("finance")!;
  const ca = DevCa.load(
    Certificate.fromPem(caRow.certificate_pem),
    Sm2PrivateKey.fromDer(sealer.unseal(identityContext("ca"), caRow.private_key_enc)),
  );
  const certificate = Certificate.fromPem(financeRow.certificate_pem);
  const key = Sm2PrivateKey.fromDer(sealer.unseal(identityContext("finance"), financeRow.private_key_enc));
  return { ca, key, certificate, certificateSm3: certificate.fingerprintSm3() };
}

async function readIdentity(db: Database): Promise<Map<string, IdentityRow>> {
  const rows = await db.query<IdentityRow>(`SELECT name, certificate_pem, private_key_enc FROM identity`);
  return new Map(rows.map((r) => [r.name, r]));
}

export function identityContext(name: string): string {
  return `finance-simulator/identity/${name}/private-key`;
}
