import { describe, expect, it } from "vitest";
import { type AuditRecord, chainHash, GENESIS_HASH, verifyChain } from "./audit-chain.ts";
import { lockoutAfter, oneTimePassword, passwordProblems } from "./password.ts";

function chain(n: number) {
  const out: Array<AuditRecord & { prevHash: string; hash: string }> = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const r: AuditRecord = {
      seq: BigInt(i),
      at: new Date(Date.UTC(2026, 11, 2, 6, 0, i)),
      actor: `user${i}`,
      address: "127.0.0.1",
      action: "user.create",
      subject: `user:u${i}`,
      outcome: "ok",
      before: i % 2 ? null : { b: 1, a: [2, { z: 1, y: 2 }] },
      after: { roles: ["clerk"], n: i },
    };
    const hash = chainHash(prev, r);
    out.push({ ...r, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

describe("the audit log's SM3 chain", () => {
  it("holds for untouched entries, whatever order jsonb gives object keys back in", () => {
    const entries = chain(5);
    expect(verifyChain(entries)).toMatchObject({ checked: 5, lastSeq: 5n });
    const reordered = entries.map((e) => ({
      ...e,
      after: { n: (e.after as { n: number }).n, roles: ["clerk"] },
    }));
    expect(verifyChain(reordered).broken).toBeUndefined();
  });

  it("breaks at a changed field, a removed entry, an inserted one and a relinked one", () => {
    const changed = chain(5);
    changed[2] = { ...changed[2]!, outcome: "refused" };
    expect(verifyChain(changed).broken).toEqual({ seq: "3", reason: "hash-mismatch" });
    const removed = chain(5).filter((e) => e.seq !== 3n);
    expect(verifyChain(removed).broken).toEqual({ seq: "4", reason: "gap" });
    const relinked = chain(5);
    const forged = { ...relinked[3]!, prevHash: "f".repeat(64) };
    relinked[3] = { ...forged, hash: chainHash(forged.prevHash, forged) };
    expect(verifyChain(relinked).broken).toEqual({ seq: "4", reason: "link-mismatch" });
  });
});

describe("passwords", () => {
  it("the policy names what a password lacks", () => {
    expect(passwordProblems("short1A!", "li.si")).toContain("at least 12 characters");
    expect(passwordProblems("alllowercaseletters", "li.si").join()).toContain("three of");
    expect(passwordProblems("Li.Si-Password-2026", "li.si")).toContain("must not contain the user name");
    expect(passwordProblems("Aaaaa-bcdef-12345", "x")).toContain("no character four times in a row");
    expect(passwordProblems("Correct-Horse-42-battery", "li.si")).toEqual([]);
  });

  it("one-time passwords meet the policy and differ every time", () => {
    const made = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = oneTimePassword();
      expect(passwordProblems(p, "sysadmin")).toEqual([]);
      made.add(p);
    }
    expect(made.size).toBe(200);
  });

  it("backs off from the fifth failure, doubling, at most an hour", () => {
    const now = new Date("2026-12-02T06:00:00Z");
    expect(lockoutAfter(4, now)).toBeUndefined();
    expect(lockoutAfter(5, now)?.getTime()).toBe(now.getTime() + 60_000);
    expect(lockoutAfter(7, now)?.getTime()).toBe(now.getTime() + 4 * 60_000);
    expect(lockoutAfter(30, now)?.getTime()).toBe(now.getTime() + 3_600_000);
  });
});
