import { randomUUID } from "node:crypto";
import { AppError } from "@piaoju/runtime";
import type { ItemGroup } from "../generated/prisma/client.ts";
import { audit, type IssuanceContext, type Tx } from "./context.ts";
import { itemView } from "./views.ts";

/**
 * 项目分组: the agency's income items grouped the way a window charges them, so 开票 picks a group
 * and gets its lines. A group names existing items of its own agency only; each change is audited
 * with what it was before.
 */

export interface ItemGroupInput {
  name: string;
  itemCodes: string[];
  remark?: string | undefined;
  enabled: boolean;
}

function groupView(g: ItemGroup, items: Map<string, ReturnType<typeof itemView>>) {
  return {
    id: g.id,
    agencyCode: g.agencyCode,
    name: g.name,
    itemCodes: g.itemCodes,
    // The items as the window shows them (name, unit, standard); a code no longer known is left out.
    items: g.itemCodes.flatMap((c) => {
      const item = items.get(c);
      return item ? [item] : [];
    }),
    remark: g.remark,
    enabled: g.enabled,
    createdBy: g.createdBy,
    createdAt: g.createdAt.toISOString(),
    updatedAt: g.updatedAt.toISOString(),
  };
}

const snapshot = (g: ItemGroup) => ({
  name: g.name,
  itemCodes: g.itemCodes,
  remark: g.remark,
  enabled: g.enabled,
});

async function itemsOf(db: Tx | IssuanceContext["prisma"], agencyCode: string) {
  const rows = await db.incomeItem.findMany({ where: { agencyCode }, orderBy: { code: "asc" } });
  return new Map(rows.map((r) => [r.code, itemView(r)]));
}

/** Each code an item of the agency, each once: else 400 naming the code's place in the list. */
async function checkItems(tx: Tx, agencyCode: string, codes: string[]) {
  const known = await itemsOf(tx, agencyCode);
  const issues = codes.flatMap((code, i) => {
    if (codes.indexOf(code) !== i)
      return [{ field: `body.itemCodes.${i}`, rule: "unique", message: `${code} is listed twice` }];
    return known.has(code)
      ? []
      : [
          {
            field: `body.itemCodes.${i}`,
            rule: "known_item",
            message: `${code} is not an income item of ${agencyCode}`,
          },
        ];
  });
  if (issues.length) throw AppError.validation(issues);
  return known;
}

function nameTaken(name: string): AppError {
  return new AppError("conflict", `an item group named ${name} already exists`, {
    code: "ITEM_GROUP_EXISTS",
  });
}

export async function listItemGroups(ctx: IssuanceContext, agencyCode: string) {
  const [rows, items] = await Promise.all([
    ctx.prisma.itemGroup.findMany({ where: { agencyCode }, orderBy: [{ name: "asc" }, { id: "asc" }] }),
    itemsOf(ctx.prisma, agencyCode),
  ]);
  return rows.map((g) => groupView(g, items));
}

/** The group, when it exists and the caller may see its agency; else undefined (it reads as not there). */
export function findItemGroup(ctx: IssuanceContext, id: string) {
  return ctx.prisma.itemGroup.findUnique({ where: { id } });
}

export function createItemGroup(
  ctx: IssuanceContext,
  actor: string,
  input: ItemGroupInput & { agencyCode: string },
) {
  return ctx.inTransaction(async (tx) => {
    const items = await checkItems(tx, input.agencyCode, input.itemCodes);
    const key = { agencyCode_name: { agencyCode: input.agencyCode, name: input.name } };
    if (await tx.itemGroup.findUnique({ where: key })) throw nameTaken(input.name);
    const now = ctx.clock();
    const group = await tx.itemGroup.create({
      data: {
        id: randomUUID(),
        agencyCode: input.agencyCode,
        name: input.name,
        itemCodes: input.itemCodes,
        remark: input.remark ?? null,
        enabled: input.enabled,
        createdBy: actor,
        createdAt: now,
        updatedAt: now,
      },
    });
    await audit(tx, actor, "item-group.create", `item-group:${group.agencyCode}:${group.id}`, {
      before: null,
      after: snapshot(group),
    });
    return groupView(group, items);
  });
}

export function updateItemGroup(ctx: IssuanceContext, actor: string, id: string, input: ItemGroupInput) {
  return ctx.inTransaction(async (tx) => {
    const [locked] = await tx.$queryRaw<
      Array<{ id: string }>
    >`SELECT id FROM item_group WHERE id = ${id}::uuid FOR UPDATE`;
    const before = locked ? await tx.itemGroup.findUnique({ where: { id } }) : null;
    if (!before) throw unknownGroup(id);
    const items = await checkItems(tx, before.agencyCode, input.itemCodes);
    if (input.name !== before.name) {
      const key = { agencyCode_name: { agencyCode: before.agencyCode, name: input.name } };
      if (await tx.itemGroup.findUnique({ where: key })) throw nameTaken(input.name);
    }
    const group = await tx.itemGroup.update({
      where: { id },
      data: {
        name: input.name,
        itemCodes: input.itemCodes,
        remark: input.remark ?? null,
        enabled: input.enabled,
        updatedAt: ctx.clock(),
      },
    });
    await audit(tx, actor, "item-group.update", `item-group:${group.agencyCode}:${id}`, {
      before: snapshot(before),
      after: snapshot(group),
    });
    return groupView(group, items);
  });
}

export function deleteItemGroup(ctx: IssuanceContext, actor: string, id: string) {
  return ctx.inTransaction(async (tx) => {
    const before = await tx.itemGroup.findUnique({ where: { id } });
    if (!before) throw unknownGroup(id);
    await tx.itemGroup.delete({ where: { id } });
    await audit(tx, actor, "item-group.delete", `item-group:${before.agencyCode}:${id}`, {
      before: snapshot(before),
      after: null,
    });
    return { id, deleted: true };
  });
}

export function unknownGroup(id: string): AppError {
  return new AppError("not_found", `item group ${id} does not exist`, { code: "ITEM_GROUP_UNKNOWN" });
}
