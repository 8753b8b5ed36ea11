import { Certificate, Sm2PublicKey, verifyChain } from "@piaoju/gm-crypto";
import type { SqlExecutor } from "@piaoju/persistence";
import { AppError } from "@piaoju/runtime";
import type { z } from "zod";
import type { agencyUpsert, BaseDataResponse, baseDataUpsert, certificateBound } from "../api.ts";
import { iso, type SimContext } from "./context.ts";

/** Every base-data change takes the next version; the counter's row lock keeps versions in commit order. */
async function nextVersion(tx: SqlExecutor): Promise<number> {
  const [row] = await tx.query<{ value: string }>(
    `INSERT INTO counter (name, value) VALUES ('base_data', 1)
     ON CONFLICT (name) DO UPDATE SET value = counter.value + 1 RETURNING value`,
  );
  return Number(row!.value);
}

export async function upsertAgency(
  ctx: SimContext,
  agencyCode: string,
  input: z.infer<typeof agencyUpsert>,
): Promise<BaseDataResponse["agency"]> {
  return ctx.db.transaction(async (tx) => {
    const version = await nextVersion(tx);
    const [existing] = await tx.query(`SELECT 1 FROM agency WHERE agency_code = $1 FOR UPDATE`, [agencyCode]);
    if (!existing && input.secret === undefined) {
      throw AppError.validation([
        { field: "body.secret", rule: "required", message: "a new agency needs a secret" },
      ]);
    }
    const secretEnc =
      input.secret === undefined ? null : ctx.sealer.seal(agencySecretContext(agencyCode), input.secret);
    await tx.query(
      `INSERT INTO agency (agency_code, name, region_code, secret_enc, version, updated_at)
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (agency_code) DO UPDATE SET name = $2, region_code = $3,
         secret_enc = COALESCE($4, agency.secret_enc), version = $5, updated_at = now()`,
      [agencyCode, input.name, input.regionCode ?? null, secretEnc, version],
    );
    const [row] = await tx.query(`SELECT * FROM agency WHERE agency_code = $1`, [agencyCode]);
    return agencyOf(row!);
  });
}

/** The agency's HMAC secret, or undefined for an unknown agency. */
export async function agencySecret(ctx: SimContext, agencyCode: string): Promise<string | undefined> {
  const [row] = await ctx.db.query<{ secret_enc: Uint8Array }>(
    `SELECT secret_enc FROM agency WHERE agency_code = $1`,
    [agencyCode],
  );
  return row ? ctx.sealer.unsealText(agencySecretContext(agencyCode), row.secret_enc) : undefined;
}

export async function requireAgencyName(
  ctx: SimContext,
  agencyCode: string,
  tx: SqlExecutor = ctx.db,
): Promise<string> {
  const [row] = await tx.query<{ name: string }>(`SELECT name FROM agency WHERE agency_code = $1`, [
    agencyCode,
  ]);
  if (!row) throw new AppError("not_found", `no agency ${agencyCode}`, { code: "AGENCY_NOT_FOUND" });
  return row.name;
}

export async function upsertBaseData(
  ctx: SimContext,
  agencyCode: string,
  input: z.infer<typeof baseDataUpsert>,
): Promise<BaseDataResponse> {
  await ctx.db.transaction(async (tx) => {
    await requireAgencyName(ctx, agencyCode, tx);
    for (const kind of input.billKinds) {
      const version = await nextVersion(tx);
      await tx.query(
        `INSERT INTO bill_kind (agency_code, bill_code, name, enabled, version, updated_at) VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (agency_code, bill_code) DO UPDATE SET name = $3, enabled = $4, version = $5, updated_at = now()`,
        [agencyCode, kind.billCode, kind.name, kind.enabled, version],
      );
    }
    for (const item of input.incomeItems) {
      const version = await nextVersion(tx);
      await tx.query(
        `INSERT INTO income_item (agency_code, item_code, name, bill_code, unit, standard_fen, enabled, version, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
         ON CONFLICT (agency_code, item_code) DO UPDATE SET name = $3, bill_code = $4, unit = $5, standard_fen = $6,
           enabled = $7, version = $8, updated_at = now()`,
        [
          agencyCode,
          item.itemCode,
          item.name,
          item.billCode ?? null,
          item.unit ?? null,
          item.standardFen ?? null,
          item.enabled,
          version,
        ],
      );
    }
    for (const region of input.regions) {
      const version = await nextVersion(tx);
      await tx.query(
        `INSERT INTO region (agency_code, region_code, name, enabled, version, updated_at) VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (agency_code, region_code) DO UPDATE SET name = $3, enabled = $4, version = $5, updated_at = now()`,
        [agencyCode, region.regionCode, region.name, region.enabled, version],
      );
    }
  });
  return readBaseData(ctx, agencyCode, 0);
}

/** What changed for the agency after version `since`, and the agency's current version. */
export async function readBaseData(
  ctx: SimContext,
  agencyCode: string,
  since: number,
): Promise<BaseDataResponse> {
  const [agency] = await ctx.db.query(`SELECT * FROM agency WHERE agency_code = $1`, [agencyCode]);
  if (!agency) throw new AppError("not_found", `no agency ${agencyCode}`, { code: "AGENCY_NOT_FOUND" });
  const changed = (table: string, order: string) =>
    ctx.db.query(`SELECT * FROM ${table} WHERE agency_code = $1 AND version > $2 ORDER BY ${order}`, [
      agencyCode,
      since,
    ]);
  const [kinds, items, regions, [max]] = await Promise.all([
    changed("bill_kind", "bill_code"),
    changed("income_item", "item_code"),
    changed("region", "region_code"),
    ctx.db.query<{ v: string | null }>(
      `SELECT GREATEST(
         (SELECT version FROM agency WHERE agency_code = $1),
         (SELECT max(version) FROM bill_kind WHERE agency_code = $1),
         (SELECT max(version) FROM income_item WHERE agency_code = $1),
         (SELECT max(version) FROM region WHERE agency_code = $1)) AS v`,
      [agencyCode],
    ),
  ]);
  return {
    agencyCode,
    version: Number(max?.v ?? 0),
    agency: Number(agency.version) > since ? agencyOf(agency) : null,
    billKinds: kinds.map((r) => ({
      billCode: String(r.bill_code),
      name: String(r.name),
      enabled: Boolean(r.enabled),
      version: Number(r.version),
      updatedAt: iso(r.updated_at),
    })),
    incomeItems: items.map((r) => ({
      itemCode: String(r.item_code),
      name: String(r.name),
      billCode: r.bill_code === null ? null : String(r.bill_code),
      unit: r.unit === null ? null : String(r.unit),
      standardFen: r.standard_fen === null ? null : Number(r.standard_fen),
      enabled: Boolean(r.enabled),
      version: Number(r.version),
      updatedAt: iso(r.updated_at),
    })),
    regions: regions.map((r) => ({
      regionCode: String(r.region_code),
      name: String(r.name),
      enabled: Boolean(r.enabled),
      version: Number(r.version),
      updatedAt: iso(r.updated_at),
    })),
  };
}

function agencyOf(row: Record<string, unknown>): NonNullable<BaseDataResponse["agency"]> {
  return {
    agencyCode: String(row.agency_code),
    name: String(row.name),
    regionCode: row.region_code === null ? null : String(row.region_code),
    version: Number(row.version),
    updatedAt: iso(row.updated_at),
  };
}

type Bound = z.infer<typeof certificateBound>;

/**
 * Binds an agency signing certificate: one the agency brings (it must chain to a CA finance
 * trusts), or one finance's CA issues now for the agency's public key (subject OU = agency code).
 */
export async function bindCertificate(
  ctx: SimContext,
  agencyCode: string,
  input: { certificatePem: string } | { publicKeyPem: string; commonName?: string | undefined },
): Promise<Bound> {
  await requireAgencyName(ctx, agencyCode);
  let certificate: Certificate;
  if ("certificatePem" in input) {
    certificate = parseOrRefuse(() => Certificate.fromPem(input.certificatePem), "body.certificatePem");
    const chain = verifyChain(certificate, [], ctx.trustedAgencyCas);
    if (!chain.ok) {
      throw new AppError("validation", `the certificate is not trusted: ${chain.reason}`, {
        code: "CERTIFICATE_UNTRUSTED",
      });
    }
  } else {
    const publicKey = parseOrRefuse(() => Sm2PublicKey.fromPem(input.publicKeyPem), "body.publicKeyPem");
    certificate = ctx.identity.ca.issue({
      subject: {
        commonName: input.commonName ?? `agency-${agencyCode}`,
        organizationalUnit: agencyCode,
        country: "CN",
      },
      publicKey,
      usage: "sign",
      validDays: 730,
    });
  }
  const fingerprint = certificate.fingerprintSm3();
  const [row] = await ctx.db.query<{ agency_code: string; revoked_at: Date | null }>(
    `INSERT INTO agency_certificate (fingerprint_sm3, agency_code, certificate_der, not_after) VALUES ($1, $2, $3, $4)
     ON CONFLICT (fingerprint_sm3) DO UPDATE SET fingerprint_sm3 = EXCLUDED.fingerprint_sm3 RETURNING agency_code, revoked_at`,
    [fingerprint, agencyCode, certificate.toDer(), certificate.notAfter],
  );
  if (row!.revoked_at !== null) {
    throw new AppError("conflict", "the certificate was revoked and cannot be bound again", {
      code: "CERTIFICATE_REVOKED",
    });
  }
  if (row!.agency_code !== agencyCode) {
    throw new AppError("conflict", `the certificate is already bound to agency ${row!.agency_code}`, {
      code: "CERTIFICATE_BOUND_ELSEWHERE",
    });
  }
  return {
    agencyCode,
    certificatePem: certificate.toPem(),
    fingerprintSm3: fingerprint,
    notAfter: iso(certificate.notAfter),
  };
}

function parseOrRefuse<T>(parse: () => T, field: string): T {
  try {
    return parse();
  } catch (error) {
    throw AppError.validation([{ field, rule: "format", message: (error as Error).message }]);
  }
}

/** The agency a certificate is bound to, if any, and whether it was revoked. */
export async function bindingOf(
  tx: SqlExecutor,
  fingerprint: string,
): Promise<{ agencyCode: string; revokedAt: Date | null } | undefined> {
  const [row] = await tx.query<{ agency_code: string; revoked_at: Date | null }>(
    `SELECT agency_code, revoked_at FROM agency_certificate WHERE fingerprint_sm3 = $1`,
    [fingerprint],
  );
  return row ? { agencyCode: row.agency_code, revokedAt: row.revoked_at } : undefined;
}

/** Revokes a certificate bound to the agency; revoking again keeps the first time. */
export async function revokeCertificate(
  ctx: SimContext,
  agencyCode: string,
  fingerprint: string,
): Promise<{ agencyCode: string; fingerprintSm3: string; revokedAt: string }> {
  const [row] = await ctx.db.query<{ revoked_at: Date }>(
    `UPDATE agency_certificate SET revoked_at = COALESCE(revoked_at, now())
     WHERE fingerprint_sm3 = $1 AND agency_code = $2 RETURNING revoked_at`,
    [fingerprint, agencyCode],
  );
  if (!row) {
    throw new AppError("not_found", `no certificate ${fingerprint} bound to agency ${agencyCode}`, {
      code: "CERTIFICATE_NOT_FOUND",
    });
  }
  return { agencyCode, fingerprintSm3: fingerprint, revokedAt: iso(row.revoked_at) };
}

export function agencySecretContext(agencyCode: string): string {
  return `finance-simulator/agency/${agencyCode}/secret`;
}
