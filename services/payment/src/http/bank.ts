import { agencyCode, paymentApi, paymentCode } from "@piaoju/contracts";
import { AppError, authenticateCaller, parseInput, requireAgency } from "@piaoju/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { authenticateBank, bankPay, bankQuery, bankReverse, setDecisionSource } from "../app/bank-counter.ts";
import type { PaymentContext } from "../app/context.ts";
import { fundsResultOf, reconcileFunds } from "../app/funds.ts";
import { maskName } from "./cashier.ts";

const bankSerial = z.string().regex(/^[\w.-]{1,64}$/, "letters, digits, . _ - (at most 64)");
const decisionNo = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\w.()（）-]+$/, "a decision number");
const bankParams = z.object({ bankCode: z.string().regex(/^[\w.-]{1,64}$/) });
const day = z.iso.date();

/**
 * The agency bank's front-end calls (银行前置, no internal token: the MAC over each message is the
 * authentication, checked before anything is read) and the operators' funds arrival routes.
 */
export function registerBankRoutes(
  http: FastifyInstance,
  ctx: PaymentContext,
  opts: { internalToken: string; businessTimeoutMs: number },
): void {
  const message = (req: FastifyRequest) => {
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value[0] : value;
    }
    return { method: req.method, path: req.url, headers, rawBody: req.rawBody ?? Buffer.alloc(0) };
  };

  http.post("/v1/payment/bank/:bankCode/query", async (req) => {
    const { bankCode } = parseInput(bankParams, req.params, "params");
    const body = parseInput(
      z.strictObject({ agencyCode, decisionNo, bankSerialNo: bankSerial }),
      req.body,
      "body",
    );
    await authenticateBank(ctx, bankCode, body.agencyCode, message(req));
    const due = await bankQuery(ctx, body, opts.businessTimeoutMs);
    return { ...due, payerName: maskName(due.payerName) };
  });

  http.post("/v1/payment/bank/:bankCode/pay", async (req) => {
    const { bankCode } = parseInput(bankParams, req.params, "params");
    const body = parseInput(
      z.strictObject({
        agencyCode,
        bankSerialNo: bankSerial,
        paymentCode,
        amountFen: z.number().int().positive().max(99_999_999_999),
        paidAt: z.iso.datetime({ offset: true }),
      }),
      req.body,
      "body",
    );
    await authenticateBank(ctx, bankCode, body.agencyCode, message(req));
    const { replayed, answer } = await bankPay(ctx, bankCode, body);
    return { ...answer, replayed };
  });

  http.post("/v1/payment/bank/:bankCode/reverse", async (req) => {
    const { bankCode } = parseInput(bankParams, req.params, "params");
    const body = parseInput(
      z.strictObject({
        agencyCode,
        bankSerialNo: bankSerial,
        originalBankSerialNo: bankSerial,
        reason: z.string().trim().min(1).max(100),
      }),
      req.body,
      "body",
    );
    await authenticateBank(ctx, bankCode, body.agencyCode, message(req));
    const { replayed, answer } = await bankReverse(ctx, bankCode, body);
    return { ...answer, replayed };
  });

  const caller = (req: FastifyRequest) => authenticateCaller(req, opts.internalToken);

  // Where the police business system answers "what is due on this decision" (an app sets its own).
  http.put("/v1/payment/decision-sources/:appId", async (req) => {
    const c = caller(req);
    const { appId } = parseInput(
      z.object({ appId: z.string().regex(/^[\w.-]{1,64}$/) }),
      req.params,
      "params",
    );
    const body = parseInput(paymentApi.callbackTargetCommand, req.body, "body");
    requireAgency(c, body.agencyCode);
    if (c.actor.startsWith("app:") && c.actor !== `app:${appId}`) {
      throw new AppError("forbidden", `${c.actor} may not set another app's decision source`, {
        code: "NOT_YOUR_APP",
      });
    }
    await setDecisionSource(ctx, c.actor, { ...body, appId });
    return { agencyCode: body.agencyCode, appId, url: body.url };
  });

  // 到账资金对账: operators (or the day-end job) run it; the finance office reads it.
  http.post("/v1/payment/funds-arrivals", async (req) => {
    const c = caller(req);
    if (c.actor.startsWith("app:")) {
      throw new AppError("forbidden", "a business system does not reconcile", { code: "FORBIDDEN" });
    }
    const body = parseInput(
      z.strictObject({ agencyCode, settlementDay: day, arrivalDay: day.optional() }),
      req.body,
      "body",
    );
    requireAgency(c, body.agencyCode);
    return reconcileFunds(ctx, c.actor, body);
  });

  http.get("/v1/payment/funds-arrivals/:settlementDay", async (req) => {
    const c = caller(req);
    const { settlementDay } = parseInput(z.object({ settlementDay: day }), req.params, "params");
    const q = parseInput(z.object({ agencyCode }), req.query, "query");
    requireAgency(c, q.agencyCode);
    return fundsResultOf(ctx, q.agencyCode, settlementDay);
  });
}
