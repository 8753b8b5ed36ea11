import { randomUUID } from "node:crypto";
import { maskIdentifier } from "@piaoju/access";
import { AppError } from "@piaoju/runtime";
import { normalizeForLookup } from "@piaoju/sealing";
import type { FrequentPayer } from "../generated/prisma/client.ts";
import { audit, type IssuanceContext } from "./context.ts";

/**
 * 常用交款人: payers a window saved to pick again on the 开票 page. The personal fields (name, ID
 * number, phone, e-mail) are sealed at rest (@piaoju/sealing, one context per row) and found by
 * keyed hash (HMAC-SM3 of the normalised ID number or name, as delivery and reporting find payers),
 * never stored in clear. Lists show them masked; one payer is opened in full for the form it fills.
 * Each belongs to an agency and an issuing point: a clerk of a point sees that point's only.
 */

export interface PayerFields {
  type: 1 | 2;
  code: string;
  name: string;
  phone?: string | undefined;
  email?: string | undefined;
}

const LOOKUP = "issuance/frequent-payer/lookup";

export const payerContext = (id: string) => `issuance/frequent-payer/${id}`;

export function lookupHashes(ctx: IssuanceContext, kind: "code" | "name", value: string): string[] {
  return ctx.sealer.lookupHashes(LOOKUP, `${kind}\n${normalizeForLookup(kind, value)}`);
}

function lookupHash(ctx: IssuanceContext, kind: "code" | "name", value: string): string {
  return ctx.sealer.lookupHash(LOOKUP, `${kind}\n${normalizeForLookup(kind, value)}`);
}

function open(ctx: IssuanceContext, row: FrequentPayer): PayerFields {
  return ctx.sealer.unsealJson<PayerFields>(payerContext(row.id), row.sealed);
}

const maskPhone = (p: string) => (p.length > 7 ? `${p.slice(0, 3)}****${p.slice(-4)}` : maskIdentifier(p));
const maskEmail = (e: string) => {
  const at = e.indexOf("@");
  return at > 0 ? `${e.slice(0, 1)}***${e.slice(at)}` : maskIdentifier(e);
};

/** What a list shows: the name (the window recognises the payer), the rest masked. */
export function maskedView(ctx: IssuanceContext, row: FrequentPayer) {
  const p = open(ctx, row);
  return {
    ...meta(row),
    type: p.type,
    name: p.name,
    code: maskIdentifier(p.code),
    ...(p.phone ? { phone: maskPhone(p.phone) } : {}),
    ...(p.email ? { email: maskEmail(p.email) } : {}),
  };
}

/** One payer in full: what the 开票 form is filled with. */
export function fullView(ctx: IssuanceContext, row: FrequentPayer) {
  const p = open(ctx, row);
  return { ...meta(row), ...p };
}

function meta(row: FrequentPayer) {
  return {
    id: row.id,
    agencyCode: row.agencyCode,
    issuingPointCode: row.issuingPointCode,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** What the audit log keeps of a payer: who it is to someone in scope, never the fields in clear. */
const auditOf = (p: PayerFields) => ({
  type: p.type,
  code: maskIdentifier(p.code),
  hasPhone: Boolean(p.phone),
  hasEmail: Boolean(p.email),
});

export async function listFrequentPayers(
  ctx: IssuanceContext,
  q: {
    agencyCode: string;
    /** "*": every point of the agency; else these points only. */
    points: "*" | ReadonlySet<string>;
    code?: string | undefined;
    name?: string | undefined;
    limit: number;
  },
) {
  if (q.points !== "*" && q.points.size === 0) return [];
  const rows = await ctx.prisma.frequentPayer.findMany({
    where: {
      agencyCode: q.agencyCode,
      ...(q.points === "*" ? {} : { issuingPointCode: { in: [...q.points] } }),
      ...(q.code ? { codeHash: { in: lookupHashes(ctx, "code", q.code) } } : {}),
      ...(q.name ? { nameHash: { in: lookupHashes(ctx, "name", q.name) } } : {}),
    },
    orderBy: [{ updatedAt: "desc" }, { id: "asc" }],
    take: q.limit,
  });
  return rows.map((r) => maskedView(ctx, r));
}

export function findFrequentPayer(ctx: IssuanceContext, id: string) {
  return ctx.prisma.frequentPayer.findUnique({ where: { id } });
}

async function refuseDuplicate(
  ctx: IssuanceContext,
  tx: Parameters<Parameters<IssuanceContext["inTransaction"]>[0]>[0],
  where: { agencyCode: string; issuingPointCode: string; code: string; except?: string },
) {
  const same = await tx.frequentPayer.findFirst({
    where: {
      agencyCode: where.agencyCode,
      issuingPointCode: where.issuingPointCode,
      codeHash: { in: lookupHashes(ctx, "code", where.code) },
      ...(where.except ? { id: { not: where.except } } : {}),
    },
    select: { id: true },
  });
  if (same) {
    throw new AppError("conflict", `this payer is already saved for ${where.issuingPointCode} (${same.id})`, {
      code: "FREQUENT_PAYER_EXISTS",
    });
  }
}

export function createFrequentPayer(
  ctx: IssuanceContext,
  actor: string,
  input: PayerFields & { agencyCode: string; issuingPointCode: string },
) {
  return ctx.inTransaction(async (tx) => {
    const point = await tx.issuingPoint.findUnique({
      where: { agencyCode_code: { agencyCode: input.agencyCode, code: input.issuingPointCode } },
    });
    if (!point) {
      throw AppError.validation([
        {
          field: "body.issuingPointCode",
          rule: "known_issuing_point",
          message: `${input.issuingPointCode} is not an issuing point of ${input.agencyCode}`,
        },
      ]);
    }
    await refuseDuplicate(ctx, tx, input);
    const id = randomUUID();
    const fields = fieldsOf(input);
    const now = ctx.clock();
    const row = await tx.frequentPayer.create({
      data: {
        id,
        agencyCode: input.agencyCode,
        issuingPointCode: input.issuingPointCode,
        payerType: input.type,
        sealed: new Uint8Array(ctx.sealer.sealJson(payerContext(id), fields)),
        codeHash: lookupHash(ctx, "code", input.code),
        nameHash: lookupHash(ctx, "name", input.name),
        createdBy: actor,
        createdAt: now,
        updatedAt: now,
      },
    });
    await audit(tx, actor, "frequent-payer.create", subjectOf(row), { before: null, after: auditOf(fields) });
    return maskedView(ctx, row);
  });
}

export function updateFrequentPayer(ctx: IssuanceContext, actor: string, id: string, input: PayerFields) {
  return ctx.inTransaction(async (tx) => {
    const [locked] = await tx.$queryRaw<
      Array<{ id: string }>
    >`SELECT id FROM frequent_payer WHERE id = ${id}::uuid FOR UPDATE`;
    const before = locked ? await tx.frequentPayer.findUnique({ where: { id } }) : null;
    if (!before) throw unknownPayer(id);
    await refuseDuplicate(ctx, tx, { ...before, code: input.code, except: id });
    const fields = fieldsOf(input);
    const row = await tx.frequentPayer.update({
      where: { id },
      data: {
        payerType: input.type,
        sealed: new Uint8Array(ctx.sealer.sealJson(payerContext(id), fields)),
        codeHash: lookupHash(ctx, "code", input.code),
        nameHash: lookupHash(ctx, "name", input.name),
        updatedAt: ctx.clock(),
      },
    });
    await audit(tx, actor, "frequent-payer.update", subjectOf(row), {
      before: auditOf(open(ctx, before)),
      after: auditOf(fields),
    });
    return maskedView(ctx, row);
  });
}

export function deleteFrequentPayer(ctx: IssuanceContext, actor: string, id: string) {
  return ctx.inTransaction(async (tx) => {
    const before = await tx.frequentPayer.findUnique({ where: { id } });
    if (!before) throw unknownPayer(id);
    await tx.frequentPayer.delete({ where: { id } });
    await audit(tx, actor, "frequent-payer.delete", subjectOf(before), {
      before: auditOf(open(ctx, before)),
      after: null,
    });
    return { id, deleted: true };
  });
}

const subjectOf = (r: FrequentPayer) => `frequent-payer:${r.agencyCode}:${r.issuingPointCode}:${r.id}`;

function fieldsOf(p: PayerFields): PayerFields {
  return {
    type: p.type,
    code: p.code,
    name: p.name,
    ...(p.phone ? { phone: p.phone } : {}),
    ...(p.email ? { email: p.email } : {}),
  };
}

export function unknownPayer(id: string): AppError {
  return new AppError("not_found", `frequent payer ${id} does not exist`, { code: "FREQUENT_PAYER_UNKNOWN" });
}
