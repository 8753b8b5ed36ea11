import { AppError } from "@piaoju/runtime";
import { type ClearingShare, checkRule } from "../domain/clearing.ts";
import { audit, type PaymentContext } from "./context.ts";

export interface ClearingAccountView {
  accountNo: string;
  name: string;
  bankName: string;
  updatedAt: string;
  updatedBy: string;
}

/** An operator registers (or renames) a finance special account (财政专户) of the agency. */
export async function setClearingAccount(
  ctx: PaymentContext,
  actor: string,
  input: { agencyCode: string; accountNo: string; name: string; bankName: string },
): Promise<ClearingAccountView> {
  return ctx.db.transaction(async (tx) => {
    const [same] = await tx.query<Record<string, unknown>>(
      "SELECT * FROM clearing_account WHERE agency_code = $1 AND account_no = $2 AND name = $3 AND bank_name = $4",
      [input.agencyCode, input.accountNo, input.name, input.bankName],
    );
    // Set again as it is: nothing changes, nothing is audited.
    if (same) return accountView(same);
    const now = ctx.clock();
    await tx.query(
      `INSERT INTO clearing_account (agency_code, account_no, name, bank_name, updated_at, updated_by)
       VALUES ($1,$2,$3,$4,$5,$6)
       ON CONFLICT (agency_code, account_no) DO UPDATE SET name = $3, bank_name = $4, updated_at = $5, updated_by = $6`,
      [input.agencyCode, input.accountNo, input.name, input.bankName, now, actor],
    );
    await audit(
      tx,
      now,
      actor,
      "clearing-account.set",
      `clearing-account:${input.agencyCode}:${input.accountNo}`,
      {
        name: input.name,
        bankName: input.bankName,
      },
    );
    return {
      accountNo: input.accountNo,
      name: input.name,
      bankName: input.bankName,
      updatedAt: now.toISOString(),
      updatedBy: actor,
    };
  });
}

export async function listClearingAccounts(
  ctx: PaymentContext,
  agencyCode: string,
): Promise<ClearingAccountView[]> {
  const rows = await ctx.db.query<Record<string, unknown>>(
    "SELECT * FROM clearing_account WHERE agency_code = $1 ORDER BY account_no",
    [agencyCode],
  );
  return rows.map(accountView);
}

function accountView(r: Record<string, unknown>): ClearingAccountView {
  return {
    accountNo: String(r.account_no),
    name: String(r.name),
    bankName: String(r.bank_name),
    updatedAt: (r.updated_at as Date).toISOString(),
    updatedBy: String(r.updated_by),
  };
}

export interface ClearingRuleView {
  itemCode: string;
  shares: ClearingShare[];
  updatedAt: string;
  updatedBy: string;
}

/**
 * An operator sets the clearing rule (清分规则) of an income item: its accounts and shares. Refused
 * (400 naming the field, nothing kept) unless the shares add up to 100 % and every account is one
 * of the agency's finance special accounts. The change is audited with the rule before and after.
 * A rule applies to days not cleared yet; a cleared day keeps the split it was made with.
 */
export async function setClearingRule(
  ctx: PaymentContext,
  actor: string,
  input: { agencyCode: string; itemCode: string; shares: ClearingShare[] },
): Promise<ClearingRuleView> {
  return ctx.db.transaction(async (tx) => {
    const accounts = await tx.query<{ account_no: string }>(
      "SELECT account_no FROM clearing_account WHERE agency_code = $1",
      [input.agencyCode],
    );
    const issues = checkRule(input.shares, new Set(accounts.map((a) => a.account_no)));
    if (issues.length > 0) throw AppError.validation(issues);
    const now = ctx.clock();
    const [before] = await tx.query<{ shares: ClearingShare[]; updated_at: Date; updated_by: string }>(
      "SELECT shares, updated_at, updated_by FROM clearing_rule WHERE agency_code = $1 AND item_code = $2 FOR UPDATE",
      [input.agencyCode, input.itemCode],
    );
    const canonical = (shares: ClearingShare[]) =>
      JSON.stringify(shares.map((x) => ({ accountNo: x.accountNo, basisPoints: x.basisPoints })));
    // Set again as it is: nothing changes, nothing is audited.
    if (before && canonical(before.shares) === canonical(input.shares)) {
      return {
        itemCode: input.itemCode,
        shares: before.shares,
        updatedAt: before.updated_at.toISOString(),
        updatedBy: before.updated_by,
      };
    }
    await tx.query(
      `INSERT INTO clearing_rule (agency_code, item_code, shares, updated_at, updated_by) VALUES ($1,$2,$3::jsonb,$4,$5)
       ON CONFLICT (agency_code, item_code) DO UPDATE SET shares = $3::jsonb, updated_at = $4, updated_by = $5`,
      [input.agencyCode, input.itemCode, JSON.stringify(input.shares), now, actor],
    );
    await audit(tx, now, actor, "clearing-rule.set", `clearing-rule:${input.agencyCode}:${input.itemCode}`, {
      before: before?.shares ?? null,
      after: input.shares,
    });
    return { itemCode: input.itemCode, shares: input.shares, updatedAt: now.toISOString(), updatedBy: actor };
  });
}

export async function listClearingRules(
  ctx: PaymentContext,
  agencyCode: string,
): Promise<ClearingRuleView[]> {
  const rows = await ctx.db.query<Record<string, unknown>>(
    "SELECT * FROM clearing_rule WHERE agency_code = $1 ORDER BY item_code",
    [agencyCode],
  );
  return rows.map((r) => ({
    itemCode: String(r.item_code),
    shares: r.shares as ClearingShare[],
    updatedAt: (r.updated_at as Date).toISOString(),
    updatedBy: String(r.updated_by),
  }));
}
