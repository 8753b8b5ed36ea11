import { createHash, timingSafeEqual } from "node:crypto";
import { text } from "@piaoju/contracts";
import { AppError, parseInput } from "@piaoju/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  agencyCode,
  agencyUpsert,
  applicationStatus,
  approveRequest,
  baseDataUpsert,
  bookedRequest,
  certificateBind,
  faults as faultsSchema,
  rejectRequest,
  settings,
  sm3Hex,
} from "../api.ts";
import { bindCertificate, revokeCertificate, upsertAgency, upsertBaseData } from "../app/base-data.ts";
import type { SimContext } from "../app/context.ts";
import { listClearings, settleClearing } from "../app/nontax-clearing.ts";
import { decideRefund, listRefunds } from "../app/nontax-refunds.ts";
import { setBooked } from "../app/receipts.ts";
import { approveApplication, listApplications, rejectApplication } from "../app/stock.ts";
import type { FaultSwitch } from "./faults.ts";

const agencyParams = z.object({ agencyCode });
const refParams = z.object({
  financeRef: text().regex(/^APP-[0-9a-f-]{36}$/, "a finance application reference"),
});

/** The admin API, on its own listener: the test harness's and operator's controls. */
export function adminRoutes(
  app: FastifyInstance,
  ctx: SimContext,
  faults: FaultSwitch,
  adminToken: string,
): void {
  const expected = createHash("sha256").update(adminToken).digest();
  app.addHook("onRequest", async (req: FastifyRequest) => {
    if (!req.url.startsWith("/admin/")) return;
    const header = req.headers.authorization ?? "";
    const presented = createHash("sha256")
      .update(header.startsWith("Bearer ") ? header.slice(7) : "")
      .digest();
    if (!timingSafeEqual(presented, expected)) {
      throw new AppError("unauthenticated", "admin calls need Authorization: Bearer <admin token>", {
        code: "UNAUTHENTICATED",
      });
    }
  });

  // Every admin change is logged: the simulator's operator log (the admin token names no person).
  app.addHook("onResponse", async (req, reply) => {
    if (req.method !== "GET" && req.url.startsWith("/admin/")) {
      req.log.info({ method: req.method, url: req.url, status: reply.statusCode }, "admin change");
    }
  });

  app.put("/admin/v1/agencies/:agencyCode", async (req) => {
    const { agencyCode: code } = parseInput(agencyParams, req.params, "params");
    return upsertAgency(ctx, code, parseInput(agencyUpsert, req.body, "body"));
  });
  app.put("/admin/v1/agencies/:agencyCode/base-data", async (req) => {
    const { agencyCode: code } = parseInput(agencyParams, req.params, "params");
    return upsertBaseData(ctx, code, parseInput(baseDataUpsert, req.body, "body"));
  });
  app.post("/admin/v1/agencies/:agencyCode/certificates", async (req) => {
    const { agencyCode: code } = parseInput(agencyParams, req.params, "params");
    return bindCertificate(ctx, code, parseInput(certificateBind, req.body, "body"));
  });
  app.delete("/admin/v1/agencies/:agencyCode/certificates/:fingerprintSm3", async (req) => {
    const { agencyCode: code, fingerprintSm3 } = parseInput(
      agencyParams.extend({ fingerprintSm3: sm3Hex }),
      req.params,
      "params",
    );
    return revokeCertificate(ctx, code, fingerprintSm3);
  });
  app.get("/admin/v1/stock-applications", async (req) => {
    const { status } = parseInput(z.object({ status: applicationStatus.optional() }), req.query, "query");
    return { items: await listApplications(ctx.db, status) };
  });
  app.post("/admin/v1/stock-applications/:financeRef/approve", async (req) => {
    const { financeRef } = parseInput(refParams, req.params, "params");
    const { quantity } = parseInput(approveRequest, req.body, "body");
    return approveApplication(ctx, financeRef, quantity);
  });
  app.post("/admin/v1/stock-applications/:financeRef/reject", async (req) => {
    const { financeRef } = parseInput(refParams, req.params, "params");
    const { reason } = parseInput(rejectRequest, req.body, "body");
    return rejectApplication(ctx, financeRef, reason);
  });
  app.post("/admin/v1/receipts/booked", async (req) =>
    setBooked(ctx, parseInput(bookedRequest, req.body, "body")),
  );

  app.get("/admin/v1/nontax/refunds", async (req) => {
    const { status } = parseInput(
      z.object({ status: z.enum(["PENDING", "APPROVED", "REJECTED", "REFUNDED"]).optional() }),
      req.query,
      "query",
    );
    return { items: await listRefunds(ctx, status) };
  });
  app.post("/admin/v1/nontax/refunds/:refundId/approve", async (req) => {
    const { refundId } = parseInput(z.object({ refundId: z.string().min(1).max(64) }), req.params, "params");
    return decideRefund(ctx, refundId, "APPROVED");
  });
  app.post("/admin/v1/nontax/refunds/:refundId/reject", async (req) => {
    const { refundId } = parseInput(z.object({ refundId: z.string().min(1).max(64) }), req.params, "params");
    const { reason } = parseInput(rejectRequest, req.body, "body");
    return decideRefund(ctx, refundId, "REJECTED", reason);
  });

  app.get("/admin/v1/nontax/clearing-instructions", async (req) => {
    const { status } = parseInput(
      z.object({ status: z.enum(["ACCEPTED", "DONE", "REFUSED"]).optional() }),
      req.query,
      "query",
    );
    return { items: await listClearings(ctx, status) };
  });
  app.post("/admin/v1/nontax/clearing-instructions/:instructionId/complete", async (req) => {
    const { instructionId } = parseInput(
      z.object({ instructionId: z.string().min(1).max(64) }),
      req.params,
      "params",
    );
    return settleClearing(ctx, instructionId, "DONE");
  });
  app.post("/admin/v1/nontax/clearing-instructions/:instructionId/refuse", async (req) => {
    const { instructionId } = parseInput(
      z.object({ instructionId: z.string().min(1).max(64) }),
      req.params,
      "params",
    );
    const { reason } = parseInput(rejectRequest, req.body, "body");
    return settleClearing(ctx, instructionId, "REFUSED", reason);
  });

  app.get("/admin/v1/settings", async () => ({ autoApprove: ctx.autoApprove }));
  app.put("/admin/v1/settings", async (req) => {
    ctx.autoApprove = parseInput(settings, req.body, "body").autoApprove;
    return { autoApprove: ctx.autoApprove };
  });
  app.get("/admin/v1/faults", async () => faults.current);
  app.put("/admin/v1/faults", async (req) => faults.set(parseInput(faultsSchema, req.body, "body")));
  app.delete("/admin/v1/faults", async () => faults.set(faultsSchema.parse({})));

  app.get("/admin/v1/stats", async () => {
    const [row] = await ctx.db.query<{ supervised: string; rejected: string; segments: string }>(
      `SELECT (SELECT count(*) FROM receipt WHERE outcome = 'SUPERVISED') AS supervised,
              (SELECT count(*) FROM receipt WHERE outcome = 'REJECTED') AS rejected,
              (SELECT count(*) FROM segment) AS segments`,
    );
    return {
      supervised: Number(row!.supervised),
      rejected: Number(row!.rejected),
      resubmissions: ctx.stats.resubmissions,
      segments: Number(row!.segments),
      crypto: { workers: ctx.crypto.workers, inlineFallbacks: ctx.crypto.inlineFallbacks },
      faultsInjected: {
        errors: ctx.stats.faultErrors,
        lostReplies: ctx.stats.faultLostReplies,
        unavailable: ctx.stats.faultUnavailable,
      },
    };
  });
}
