/**
 * 资金清分: how a day's collected money of an agency is split to finance special accounts
 * (财政专户). A rule per income item (收入项目) names the accounts and each one's share in basis
 * points (1/100 of a percent); the shares of a rule add up to 10 000 (100 %). Pure: no I/O.
 */

export interface ClearingShare {
  accountNo: string;
  /** 1..10 000: 6000 is 60 %. */
  basisPoints: number;
}

export const FULL_SHARE = 10_000;

/** A problem with a rule, naming the field of the request it is in. */
export interface RuleIssue {
  field: string;
  rule: string;
  message: string;
  messageZh: string;
}

/**
 * Checks a rule before it is kept: at least one share, each account once and known (registered
 * for the agency), each share a whole number of basis points above nothing, together exactly 100 %.
 */
export function checkRule(shares: readonly ClearingShare[], knownAccounts: ReadonlySet<string>): RuleIssue[] {
  const issues: RuleIssue[] = [];
  if (shares.length === 0) {
    issues.push({
      field: "body.shares",
      rule: "min_items",
      message: "a rule needs at least one account",
      messageZh: "清分规则至少需要一个财政专户",
    });
    return issues;
  }
  const seen = new Set<string>();
  shares.forEach((s, i) => {
    if (seen.has(s.accountNo)) {
      issues.push({
        field: `body.shares.${i}.accountNo`,
        rule: "unique",
        message: `account ${s.accountNo} appears twice in the rule`,
        messageZh: "同一财政专户在规则中重复出现",
      });
    }
    seen.add(s.accountNo);
    if (!knownAccounts.has(s.accountNo)) {
      issues.push({
        field: `body.shares.${i}.accountNo`,
        rule: "known_account",
        message: `account ${s.accountNo} is not a finance special account of the agency`,
        messageZh: "该账户不是本单位登记的财政专户",
      });
    }
  });
  const total = shares.reduce((sum, s) => sum + s.basisPoints, 0);
  if (total !== FULL_SHARE) {
    issues.push({
      field: "body.shares",
      rule: "sum_100_percent",
      message: `the shares add up to ${total / 100} %, not 100 %`,
      messageZh: "各账户清分比例之和必须为 100%",
    });
  }
  return issues;
}

/**
 * Splits an amount of fen by shares with the largest-remainder rule: each account first takes
 * the floor of its exact share, then the fen left over (fewer than there are accounts) go one
 * each to the largest fractional parts, ties to the earlier share. The parts always add up to
 * the amount: no fen is lost or made. A negative amount (refunds above the day's takings of an
 * item) is split as its opposite and negated, so it comes off the accounts in the same ratio.
 */
export function splitByShares(amountFen: number, shares: readonly ClearingShare[]): number[] {
  if (!Number.isSafeInteger(amountFen)) throw new RangeError(`not a whole number of fen: ${amountFen}`);
  if (amountFen < 0) return splitByShares(-amountFen, shares).map((p) => (p === 0 ? 0 : -p));
  const total = shares.reduce((sum, s) => sum + s.basisPoints, 0);
  if (total !== FULL_SHARE) throw new RangeError(`shares add up to ${total}, not ${FULL_SHARE}`);
  // Integer arithmetic: amount × bp stays below 2^53 for any amount below 9 × 10^11 fen.
  const exact = shares.map((s) => BigInt(amountFen) * BigInt(s.basisPoints));
  const parts = exact.map((e) => Number(e / BigInt(FULL_SHARE)));
  let left = amountFen - parts.reduce((a, b) => a + b, 0);
  const order = exact
    .map((e, i) => ({ i, rest: e % BigInt(FULL_SHARE) }))
    .sort((a, b) => (a.rest === b.rest ? a.i - b.i : a.rest > b.rest ? -1 : 1));
  for (const { i } of order) {
    if (left === 0) break;
    parts[i] = (parts[i] as number) + 1;
    left--;
  }
  return parts;
}

/** Money of one income item on a day: what came in, and what went back by refunds. */
export interface ItemTakings {
  itemCode: string;
  collectedFen: number;
  refundedFen: number;
}

/** One account's part of a day: what goes to it, from which items. */
export interface AccountPart {
  accountNo: string;
  collectedFen: number;
  refundedFen: number;
  /** collected − refunded: the instruction's amount. */
  amountFen: number;
  items: Array<{ itemCode: string; collectedFen: number; refundedFen: number }>;
}

export type ClearingPlan = { ok: true; parts: AccountPart[] } | { ok: false; itemsWithoutRule: string[] };

/**
 * The day's split (清分): each item's collections and refunds split by its rule (apart, so the
 * report shows both), summed per account. Every item with money needs a rule; an account whose
 * part nets to nothing gets no instruction. Σ parts = Σ collected − Σ refunded, to the fen.
 */
export function planClearing(
  takings: readonly ItemTakings[],
  rules: ReadonlyMap<string, readonly ClearingShare[]>,
): ClearingPlan {
  const missing = takings
    .filter((t) => (t.collectedFen !== 0 || t.refundedFen !== 0) && !rules.has(t.itemCode))
    .map((t) => t.itemCode);
  if (missing.length > 0) return { ok: false, itemsWithoutRule: [...new Set(missing)].sort() };
  const byAccount = new Map<string, AccountPart>();
  for (const t of takings) {
    const shares = rules.get(t.itemCode);
    if (!shares || (t.collectedFen === 0 && t.refundedFen === 0)) continue;
    const collected = splitByShares(t.collectedFen, shares);
    const refunded = splitByShares(t.refundedFen, shares);
    shares.forEach((s, i) => {
      const part = byAccount.get(s.accountNo) ?? {
        accountNo: s.accountNo,
        collectedFen: 0,
        refundedFen: 0,
        amountFen: 0,
        items: [],
      };
      const c = collected[i] as number;
      const r = refunded[i] as number;
      part.collectedFen += c;
      part.refundedFen += r;
      part.amountFen += c - r;
      if (c !== 0 || r !== 0) part.items.push({ itemCode: t.itemCode, collectedFen: c, refundedFen: r });
      byAccount.set(s.accountNo, part);
    });
  }
  const parts = [...byAccount.values()]
    .filter((p) => p.amountFen !== 0)
    .sort((a, b) => a.accountNo.localeCompare(b.accountNo));
  return { ok: true, parts };
}

/** The state of one clearing instruction (清分指令) at the non-tax system and the bank. */
export type InstructionStatus = "PENDING" | "ACCEPTED" | "DONE" | "REFUSED" | "PARKED";
