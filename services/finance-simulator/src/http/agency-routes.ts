import { parseInput, signedJsonBody } from "@piaoju/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  auditReportRequest,
  baseDataQuery,
  clientId,
  nontaxClearingRequest,
  nontaxNoticeRequest,
  nontaxPaymentRequest,
  nontaxRefundRequest,
  nontaxRefundResult,
  segmentsQuery,
  statusUpdateRequest,
  stockApplicationRequest,
  supervisedReceiptsQuery,
  supervisionBatchRequest,
  verifyQuery,
} from "../api.ts";
import { agencySecret, readBaseData } from "../app/base-data.ts";
import type { SimContext } from "../app/context.ts";
import { createNotice, readNotice, recordNoticePayment } from "../app/nontax.ts";
import { readClearing, receiveClearing } from "../app/nontax-clearing.ts";
import { applyRefund, readRefund, recordRefundResult } from "../app/nontax-refunds.ts";
import { applyStatusUpdates, getAuditReport, receiveAuditReport, verifyReceipt } from "../app/receipts.ts";
import { applyForStock, listSegments, readApplication } from "../app/stock.ts";
import { listSupervised, superviseBatch } from "../app/supervision.ts";
import { authenticateAgency, NonceMemory } from "./auth.ts";

/** The agency API (signed) and the public verification API, on the agency listener. */
export function agencyRoutes(app: FastifyInstance, ctx: SimContext): void {
  // Signed routes: a body is read only once the agency's signature over its bytes held.
  app.addHook("onRoute", (route) => {
    if (route.url.startsWith("/fin/v1/") && !route.url.startsWith("/fin/v1/public/")) {
      route.config = { ...route.config, signedBody: true };
    }
  });
  const nonces = new NonceMemory();
  const agencyOf = (req: FastifyRequest) =>
    authenticateAgency(req, (code) => agencySecret(ctx, code), nonces);

  app.get("/fin/v1/base-data", async (req) => {
    const agencyCode = await agencyOf(req);
    const { since } = parseInput(baseDataQuery, req.query, "query");
    return readBaseData(ctx, agencyCode, since);
  });

  app.post("/fin/v1/stock-applications", async (req, reply) => {
    const agencyCode = await agencyOf(req);
    const input = parseInput(stockApplicationRequest, signedJsonBody(req), "body");
    const { created, application } = await applyForStock(ctx, agencyCode, input);
    return reply.status(created ? 201 : 200).send(application);
  });

  app.get("/fin/v1/stock-applications/:applicationId", async (req) => {
    const agencyCode = await agencyOf(req);
    const { applicationId } = parseInput(z.object({ applicationId: clientId }), req.params, "params");
    return readApplication(ctx.db, { agencyCode, applicationId });
  });

  app.get("/fin/v1/segments", async (req) => {
    const agencyCode = await agencyOf(req);
    const { since, limit } = parseInput(segmentsQuery, req.query, "query");
    return listSegments(ctx.db, agencyCode, since, limit);
  });

  app.post("/fin/v1/supervision/batches", async (req) => {
    const agencyCode = await agencyOf(req);
    const { batchId, receipts } = parseInput(supervisionBatchRequest, signedJsonBody(req), "body");
    const results = await superviseBatch(ctx, agencyCode, batchId, receipts);
    const rejected = results.filter((r) => r.status === "REJECTED");
    // What an agency's tester looks for first: which receipts finance refused, and why.
    req.log.info(
      {
        agencyCode,
        batchId,
        supervised: results.length - rejected.length,
        rejected: rejected.map((r) => ({ receiptId: r.receiptId, number: r.number, code: r.code })),
      },
      "supervision batch",
    );
    return { batchId, results };
  });

  app.get("/fin/v1/supervised-receipts", async (req) => {
    const agencyCode = await agencyOf(req);
    const query = parseInput(supervisedReceiptsQuery, req.query, "query");
    return listSupervised(ctx, agencyCode, query);
  });

  app.post("/fin/v1/receipt-status", async (req) => {
    const agencyCode = await agencyOf(req);
    const { updates } = parseInput(statusUpdateRequest, signedJsonBody(req), "body");
    return { results: await applyStatusUpdates(ctx, agencyCode, updates) };
  });

  app.post("/fin/v1/audit-reports", async (req, reply) => {
    const agencyCode = await agencyOf(req);
    const report = parseInput(auditReportRequest, signedJsonBody(req), "body");
    const { created, response } = await receiveAuditReport(ctx, agencyCode, report);
    return reply.status(created ? 201 : 200).send(response);
  });

  app.get("/fin/v1/audit-reports/:reportId", async (req) => {
    const agencyCode = await agencyOf(req);
    const { reportId } = parseInput(z.object({ reportId: clientId }), req.params, "params");
    return getAuditReport(ctx, agencyCode, reportId);
  });

  app.post("/fin/v1/nontax/notices", async (req, reply) => {
    const agencyCode = await agencyOf(req);
    const input = parseInput(nontaxNoticeRequest, signedJsonBody(req), "body");
    const { created, notice } = await createNotice(ctx, agencyCode, input);
    return reply.status(created ? 201 : 200).send(notice);
  });

  app.get("/fin/v1/nontax/notices/:paymentCode", async (req) => {
    const agencyCode = await agencyOf(req);
    const { paymentCode } = parseInput(
      z.object({ paymentCode: z.string().regex(/^\d{20}$/) }),
      req.params,
      "params",
    );
    return readNotice(ctx, agencyCode, paymentCode);
  });

  app.post("/fin/v1/nontax/notices/:paymentCode/payment", async (req) => {
    const agencyCode = await agencyOf(req);
    const { paymentCode } = parseInput(
      z.object({ paymentCode: z.string().regex(/^\d{20}$/) }),
      req.params,
      "params",
    );
    const input = parseInput(nontaxPaymentRequest, signedJsonBody(req), "body");
    return recordNoticePayment(ctx, agencyCode, paymentCode, input);
  });

  app.post("/fin/v1/nontax/notices/:paymentCode/refunds", async (req, reply) => {
    const agencyCode = await agencyOf(req);
    const { paymentCode } = parseInput(
      z.object({ paymentCode: z.string().regex(/^\d{20}$/) }),
      req.params,
      "params",
    );
    const input = parseInput(nontaxRefundRequest, signedJsonBody(req), "body");
    const { created, refund } = await applyRefund(ctx, agencyCode, paymentCode, input);
    return reply.status(created ? 201 : 200).send(refund);
  });

  app.get("/fin/v1/nontax/refunds/:refundId", async (req) => {
    const agencyCode = await agencyOf(req);
    const { refundId } = parseInput(z.object({ refundId: z.string().min(1).max(64) }), req.params, "params");
    return readRefund(ctx, agencyCode, refundId);
  });

  app.post("/fin/v1/nontax/clearing-instructions", async (req, reply) => {
    const agencyCode = await agencyOf(req);
    const input = parseInput(nontaxClearingRequest, signedJsonBody(req), "body");
    const { created, instruction } = await receiveClearing(ctx, agencyCode, input);
    return reply.status(created ? 201 : 200).send(instruction);
  });

  app.get("/fin/v1/nontax/clearing-instructions/:instructionId", async (req) => {
    const agencyCode = await agencyOf(req);
    const { instructionId } = parseInput(
      z.object({ instructionId: z.string().min(1).max(64) }),
      req.params,
      "params",
    );
    return readClearing(ctx, agencyCode, instructionId);
  });

  app.post("/fin/v1/nontax/refunds/:refundId/result", async (req) => {
    const agencyCode = await agencyOf(req);
    const { refundId } = parseInput(z.object({ refundId: z.string().min(1).max(64) }), req.params, "params");
    const input = parseInput(nontaxRefundResult, signedJsonBody(req), "body");
    return recordRefundResult(ctx, agencyCode, refundId, input);
  });

  app.get("/fin/v1/public/verify", async (req) =>
    verifyReceipt(ctx, parseInput(verifyQuery, req.query, "query")),
  );

  app.get("/fin/v1/public/certificates", async () => ({
    financeCertificatePem: ctx.identity.certificate.toPem(),
    financeCertificateSm3: ctx.identity.certificateSm3,
    caCertificatePem: ctx.identity.ca.certificate.toPem(),
    trustedAgencyCaPems: ctx.trustedAgencyCas.map((c) => c.toPem()),
  }));
}
