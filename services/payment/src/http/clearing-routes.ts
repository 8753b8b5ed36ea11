import { agencyCode, referenceCode, singleLine } from "@piaoju/contracts";
import { AppError, authenticateCaller, parseInput, requireAgency } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { clearDay, loadBatch } from "../app/clearing.ts";
import {
  listClearingAccounts,
  listClearingRules,
  setClearingAccount,
  setClearingRule,
} from "../app/clearing-rules.ts";
import type { PaymentContext } from "../app/context.ts";

// A finance special account's number as the bank prints it, without spaces (it names a route).
const accountNo = z.string().regex(/^[0-9A-Za-z-]{1,64}$/, "1 to 64 letters, digits or hyphens");
const byAgency = z.object({ agencyCode });

/** 资金清分: finance special accounts, clearing rules, and a day's clearing (operators; reads for the finance office). */
export function registerClearingRoutes(
  http: FastifyInstance,
  ctx: PaymentContext,
  internalToken: string,
): void {
  const operator = (req: Parameters<typeof authenticateCaller>[0]) => {
    const c = authenticateCaller(req, internalToken);
    if (c.actor.startsWith("app:")) {
      throw new AppError("forbidden", "a business system does not set clearing", { code: "FORBIDDEN" });
    }
    return c;
  };

  http.put("/v1/payment/clearing-accounts/:accountNo", async (req) => {
    const c = operator(req);
    const p = parseInput(z.object({ accountNo }), req.params, "params");
    const body = parseInput(
      z.strictObject({ agencyCode, name: singleLine(200), bankName: singleLine(200) }),
      req.body,
      "body",
    );
    requireAgency(c, body.agencyCode);
    return setClearingAccount(ctx, c.actor, { ...body, accountNo: p.accountNo });
  });

  http.get("/v1/payment/clearing-accounts", async (req) => {
    const c = authenticateCaller(req, internalToken);
    const q = parseInput(byAgency, req.query, "query");
    requireAgency(c, q.agencyCode);
    return { items: await listClearingAccounts(ctx, q.agencyCode) };
  });

  http.put("/v1/payment/clearing-rules/:itemCode", async (req) => {
    const c = operator(req);
    const p = parseInput(z.object({ itemCode: referenceCode }), req.params, "params");
    const body = parseInput(
      z.strictObject({
        agencyCode,
        shares: z
          .array(z.strictObject({ accountNo, basisPoints: z.number().int().min(1).max(10_000) }))
          .max(20),
      }),
      req.body,
      "body",
    );
    requireAgency(c, body.agencyCode);
    return setClearingRule(ctx, c.actor, { ...body, itemCode: p.itemCode });
  });

  http.get("/v1/payment/clearing-rules", async (req) => {
    const c = authenticateCaller(req, internalToken);
    const q = parseInput(byAgency, req.query, "query");
    requireAgency(c, q.agencyCode);
    return { items: await listClearingRules(ctx, q.agencyCode) };
  });

  // Clears a day now (the background round does the same once the day reconciled clean).
  http.post("/v1/payment/clearings", async (req, reply) => {
    const c = operator(req);
    const body = parseInput(z.strictObject({ agencyCode, businessDay: z.iso.date() }), req.body, "body");
    requireAgency(c, body.agencyCode);
    const { created, batch } = await clearDay(ctx, c.actor, body);
    return reply.status(created ? 201 : 200).send(batch);
  });

  http.get("/v1/payment/clearings/:businessDay", async (req) => {
    const c = authenticateCaller(req, internalToken);
    const p = parseInput(z.object({ businessDay: z.iso.date() }), req.params, "params");
    const q = parseInput(byAgency, req.query, "query");
    requireAgency(c, q.agencyCode);
    const batch = await loadBatch(ctx, q.agencyCode, p.businessDay);
    if (!batch) {
      throw new AppError("not_found", `${p.businessDay} of ${q.agencyCode} is not cleared`, {
        code: "CLEARING_NOT_FOUND",
      });
    }
    return batch;
  });
}
