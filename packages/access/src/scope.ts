import { createMongoAbility, type MongoAbility, type RawRuleOf, subject } from "@casl/ability";
import type { AssertedIdentity } from "./assertion.ts";
import type { Permission } from "./permissions.ts";

/** A thing a permission acts on, as far as data scope is concerned. */
export interface ScopedTarget {
  agencyCode: string;
  /** The issuing point it belongs to; absent for things of the whole agency (items, bill kinds). */
  issuingPointCode?: string | undefined;
  /** Who made it (receipts: the clerk or app that issued it). */
  createdBy?: string | undefined;
}

type Ability = MongoAbility<[Permission, "Scoped" | ReturnType<typeof scoped>]>;
const scoped = (t: ScopedTarget) => subject("Scoped", { ...t });

/**
 * What an asserted identity may do, as CASL abilities: one rule per permission of each grant, with
 * the grant's data scope as its conditions (agency; issuing point; own). Two views: `exact` checks a
 * thing of an issuing point (a receipt, a number run); `agencyLevel` checks things of the whole
 * agency (lists of items, bill kinds), where an issuing-point grant still reaches its own agency.
 */
export class Access {
  readonly #exact: Ability;
  readonly #agencyLevel: Ability;

  constructor(readonly identity: AssertedIdentity) {
    const exact: RawRuleOf<Ability>[] = [];
    const agencyLevel: RawRuleOf<Ability>[] = [];
    const agency = identity.agency === "*" ? {} : { agencyCode: identity.agency };
    for (const grant of identity.grants) {
      for (const permission of grant.permissions) {
        agencyLevel.push({ action: permission, subject: "Scoped", conditions: { ...agency } });
        const conditions: Record<string, unknown> = { ...agency };
        if (grant.scope === "points") conditions.issuingPointCode = { $in: [...(grant.issuingPoints ?? [])] };
        if (grant.scope === "own") conditions.createdBy = identity.actor;
        exact.push({ action: permission, subject: "Scoped", conditions });
      }
    }
    this.#exact = createMongoAbility<Ability>(exact);
    this.#agencyLevel = createMongoAbility<Ability>(agencyLevel);
  }

  /** Has the permission somewhere (the route-level check). */
  can(permission: Permission): boolean {
    return this.#agencyLevel.can(permission, "Scoped");
  }

  /** May use the permission on this thing (the data-scope check, on every read and write). */
  allows(permission: Permission, target: ScopedTarget): boolean {
    if (target.issuingPointCode === undefined && target.createdBy === undefined) {
      return this.#agencyLevel.can(permission, scoped(target));
    }
    return this.#exact.can(permission, scoped(target));
  }

  /**
   * For filtering a list of an agency's things by issuing point: "*" when the permission reaches
   * the whole agency, else the points it reaches (empty: none), and whether only own things count.
   */
  reach(permission: Permission, agencyCode: string): { points: "*" | ReadonlySet<string>; ownOnly: boolean } {
    if (this.identity.agency !== "*" && this.identity.agency !== agencyCode)
      return { points: new Set(), ownOnly: false };
    const points = new Set<string>();
    let all = false;
    let ownOnly = true;
    let any = false;
    for (const g of this.identity.grants) {
      if (!g.permissions.includes(permission)) continue;
      any = true;
      if (g.scope === "agency") {
        all = true;
        ownOnly = false;
      } else if (g.scope === "points") {
        ownOnly = false;
        for (const p of g.issuingPoints ?? []) points.add(p);
      } else {
        all = all || false;
      }
    }
    if (!any) return { points: new Set(), ownOnly: false };
    if (ownOnly) return { points: "*", ownOnly: true };
    return { points: all ? "*" : points, ownOnly: false };
  }
}

/**
 * Masks an identifier a caller does not need in full (an ID number, a credit code): the first 3 and
 * the last 4 stay, what is between becomes *. Short values keep only their last character.
 */
export function maskIdentifier(value: string): string {
  if (value.length <= 4) return `${"*".repeat(Math.max(0, value.length - 1))}${value.slice(-1)}`;
  if (value.length <= 8) return `${value.slice(0, 1)}${"*".repeat(value.length - 3)}${value.slice(-2)}`;
  return `${value.slice(0, 3)}${"*".repeat(value.length - 7)}${value.slice(-4)}`;
}
