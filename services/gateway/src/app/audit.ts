import { maskMiddle, PERSONAL_FIELD_NAMES } from "@piaoju/contracts";
import type { Sealer } from "@piaoju/sealing";
import { type AuditRecord, chainHash, GENESIS_HASH, verifyChain } from "../domain/audit-chain.ts";
import type { Prisma, PrismaClient } from "../generated/prisma/client.ts";

type Tx = Prisma.TransactionClient;

export interface AuditInput {
  actor: string;
  address: string;
  action: string;
  subject: string;
  outcome: string;
  before?: unknown;
  after?: unknown;
}

const AUDIT_LOCK = 0x70696a61; // one chain: appends take this transaction-scoped advisory lock in turn

/** The audit log (日志管理): appended in the same transaction as the change it records. */
export class AuditLog {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly clock: () => Date,
    /** Seals personal values of before/after at rest (a person's request may name a payer). */
    private readonly sealer: Sealer,
  ) {}

  append(entry: AuditInput): Promise<void> {
    return this.prisma.$transaction((tx) => this.appendIn(tx, entry));
  }

  async appendIn(tx: Tx, entry: AuditInput): Promise<void> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${AUDIT_LOCK})`;
    const last = await tx.auditEntry.findFirst({
      orderBy: { seq: "desc" },
      select: { seq: true, hash: true },
    });
    const record: AuditRecord = {
      seq: (last?.seq ?? 0n) + 1n,
      at: this.clock(),
      actor: entry.actor,
      address: entry.address,
      action: entry.action,
      subject: entry.subject,
      outcome: entry.outcome,
      before: sealPersonal(this.sealer, storableJson(entry.before)),
      after: sealPersonal(this.sealer, storableJson(entry.after)),
    };
    const prevHash = last?.hash ?? GENESIS_HASH;
    await tx.auditEntry.create({
      data: {
        ...record,
        before: record.before === null ? undefined : (record.before as Prisma.InputJsonValue),
        after: record.after === null ? undefined : (record.after as Prisma.InputJsonValue),
        prevHash,
        hash: chainHash(prevHash, record),
      },
    });
  }

  /**
   * The entries a filter selects, oldest first (a cursor: `afterSeq`) or newest first (a page:
   * `offset`), with how many the filter selects in all so a screen can page through them.
   */
  async list(filter: {
    from?: Date | undefined;
    to?: Date | undefined;
    actor?: string | undefined;
    action?: string | undefined;
    afterSeq?: bigint | undefined;
    order?: "asc" | "desc" | undefined;
    offset?: number | undefined;
    limit: number;
  }) {
    const where: Prisma.AuditEntryWhereInput = {
      ...(filter.from || filter.to
        ? { at: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } }
        : {}),
      ...(filter.actor ? { actor: filter.actor } : {}),
      ...(filter.action ? { action: { startsWith: filter.action } } : {}),
      ...(filter.afterSeq !== undefined ? { seq: { gt: filter.afterSeq } } : {}),
    };
    const [rows, total] = await Promise.all([
      this.prisma.auditEntry.findMany({
        where,
        orderBy: { seq: filter.order ?? "asc" },
        skip: filter.offset ?? 0,
        take: filter.limit,
      }),
      this.prisma.auditEntry.count({ where }),
    ]);
    const items = rows.map((r) => ({
      seq: r.seq.toString(),
      at: r.at.toISOString(),
      actor: r.actor,
      address: r.address,
      action: r.action,
      subject: r.subject,
      outcome: r.outcome,
      before: maskPersonal(this.sealer, r.before),
      after: maskPersonal(this.sealer, r.after),
      hash: r.hash,
    }));
    return { items, total };
  }

  /** Walks the whole chain in pages; the first break (a changed, removed or inserted row) is reported. */
  async verify(): Promise<{ entries: number; lastHash: string; broken?: { seq: string; reason: string } }> {
    let start = { seq: 0n, hash: GENESIS_HASH };
    let entries = 0;
    for (;;) {
      const page = await this.prisma.auditEntry.findMany({
        where: { seq: { gt: start.seq } },
        orderBy: { seq: "asc" },
        take: 1000,
      });
      if (page.length === 0) return { entries, lastHash: start.hash };
      const result = verifyChain(page, start);
      entries += result.checked;
      if (result.broken) return { entries, lastHash: result.lastHash, broken: result.broken };
      start = { seq: result.lastSeq, hash: result.lastHash };
    }
  }
}

/**
 * What an entry's before/after can hold as stored: a JSON copy without `__proto__` keys. A
 * request body may carry one (JSON.parse makes it an own property); the hash must cover what is
 * stored and read back, and the database client does not keep such a key, so a hash over it
 * would break the chain at that entry (the fuzz suite found it).
 */
export function storableJson(value: unknown): unknown {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value), (key, v) => (key === "__proto__" ? undefined : v));
}

const SEALED = "sealed:";
const AUDIT_CONTEXT = "gateway/audit";

/**
 * A copy with the value under each personal key (PERSONAL_FIELD_NAMES: payer, phone, idNumber…)
 * sealed: a clerk's request that names a payer is kept in the audit log without the payer in
 * clear (issue 9, class 8). The chain hashes what is stored, sealed values included.
 */
export function sealPersonal(sealer: Sealer, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => sealPersonal(sealer, v));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] =
      PERSONAL_FIELD_NAMES.has(key) && v !== null && v !== undefined && !(typeof v === "string" && v === "")
        ? SEALED + sealer.seal(AUDIT_CONTEXT, JSON.stringify(v)).toString("base64")
        : sealPersonal(sealer, v);
  }
  return out;
}

/**
 * What an auditor reads: each sealed value opened and shown masked (the start and end of each
 * text), so an entry says what was done and to whom without the payer's data in full. A value
 * that does not open is shown as such, never thrown on (the log must stay readable).
 */
export function maskPersonal(sealer: Sealer, value: unknown): unknown {
  if (typeof value === "string" && value.startsWith(SEALED)) {
    try {
      const opened = JSON.parse(
        sealer.unseal(AUDIT_CONTEXT, Buffer.from(value.slice(SEALED.length), "base64")).toString("utf8"),
      );
      return maskLeaves(opened);
    } catch {
      return "(sealed; does not open under the configured keys)";
    }
  }
  if (Array.isArray(value)) return value.map((v) => maskPersonal(sealer, v));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskPersonal(sealer, v)]));
}

/** Its first character and at most its last quarter (up to 4) shown: an ID number's check digits, none of a name. */
function maskLeaves(value: unknown): unknown {
  if (typeof value === "string") return maskMiddle(value, 1, Math.min(4, Math.floor(value.length / 4)));
  if (Array.isArray(value)) return value.map(maskLeaves);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskLeaves(v)]));
}
