import { IssuingPointRegistered } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import { audit, type IssuanceContext, type Tx } from "./context.ts";
import { itemView, pointView } from "./views.ts";

/** The agency's reference data: income items (收入项目), issuing points (开票点), bill kinds' names. */

export function registerItem(
  ctx: IssuanceContext,
  actor: string,
  input: {
    agencyCode: string;
    code: string;
    name: string;
    unit: string;
    standardFen: number | null;
    enabled: boolean;
  },
) {
  return ctx.inTransaction(async (tx) => {
    const key = { agencyCode_code: { agencyCode: input.agencyCode, code: input.code } };
    if (await tx.incomeItem.findUnique({ where: key })) {
      throw new AppError("conflict", `income item ${input.code} already exists for ${input.agencyCode}`, {
        code: "ITEM_EXISTS",
      });
    }
    const item = await tx.incomeItem.create({
      data: { ...input, standardFen: input.standardFen === null ? null : BigInt(input.standardFen) },
    });
    await audit(tx, actor, "income-item.register", `income-item:${input.agencyCode}:${input.code}`, input);
    return itemView(item);
  });
}

export async function listItems(ctx: IssuanceContext, agencyCode: string) {
  const rows = await ctx.prisma.incomeItem.findMany({
    where: { agencyCode },
    orderBy: { code: "asc" },
  });
  return rows.map(itemView);
}

export function registerIssuingPoint(
  ctx: IssuanceContext,
  actor: string,
  input: { agencyCode: string; code: string; name: string; enabled: boolean },
) {
  return ctx.inTransaction(async (tx, emit) => {
    const key = { agencyCode_code: { agencyCode: input.agencyCode, code: input.code } };
    if (await tx.issuingPoint.findUnique({ where: key })) {
      throw new AppError("conflict", `issuing point ${input.code} already exists for ${input.agencyCode}`, {
        code: "ISSUING_POINT_EXISTS",
      });
    }
    const point = await tx.issuingPoint.create({ data: input });
    await audit(
      tx,
      actor,
      "issuing-point.register",
      `issuing-point:${input.agencyCode}:${input.code}`,
      input,
    );
    emit(IssuingPointRegistered, {
      agencyCode: point.agencyCode,
      issuingPointCode: point.code,
      name: point.name,
      registeredAt: point.createdAt.toISOString(),
    });
    return pointView(point);
  });
}

export async function listIssuingPoints(ctx: IssuanceContext, agencyCode: string) {
  const rows = await ctx.prisma.issuingPoint.findMany({
    where: { agencyCode },
    orderBy: { code: "asc" },
  });
  return rows.map(pointView);
}

/** stock.BillKindRegistered: the bill kind's name, for the documents' EInvoiceName. */
export async function recordBillKind(
  _ctx: IssuanceContext,
  tx: Tx,
  kind: { agencyCode: string; billCode: string; name: string },
): Promise<void> {
  await tx.billKind.upsert({
    where: { agencyCode_billCode: { agencyCode: kind.agencyCode, billCode: kind.billCode } },
    create: kind,
    update: { name: kind.name },
  });
}
