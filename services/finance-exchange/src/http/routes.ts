import { agencyCode, billCode, billNumber, numberRange, sm3Hex, text } from "@piaoju/contracts";
import { AppError, authenticateCaller, parseInput, requireAgency } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { type ExchangeAdmin, QUEUE_STATES } from "../app/admin.ts";

const day = z.iso.date();
const prefix = "/v1/finance-exchange";

/** Internal admin routes of the exchange: on-demand sync, stock applications, reconciliation, audit, queue status. */
export function registerExchangeRoutes(
  http: FastifyInstance,
  admin: ExchangeAdmin,
  internalToken: string,
): void {
  http.post(`${prefix}/base-data/sync`, async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(z.object({ agencyCode }), req.body, "body");
    requireAgency(caller, body.agencyCode);
    return reply.status(202).send(await admin.syncBaseData(caller.actor, body.agencyCode));
  });

  http.get(`${prefix}/base-data`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(z.object({ agencyCode, kind: text().max(32).optional() }), req.query, "query");
    requireAgency(caller, q.agencyCode);
    return { items: await admin.listBaseData(q.agencyCode, q.kind) };
  });

  http.post(`${prefix}/stock-applications`, async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(
      z.object({ agencyCode, billCode, quantity: z.number().int().min(1).max(1_000_000) }),
      req.body,
      "body",
    );
    requireAgency(caller, body.agencyCode);
    return reply.status(202).send(await admin.applyForStock(caller.actor, body));
  });

  http.get(`${prefix}/stock-applications`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({ agencyCode, limit: z.coerce.number().int().min(1).max(500).default(100) }),
      req.query,
      "query",
    );
    requireAgency(caller, q.agencyCode);
    return { items: await admin.listStockApplications(q.agencyCode, q.limit) };
  });

  http.get(`${prefix}/stock-applications/:id`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(z.object({ id: z.uuid() }), req.params, "params");
    const application = await admin.findStockApplication(id);
    requireAgency(caller, application.agencyCode);
    return application;
  });

  http.post(`${prefix}/reconciliations`, async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(z.object({ agencyCode, day }), req.body, "body");
    requireAgency(caller, body.agencyCode);
    return reply.status(202).send(await admin.reconcileDay(caller.actor, body.agencyCode, body.day));
  });

  http.get(`${prefix}/reconciliations`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(z.object({ agencyCode, day }), req.query, "query");
    requireAgency(caller, q.agencyCode);
    const report = await admin.latestReport(q.agencyCode, q.day);
    if (!report) {
      throw new AppError("not_found", `no reconciliation of ${q.agencyCode} for ${q.day} yet`, {
        code: "REPORT_NOT_READY",
      });
    }
    return report;
  });

  http.post(`${prefix}/audit-reports`, async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(
      z.object({
        agencyCode,
        billCode,
        periodStart: day,
        periodEnd: day,
        destroyed: z.array(numberRange).default([]),
      }),
      req.body,
      "body",
    );
    requireAgency(caller, body.agencyCode);
    return reply.status(202).send(await admin.submitAuditReport(caller.actor, body));
  });

  http.get(`${prefix}/audit-reports/:id`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(z.object({ id: z.uuid() }), req.params, "params");
    const report = await admin.findAuditReport(id);
    requireAgency(caller, report.agencyCode);
    return report;
  });

  http.get(`${prefix}/supervision/:receiptId`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { receiptId } = parseInput(z.object({ receiptId: z.uuid() }), req.params, "params");
    const item = await admin.supervisionOf(receiptId);
    requireAgency(caller, item.agency_code as string);
    return item;
  });

  http.get(`${prefix}/archive/:contentSm3/verification`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { contentSm3 } = parseInput(z.object({ contentSm3: sm3Hex }), req.params, "params");
    const result = await admin.verifyArchived(contentSm3);
    requireAgency(caller, result.agencyCode);
    return result;
  });

  const paging = {
    page: z.coerce.number().int().min(1).max(100_000).default(1),
    pageSize: z.coerce.number().int().min(1).max(100).default(20),
  };

  // 财政交互 (the console): the agency's upload queue, with attempts, last error and next attempt.
  http.get(`${prefix}/queue`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({
        agencyCode,
        state: z.enum(QUEUE_STATES).optional(),
        billCode: billCode.optional(),
        ...paging,
      }),
      req.query,
      "query",
    );
    requireAgency(caller, q.agencyCode);
    return admin.queue(q.agencyCode, q);
  });

  // The archive: what finance supervised, kept as downloaded (each provable again by its SM3).
  http.get(`${prefix}/archive`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({
        agencyCode,
        billCode: billCode.optional(),
        number: billNumber.optional(),
        from: day.optional(),
        to: day.optional(),
        ...paging,
      }),
      req.query,
      "query",
    );
    requireAgency(caller, q.agencyCode);
    return admin.archive(q.agencyCode, q);
  });

  // Operators' views: the whole queue and the refused ferry files (platform administrators only).
  http.get(`${prefix}/status`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    requireAdministrator(caller.agencies);
    return admin.status();
  });

  http.get(`${prefix}/ferry/rejections`, async (req) => {
    const caller = authenticateCaller(req, internalToken);
    requireAdministrator(caller.agencies);
    return { items: await admin.ferryRejections() };
  });
}

function requireAdministrator(agencies: ReadonlySet<string> | "*"): void {
  if (agencies !== "*") {
    throw new AppError("forbidden", "only platform administrators see the whole exchange", {
      code: "OUT_OF_SCOPE",
    });
  }
}
