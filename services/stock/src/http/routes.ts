import { agencyCode, billCode, billNumber, issuingPointCode, text } from "@piaoju/contracts";
import { AppError, authenticateCaller, parseInput, requireAgency } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { listBillKinds, registerBillKind } from "../app/bill-kinds.ts";
import type { StockContext } from "../app/context.ts";
import { distribute, listDistributions, listRules, setRule } from "../app/distribution.ts";
import { ledger } from "../app/ledger.ts";
import { listRemovals, returnNumbers, voidNumbers } from "../app/removals.ts";
import { confirm, findSegment, listSegments, receiveManually } from "../app/segments.ts";
import { listWriteOffs, requestWriteOff } from "../app/write-offs.ts";

const businessDay = z.iso.date();
const period = text().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "a period is a month, YYYY-MM");
const stockRange = { agencyCode, billCode, startNumber: billNumber, endNumber: billNumber };

/** Internal API of the stock service; the gateway fronts it. Handlers validate and delegate. */
export function registerStockRoutes(http: FastifyInstance, stock: StockContext, internalToken: string): void {
  http.post("/v1/stock/bill-kinds", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(
      z.object({ agencyCode, billCode, name: text().trim().min(1).max(100) }),
      req.body,
      "body",
    );
    requireAgency(caller, body.agencyCode);
    return reply.status(201).send(await registerBillKind(stock, caller.actor, body));
  });

  http.get("/v1/stock/bill-kinds", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(z.object({ agencyCode }), req.query, "query");
    requireAgency(caller, q.agencyCode);
    return { items: await listBillKinds(stock, q.agencyCode) };
  });

  http.post("/v1/stock/segments", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(
      z.object({ agencyCode, billCode, startNumber: billNumber, endNumber: billNumber }),
      req.body,
      "body",
    );
    requireAgency(caller, body.agencyCode);
    const segment = await receiveManually(stock, caller.actor, {
      agencyCode: body.agencyCode,
      billCode: body.billCode,
      startNumber: BigInt(body.startNumber),
      endNumber: BigInt(body.endNumber),
    });
    return reply.status(201).send(segment);
  });

  http.get("/v1/stock/segments", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({
        agencyCode,
        billCode: billCode.optional(),
        status: z.enum(["RECEIVED", "STOCKED"]).optional(),
      }),
      req.query,
      "query",
    );
    requireAgency(caller, q.agencyCode);
    return { items: await listSegments(stock, q) };
  });

  http.get("/v1/stock/segments/:id", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(z.object({ id: z.uuid() }), req.params, "params");
    const segment = await findSegment(stock, id);
    if (!segment)
      throw new AppError("not_found", `segment ${id} does not exist`, { code: "SEGMENT_UNKNOWN" });
    requireAgency(caller, segment.agencyCode);
    return segment;
  });

  // 入库: confirm a received segment into stock.
  http.post("/v1/stock/segments/:id/confirm", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(z.object({ id: z.uuid() }), req.params, "params");
    return confirm(stock, caller.actor, id, (agency) => requireAgency(caller, agency));
  });

  // 分发 rules: keep an issuing point at or above a threshold of unused numbers.
  http.put("/v1/stock/distribution-rules/:agencyCode/:billCode/:issuingPointCode", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const key = parseInput(z.object({ agencyCode, billCode, issuingPointCode }), req.params, "params");
    requireAgency(caller, key.agencyCode);
    const body = parseInput(
      z.object({
        threshold: z.number().int().min(0).max(1_000_000),
        batchSize: z.number().int().min(1).max(1_000_000),
        enabled: z.boolean().default(true),
      }),
      req.body,
      "body",
    );
    return setRule(stock, caller.actor, { ...key, ...body });
  });

  http.get("/v1/stock/distribution-rules", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(z.object({ agencyCode }), req.query, "query");
    requireAgency(caller, q.agencyCode);
    return { items: await listRules(stock, q.agencyCode) };
  });

  // 分发 by hand.
  http.post("/v1/stock/distributions", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(
      z.object({ agencyCode, billCode, issuingPointCode, count: z.number().int().min(1).max(1_000_000) }),
      req.body,
      "body",
    );
    requireAgency(caller, body.agencyCode);
    return reply.status(201).send({ items: await distribute(stock, caller.actor, body) });
  });

  http.get("/v1/stock/distributions", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({ agencyCode, billCode: billCode.optional(), issuingPointCode: issuingPointCode.optional() }),
      req.query,
      "query",
    );
    requireAgency(caller, q.agencyCode);
    return { items: await listDistributions(stock, q) };
  });

  // 领用存: received / used / remaining over business days, of the agency or of one issuing point.
  http.get("/v1/stock/ledger", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(
      z
        .object({
          agencyCode,
          billCode,
          issuingPointCode: issuingPointCode.optional(),
          from: businessDay,
          to: businessDay,
        })
        .refine((v) => v.from <= v.to, { message: "from must not be after to", path: ["to"] }),
      req.query,
      "query",
    );
    requireAgency(caller, q.agencyCode);
    return { ...q, ...(await ledger(stock, q)) };
  });

  // 申退: undistributed numbers of a stocked segment go back to finance.
  http.post("/v1/stock/returns", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(z.object(stockRange), req.body, "body");
    requireAgency(caller, body.agencyCode);
    const returned = await returnNumbers(stock, caller.actor, {
      ...body,
      startNumber: BigInt(body.startNumber),
      endNumber: BigInt(body.endNumber),
    });
    return reply.status(201).send(returned);
  });

  // 库存作废: undistributed numbers of a stocked segment are voided unused, with a reason.
  http.post("/v1/stock/voids", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(
      z.object({ ...stockRange, reason: text().trim().min(1).max(200) }),
      req.body,
      "body",
    );
    requireAgency(caller, body.agencyCode);
    const voided = await voidNumbers(stock, caller.actor, {
      ...body,
      startNumber: BigInt(body.startNumber),
      endNumber: BigInt(body.endNumber),
    });
    return reply.status(201).send(voided);
  });

  // 核销申请: the month's 领用存 submitted for write-off; asking again returns the same record.
  http.post("/v1/stock/write-offs", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(z.object({ agencyCode, billCode, period }), req.body, "body");
    requireAgency(caller, body.agencyCode);
    const { created, writeOff } = await requestWriteOff(stock, caller.actor, body);
    return reply.status(created ? 201 : 200).send(writeOff);
  });

  http.get("/v1/stock/removals", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({
        agencyCode,
        billCode: billCode.optional(),
        kind: z.enum(["RETURNED", "VOIDED"]).optional(),
      }),
      req.query,
      "query",
    );
    requireAgency(caller, q.agencyCode);
    return { items: await listRemovals(stock, q) };
  });

  http.get("/v1/stock/write-offs", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(z.object({ agencyCode, billCode: billCode.optional() }), req.query, "query");
    requireAgency(caller, q.agencyCode);
    return { items: await listWriteOffs(stock, q) };
  });
}
