import { sm3 } from "@piaoju/gm-crypto";

/** One entry of the audit log as it is chained: who, when, from where, what, before and after. */
export interface AuditRecord {
  seq: bigint;
  at: Date;
  actor: string;
  address: string;
  action: string;
  subject: string;
  outcome: string;
  before: unknown;
  after: unknown;
}

export const GENESIS_HASH = "0".repeat(64);

/**
 * JSON with object keys sorted, so a value read back from the database (jsonb reorders keys)
 * hashes as it did when written.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** SM3 over the previous entry's hash and this entry's fields, each in a fixed order. */
export function chainHash(prevHash: string, r: AuditRecord): string {
  const body = canonicalJson({
    seq: r.seq.toString(),
    at: r.at.toISOString(),
    actor: r.actor,
    address: r.address,
    action: r.action,
    subject: r.subject,
    outcome: r.outcome,
    before: r.before ?? null,
    after: r.after ?? null,
  });
  return sm3(Buffer.from(`${prevHash}\n${body}`, "utf8")).toString("hex");
}

export interface ChainBreak {
  seq: string;
  reason: "hash-mismatch" | "link-mismatch" | "gap";
}

/**
 * Walks entries in seq order: each must follow the last (no gap), link to its hash and hash to
 * what it says. Returns the first break, or none.
 */
export function verifyChain(
  entries: Iterable<AuditRecord & { prevHash: string; hash: string }>,
  start: { seq: bigint; hash: string } = { seq: 0n, hash: GENESIS_HASH },
): { checked: number; lastSeq: bigint; lastHash: string; broken?: ChainBreak } {
  let prev = start;
  let checked = 0;
  for (const e of entries) {
    if (e.seq !== prev.seq + 1n)
      return {
        checked,
        lastSeq: prev.seq,
        lastHash: prev.hash,
        broken: { seq: e.seq.toString(), reason: "gap" },
      };
    if (e.prevHash !== prev.hash)
      return {
        checked,
        lastSeq: prev.seq,
        lastHash: prev.hash,
        broken: { seq: e.seq.toString(), reason: "link-mismatch" },
      };
    if (chainHash(e.prevHash, e) !== e.hash)
      return {
        checked,
        lastSeq: prev.seq,
        lastHash: prev.hash,
        broken: { seq: e.seq.toString(), reason: "hash-mismatch" },
      };
    prev = { seq: e.seq, hash: e.hash };
    checked += 1;
  }
  return { checked, lastSeq: prev.seq, lastHash: prev.hash };
}
