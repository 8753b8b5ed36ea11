import { maskIdentifier } from "@piaoju/access";
import {
  agencyCode,
  billCode,
  billNumber,
  email,
  freeText,
  issuingPointCode,
  payerCode,
  payerCodeProblem,
  personName,
  phone,
  receiptApi,
  referenceCode,
  singleLine,
  text,
} from "@piaoju/contracts";
import {
  AppError,
  authenticateCaller,
  type Caller,
  inScope,
  parseInput,
  requireAgency,
  requireInScope,
} from "@piaoju/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { bookReceipt } from "../app/book-receipt.ts";
import { listIssuingPoints, listItems, registerIssuingPoint, registerItem } from "../app/catalog.ts";
import type { IssuanceContext } from "../app/context.ts";
import {
  createFrequentPayer,
  deleteFrequentPayer,
  findFrequentPayer,
  fullView,
  listFrequentPayers,
  unknownPayer,
  updateFrequentPayer,
} from "../app/frequent-payers.ts";
import { issueReceipt } from "../app/issue-receipt.ts";
import {
  createItemGroup,
  deleteItemGroup,
  findItemGroup,
  listItemGroups,
  unknownGroup,
  updateItemGroup,
} from "../app/item-groups.ts";
import { findBySerial, findReceipt, receiptDocument, verifyReceipt } from "../app/lookups.ts";
import { listNumberRuns } from "../app/numbers.ts";
import { exchangeForPaper, returnPaper } from "../app/paper.ts";
import { redFlush } from "../app/red-flush.ts";
import type { ReceiptView } from "../app/views.ts";
import { voidReceipt } from "../app/void-receipt.ts";
import { bizSerialNo, issueRequestShape } from "../domain/request.ts";

type Receipt = ReceiptView;

/** A receipt as a thing in a data scope: its agency, its issuing point, who issued it. */
const scopeOf = (r: Receipt) => ({
  agencyCode: r.agencyCode,
  issuingPointCode: r.issuingPointCode,
  createdBy: r.createdBy,
});

/**
 * What the caller gets of a receipt: a business system sent the payer's identifier itself and
 * does not need it back in full (issue 9 class 6); people in scope see it (they check it at the window).
 */
export function receiptFor(caller: Caller, r: Receipt): Receipt {
  if (caller.kind === "person") return r;
  return { ...r, payer: { ...r.payer, code: maskIdentifier(r.payer.code) } };
}

/** Internal API of the issuance service; the gateway fronts it. Handlers validate and delegate. */
export function registerIssuanceRoutes(
  http: FastifyInstance,
  issuance: IssuanceContext,
  internalToken: string,
): void {
  // 收入项目
  http.post("/v1/issuance/items", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(
      z.strictObject({
        agencyCode,
        code: referenceCode,
        name: singleLine(100),
        unit: singleLine(16),
        standardFen: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullable(),
        enabled: z.boolean().default(true),
      }),
      req.body,
      "body",
    );
    requireAgency(caller, body.agencyCode);
    return reply.status(201).send(await registerItem(issuance, caller.actor, body));
  });

  http.get("/v1/issuance/items", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(z.object({ agencyCode }), req.query, "query");
    requireAgency(caller, q.agencyCode);
    return { items: await listItems(issuance, q.agencyCode) };
  });

  // 开票点
  http.post("/v1/issuance/issuing-points", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(
      z.strictObject({
        agencyCode,
        code: issuingPointCode,
        name: singleLine(100),
        enabled: z.boolean().default(true),
      }),
      req.body,
      "body",
    );
    requireAgency(caller, body.agencyCode);
    return reply.status(201).send(await registerIssuingPoint(issuance, caller.actor, body));
  });

  http.get("/v1/issuance/issuing-points", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(z.object({ agencyCode }), req.query, "query");
    requireAgency(caller, q.agencyCode);
    return { items: await listIssuingPoints(issuance, q.agencyCode) };
  });

  // The runs of numbers each issuing point issues from, and how far each has got.
  http.get("/v1/issuance/number-runs", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({ agencyCode, issuingPointCode: issuingPointCode.optional() }),
      req.query,
      "query",
    );
    requireAgency(caller, q.agencyCode);
    if (q.issuingPointCode) {
      requireInScope(
        caller,
        { agencyCode: q.agencyCode, issuingPointCode: q.issuingPointCode },
        `issuing point ${q.issuingPointCode}`,
      );
    }
    const runs = await listNumberRuns(issuance, q);
    return {
      items: runs.filter((r) =>
        inScope(caller, { agencyCode: r.agencyCode, issuingPointCode: r.issuingPointCode }),
      ),
    };
  });

  // 开具: 201 with a new receipt, 200 with the receipt a retry of the same request already has.
  http.post("/v1/receipts", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const request = parseInput(issueRequestShape, req.body, "body");
    requireInScope(
      caller,
      { agencyCode: request.agencyCode, issuingPointCode: request.issuingPointCode, createdBy: caller.actor },
      `issuing point ${request.issuingPointCode}`,
    );
    // Provenance is the platform's, never the body's: a business system's call comes through the
    // gateway as its app (接口开具); a person's is 在线开具.
    const source = caller.kind === "app" ? "API" : "ONLINE";
    const outcome = await issueReceipt(issuance, caller.actor, source, request);
    // A retry finds the receipt its first request made: it is the caller's only if in scope.
    requireInScope(caller, scopeOf(outcome.receipt), `receipt ${outcome.receipt.id}`);
    return reply.status(outcome.created ? 201 : 200).send(receiptFor(caller, outcome.receipt));
  });

  // 查验: status only; declared before /:id so "verify" is never read as an id.
  http.get("/v1/receipts/verify", async (req) => {
    authenticateCaller(req, internalToken);
    const q = parseInput(
      z.strictObject({ billCode, number: billNumber, checkCode: text().regex(/^\d{6}$/, "6 digits") }),
      req.query,
      "query",
    );
    return verifyReceipt(issuance, q);
  });

  http.get("/v1/receipts", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(z.object({ agencyCode, bizSerialNo }), req.query, "query");
    requireAgency(caller, q.agencyCode);
    const receipt = await findBySerial(issuance, q.agencyCode, q.bizSerialNo);
    // Out of scope reads as not there: an app of another point learns nothing of it.
    return { items: receipt && inScope(caller, scopeOf(receipt)) ? [receiptFor(caller, receipt)] : [] };
  });

  http.get("/v1/receipts/:id", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(z.object({ id: z.uuid() }), req.params, "params");
    const receipt = await findReceipt(issuance, id);
    if (!receipt)
      throw new AppError("not_found", `receipt ${id} does not exist`, { code: "RECEIPT_UNKNOWN" });
    requireInScope(caller, scopeOf(receipt), `receipt ${id}`);
    return receiptFor(caller, receipt);
  });

  // The XML document as served: the stored bytes with both signatures inside <EInvoiceSignature>
  // (taken out, the stored bytes remain; their SM3 is the receipt's documentSm3).
  http.get("/v1/receipts/:id/document", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(z.object({ id: z.uuid() }), req.params, "params");
    const found = await receiptDocument(issuance, id);
    if (!found) throw new AppError("not_found", `receipt ${id} does not exist`, { code: "RECEIPT_UNKNOWN" });
    const receipt = await findReceipt(issuance, id);
    requireInScope(caller, receipt ? scopeOf(receipt) : { agencyCode: found.agencyCode }, `receipt ${id}`);
    return reply.type("application/xml; charset=utf-8").send(found.document);
  });

  registerLifecycleRoutes(http, issuance, internalToken);
  registerWindowRoutes(http, issuance, internalToken);
}

const idParams = z.object({ id: z.uuid() });

const itemGroupFields = {
  name: singleLine(50),
  itemCodes: z.array(referenceCode).min(1).max(50),
  remark: freeText(200).optional(),
  enabled: z.boolean().default(true),
};

const payerFields = {
  type: z.union([z.literal(1), z.literal(2)], "1 (a person) or 2 (an organisation)"),
  code: payerCode,
  name: personName(200),
  phone: phone.optional(),
  email: email.optional(),
};

/** The ID number checked by the payer's type (ID card or unified social credit code), as on a receipt. */
function checkPayerCode(p: { type: 1 | 2; code: string }, ctx: z.RefinementCtx): void {
  const problem = payerCodeProblem(p.type, p.code);
  if (problem) {
    ctx.addIssue({
      code: "custom",
      path: ["code"],
      message: problem,
      params: { rule: p.type === 1 ? "id_card_number" : "unified_social_credit_code" },
    });
  }
}

/**
 * What the window works with besides receipts: 项目分组 (the agency's item groups, kept by its
 * ticket manager) and 常用交款人 (payers saved per issuing point). Another agency's group or payer,
 * or another point's payer for a clerk bound to points, reads as not there and cannot be changed.
 */
function registerWindowRoutes(http: FastifyInstance, issuance: IssuanceContext, internalToken: string): void {
  http.get("/v1/issuance/item-groups", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(z.object({ agencyCode }), req.query, "query");
    requireAgency(caller, q.agencyCode);
    return { items: await listItemGroups(issuance, q.agencyCode) };
  });

  http.post("/v1/issuance/item-groups", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(z.strictObject({ agencyCode, ...itemGroupFields }), req.body, "body");
    requireAgency(caller, body.agencyCode);
    return reply.status(201).send(await createItemGroup(issuance, caller.actor, body));
  });

  const groupInScope = async (req: FastifyRequest) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(idParams, req.params, "params");
    return { caller, id };
  };
  const requireGroup = async (caller: Caller, id: string) => {
    const group = await findItemGroup(issuance, id);
    if (!group || !inScope(caller, { agencyCode: group.agencyCode })) throw unknownGroup(id);
  };

  http.put("/v1/issuance/item-groups/:id", async (req) => {
    const { caller, id } = await groupInScope(req);
    const body = parseInput(z.strictObject(itemGroupFields), req.body, "body");
    await requireGroup(caller, id);
    return updateItemGroup(issuance, caller.actor, id, body);
  });

  http.delete("/v1/issuance/item-groups/:id", async (req) => {
    const { caller, id } = await groupInScope(req);
    await requireGroup(caller, id);
    return deleteItemGroup(issuance, caller.actor, id);
  });

  http.get("/v1/issuance/frequent-payers", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({
        agencyCode,
        issuingPointCode: issuingPointCode.optional(),
        // Exact, found by keyed hash: compared without blanks and case (the X of an ID number).
        code: singleLine(32).optional(),
        name: personName(200).optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
      }),
      req.query,
      "query",
    );
    requireAgency(caller, q.agencyCode);
    if (q.issuingPointCode) {
      requireInScope(
        caller,
        { agencyCode: q.agencyCode, issuingPointCode: q.issuingPointCode },
        `issuing point ${q.issuingPointCode}`,
      );
    }
    // A clerk bound to points sees those points' payers; an agency-wide grant, all of the agency's.
    const reach =
      caller.access && caller.permission ? caller.access.reach(caller.permission, q.agencyCode) : undefined;
    const points: "*" | ReadonlySet<string> = q.issuingPointCode
      ? new Set([q.issuingPointCode])
      : reach && !reach.ownOnly
        ? reach.points
        : "*";
    const items = await listFrequentPayers(issuance, {
      agencyCode: q.agencyCode,
      points,
      code: q.code,
      name: q.name,
      limit: q.limit,
    });
    // "Own" grants: the payers this person saved.
    return { items: reach?.ownOnly ? items.filter((p) => p.createdBy === caller.actor) : items };
  });

  const payerOf = async (caller: Caller, id: string) => {
    const row = await findFrequentPayer(issuance, id);
    if (
      !row ||
      !inScope(caller, {
        agencyCode: row.agencyCode,
        issuingPointCode: row.issuingPointCode,
        createdBy: row.createdBy,
      })
    )
      throw unknownPayer(id);
    return row;
  };

  // One payer in full, for the 开票 form it fills (lists show them masked).
  http.get("/v1/issuance/frequent-payers/:id", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(idParams, req.params, "params");
    return fullView(issuance, await payerOf(caller, id));
  });

  http.post("/v1/issuance/frequent-payers", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const body = parseInput(
      z.strictObject({ agencyCode, issuingPointCode, ...payerFields }).superRefine(checkPayerCode),
      req.body,
      "body",
    );
    requireInScope(
      caller,
      { agencyCode: body.agencyCode, issuingPointCode: body.issuingPointCode, createdBy: caller.actor },
      `issuing point ${body.issuingPointCode}`,
    );
    return reply.status(201).send(await createFrequentPayer(issuance, caller.actor, body));
  });

  http.put("/v1/issuance/frequent-payers/:id", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(idParams, req.params, "params");
    const body = parseInput(z.strictObject(payerFields).superRefine(checkPayerCode), req.body, "body");
    await payerOf(caller, id);
    return updateFrequentPayer(issuance, caller.actor, id, body);
  });

  http.delete("/v1/issuance/frequent-payers/:id", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(idParams, req.params, "params");
    await payerOf(caller, id);
    return deleteFrequentPayer(issuance, caller.actor, id);
  });
}

/** A status in a few fields: what a business system polls after issuing or red-flushing. */
function statusOf(r: Receipt) {
  return {
    id: r.id,
    billCode: r.billCode,
    number: r.number,
    kind: r.kind,
    status: r.status,
    ...(r.originalReceiptId ? { originalReceiptId: r.originalReceiptId } : {}),
    agencySigned: r.agencySignature !== undefined,
    supervised: r.financeSignature !== undefined,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.paper ? { paper: r.paper } : {}),
    ...(r.booked ? { booked: r.booked } : {}),
    allowedCommands: r.allowedCommands,
  };
}

/**
 * What people do to a receipt after it was requested: 冲红, 换开 and its return, 入账, 作废.
 * Each checks the caller's scope against the receipt's agency before anything changes.
 * 201 for a new red receipt; 200 for a change or for a retry of one already made.
 */
function registerLifecycleRoutes(
  http: FastifyInstance,
  issuance: IssuanceContext,
  internalToken: string,
): void {
  const receiptInScope = async (req: FastifyRequest) => {
    const caller = authenticateCaller(req, internalToken);
    const { id } = parseInput(z.object({ id: z.uuid() }), req.params, "params");
    const receipt = await findReceipt(issuance, id);
    if (!receipt)
      throw new AppError("not_found", `receipt ${id} does not exist`, { code: "RECEIPT_UNKNOWN" });
    requireInScope(caller, scopeOf(receipt), `receipt ${id}`);
    return { caller, receipt };
  };

  http.get("/v1/receipts/:id/status", async (req) => statusOf((await receiptInScope(req)).receipt));

  http.post("/v1/receipts/:id/red-flush", async (req, reply) => {
    const { caller, receipt } = await receiptInScope(req);
    const body = parseInput(receiptApi.redFlushBody, req.body, "body");
    const outcome = await redFlush(issuance, caller.actor, receipt.id, body);
    return reply.status(outcome.changed ? 201 : 200).send(receiptFor(caller, outcome.receipt));
  });

  http.post("/v1/receipts/:id/paper-exchange", async (req) => {
    const { caller, receipt } = await receiptInScope(req);
    const body = parseInput(receiptApi.paperExchangeBody, req.body, "body");
    return receiptFor(caller, (await exchangeForPaper(issuance, caller.actor, receipt.id, body)).receipt);
  });

  http.post("/v1/receipts/:id/paper-return", async (req) => {
    const { caller, receipt } = await receiptInScope(req);
    const body = parseInput(receiptApi.paperReturnBody, req.body, "body");
    return receiptFor(caller, (await returnPaper(issuance, caller.actor, receipt.id, body)).receipt);
  });

  http.post("/v1/receipts/:id/book", async (req) => {
    const { caller, receipt } = await receiptInScope(req);
    const body = parseInput(receiptApi.bookBody, req.body, "body");
    return receiptFor(caller, (await bookReceipt(issuance, caller.actor, receipt.id, body)).receipt);
  });

  http.post("/v1/receipts/:id/void", async (req) => {
    const { caller, receipt } = await receiptInScope(req);
    const body = parseInput(receiptApi.voidBody, req.body, "body");
    return receiptFor(caller, (await voidReceipt(issuance, caller.actor, receipt.id, body)).receipt);
  });
}
