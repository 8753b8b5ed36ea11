import { BillKindRegistered } from "@piaoju/contracts";
import { AppError } from "@piaoju/runtime";
import { audit, type StockContext } from "./context.ts";

/** 票据种类: the bill kinds an agency uses, registered by its ticket manager. */

export async function registerBillKind(
  ctx: StockContext,
  actor: string,
  input: { agencyCode: string; billCode: string; name: string },
) {
  return ctx.inTransaction(async (tx, emit) => {
    const existing = await tx.billKind.findUnique({
      where: { agencyCode_billCode: { agencyCode: input.agencyCode, billCode: input.billCode } },
    });
    if (existing) {
      throw new AppError(
        "conflict",
        `bill kind ${input.billCode} is already registered for ${input.agencyCode}`,
        {
          code: "BILL_KIND_EXISTS",
        },
      );
    }
    const kind = await tx.billKind.create({ data: input });
    await audit(tx, actor, "bill-kind.register", `bill-kind:${input.agencyCode}:${input.billCode}`, input);
    emit(BillKindRegistered, input);
    return kind;
  });
}

export function listBillKinds(ctx: StockContext, agencyCode: string) {
  return ctx.prisma.billKind.findMany({ where: { agencyCode }, orderBy: { billCode: "asc" } });
}
