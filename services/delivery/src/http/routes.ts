import { agencyCode, text, withSignatures } from "@piaoju/contracts";
import { signatureStamp } from "@piaoju/gm-crypto";
import { AppError, authenticateCaller, parseInput, requireAgency, requireInScope } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Deliveries } from "../app/deliveries.ts";
import type { Receipts } from "../app/receipts.ts";
import type { TrustAnchors } from "../app/trust.ts";
import { verifyServedDocument } from "../app/verify.ts";
import { CHANNELS } from "../domain/channels.ts";
import type { ReceiptView } from "../domain/receipt.ts";

const receiptParams = z.object({ receiptId: z.uuid() });

/**
 * Internal API of delivery (交付管理), behind the gateway: delivery status per receipt and
 * channel, re-push, the channels an agency is authorized for, and the A4 PDF to print.
 */
export function registerDeliveryRoutes(
  http: FastifyInstance,
  deps: {
    deliveries: Deliveries;
    receipts: Receipts;
    render: (r: ReceiptView) => Promise<Buffer>;
    trust: TrustAnchors;
    clock: () => Date;
  },
  internalToken: string,
): void {
  const { deliveries, receipts, render, trust, clock } = deps;

  http.get("/v1/delivery/receipts/:receiptId/deliveries", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { receiptId } = parseInput(receiptParams, req.params, "params");
    const found = await deliveries.forReceipt(receiptId);
    requireInScope(caller, found, `receipt ${receiptId}`);
    return { receiptId, items: found.deliveries };
  });

  http.get("/v1/delivery/deliveries", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const q = parseInput(
      z.object({ agencyCode, status: z.enum(["PENDING", "DELIVERED", "PARKED"]).optional() }),
      req.query,
      "query",
    );
    requireAgency(caller, q.agencyCode);
    // A clerk of some issuing points sees their deliveries only.
    const reach =
      caller.access && caller.permission ? caller.access.reach(caller.permission, q.agencyCode) : undefined;
    return {
      items: await deliveries.list(
        [q.agencyCode],
        q.status,
        reach?.ownOnly ? new Set() : (reach?.points ?? "*"),
      ),
    };
  });

  http.post("/v1/delivery/receipts/:receiptId/deliveries/:channel/repush", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const p = parseInput(receiptParams.extend({ channel: z.enum(CHANNELS) }), req.params, "params");
    const found = await deliveries.forReceipt(p.receiptId);
    requireInScope(caller, found, `receipt ${p.receiptId}`);
    return { items: await deliveries.repush(caller.actor, p.receiptId, p.channel) };
  });

  http.get("/v1/delivery/agencies/:agencyCode/channels", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const p = parseInput(z.object({ agencyCode }), req.params, "params");
    requireAgency(caller, p.agencyCode);
    return deliveries.channels(p.agencyCode);
  });

  http.put("/v1/delivery/agencies/:agencyCode/channels", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const p = parseInput(z.object({ agencyCode }), req.params, "params");
    const body = parseInput(
      z.object({
        email: z.boolean(),
        sms: z.boolean(),
        webhook: z
          .object({
            url: z.url({ protocol: /^https?$/ }),
            secret: text().min(32, "at least 32 characters").max(256),
          })
          .nullable(),
      }),
      req.body,
      "body",
    );
    requireAgency(caller, p.agencyCode);
    return deliveries.setChannels(caller.actor, p.agencyCode, body);
  });

  // 票据打印: the receipt on A4, inline so the browser's print dialog opens on it.
  http.get("/v1/delivery/receipts/:receiptId/print", async (req, reply) => {
    const caller = authenticateCaller(req, internalToken);
    const { receiptId } = parseInput(receiptParams, req.params, "params");
    const row = await receipts.find(receiptId);
    if (!row)
      throw new AppError("not_found", `receipt ${receiptId} is unknown to delivery`, {
        code: "RECEIPT_UNKNOWN",
      });
    requireInScope(caller, row, `receipt ${receiptId}`);
    const pdf = await render(receipts.view(row));
    return reply
      .type("application/pdf")
      .header("content-disposition", `inline; filename="${row.billCode}-${row.number}.pdf"`)
      .header("cache-control", "no-store")
      .send(pdf);
  });

  // 签名验证 (the console's receipt detail): the document as served — version 1.2.0, both
  // signatures inside <EInvoiceSignature> — verified here as a verifier would, each signature
  // over Header + EInvoiceData and chained to what the platform trusts for its side.
  http.get("/v1/delivery/receipts/:receiptId/verification", async (req) => {
    const caller = authenticateCaller(req, internalToken);
    const { receiptId } = parseInput(receiptParams, req.params, "params");
    const row = await receipts.find(receiptId);
    if (!row)
      throw new AppError("not_found", `receipt ${receiptId} is unknown to delivery`, {
        code: "RECEIPT_UNKNOWN",
      });
    requireInScope(caller, row, `receipt ${receiptId}`);
    const served = withSignatures(Buffer.from(receipts.document(row), "base64"), {
      agency: signatureStamp(row.agencySignature),
      finance: signatureStamp(row.financeSignature),
    });
    const result = verifyServedDocument(
      served,
      row.documentSm3,
      await trust.bySide(),
      row.supervisedAt,
      clock(),
    );
    return {
      receiptId,
      billCode: row.billCode,
      number: row.number,
      trustSource: trust.overridden ? "configured" : "published",
      ...result,
    };
  });
}
