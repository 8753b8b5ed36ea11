import { randomInt, timingSafeEqual } from "node:crypto";
import rateLimit from "@fastify/rate-limit";
import { billCode, billNumber, bizSerialNo, text, withSignatures } from "@piaoju/contracts";
import { signatureStamp } from "@piaoju/gm-crypto";
import { fenToChineseUpper, fenToFigures } from "@piaoju/locale";
import type { Database } from "@piaoju/persistence";
import { AppError, parseInput, postgresRateLimitStore } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Receipts } from "../app/receipts.ts";
import type { TrustAnchors } from "../app/trust.ts";
import { verifyReceipt } from "../app/verify.ts";
import type { Protector } from "../domain/protect.ts";
import { type ReceiptView, statusText } from "../domain/receipt.ts";
import { maskMiddle, parseQrText, shanghaiDateTime } from "../domain/receipt-text.ts";
import type { PrismaClient } from "../generated/prisma/client.ts";
import type { SmsSender } from "../providers/providers.ts";
import { PICKUP_HTML, PICKUP_JS, SM_CRYPTO_SCRIPTS } from "./h5-page.ts";

export interface H5Deps {
  prisma: PrismaClient;
  receipts: Receipts;
  protector: Protector;
  sms?: SmsSender | undefined;
  render: (r: ReceiptView) => Promise<Buffer>;
  /** What 查验 chains to: published on the bus, or the operator's override. */
  trust: TrustAnchors;
  clock: () => Date;
  /** Requests per minute per client address on the pick-up API. */
  rateLimit: number;
  /** Where the counts live: the service's PostgreSQL in a cluster (every replica, one budget); in memory otherwise. */
  rateLimitDb?: Database;
  /** CSP frame-ancestors: who may embed the page ("*" or a list of origins). */
  frameAncestors: string;
}

const TOKEN_TTL_MS = 15 * 60_000;
const CODE_TTL_MS = 5 * 60_000;
const CODE_MAX_FAILURES = 5;

const phone = text()
  .trim()
  .regex(/^(\+?86)?1\d{10}$/, "a mainland mobile number");
const findBody = z.discriminatedUnion("method", [
  z.object({
    method: z.literal("serial"),
    bizSerialNo,
    name: text().trim().min(1).max(200),
    agencyCode: text().max(32).optional(),
  }),
  z.object({
    method: z.literal("check"),
    billCode,
    number: billNumber,
    checkCode: text().regex(/^\d{6}$/, "6 digits"),
    agencyCode: text().max(32).optional(),
  }),
  z.object({
    method: z.literal("qr"),
    qr: text().min(1).max(500),
    agencyCode: text().max(32).optional(),
  }),
  z.object({
    method: z.literal("phone"),
    phone,
    code: text().regex(/^\d{6}$/, "6 digits"),
    agencyCode: text().max(32).optional(),
  }),
]);

/**
 * The public side of delivery: the pick-up page and its small JSON API. No internal token:
 * the payer proves themselves with what only they hold (serial number and name, a code sent
 * to their phone, or code + number + check code from the receipt). Every answer carries only
 * the receipts those inputs name; receipts are shown with the payer's ID masked; downloads
 * go through short-lived tokens; all of it is rate-limited per client address.
 */
export async function registerPickup(http: FastifyInstance, d: H5Deps): Promise<void> {
  await http.register(async (scope) => {
    await scope.register(rateLimit, {
      max: d.rateLimit,
      timeWindow: 60_000,
      ...(d.rateLimitDb?.kind === "postgres" ? { store: postgresRateLimitStore(d.rateLimitDb) } : {}),
      errorResponseBuilder: () =>
        Object.assign(new Error("too many requests: wait a minute"), {
          statusCode: 429,
          code: "RATE_LIMITED",
        }),
    });

    scope.addHook("onSend", async (_req, reply) => {
      reply.header("cache-control", "no-store");
      reply.header("referrer-policy", "no-referrer");
      reply.header("x-content-type-options", "nosniff");
    });

    scope.get("/h5/pickup", async (_req, reply) =>
      reply
        .type("text/html; charset=utf-8")
        .header(
          "content-security-policy",
          `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors ${d.frameAncestors}`,
        )
        .send(PICKUP_HTML),
    );
    scope.get("/h5/pickup.js", async (_req, reply) =>
      reply.type("text/javascript; charset=utf-8").send(PICKUP_JS),
    );
    // sm-crypto's own browser builds (UMD, window.sm2 / window.sm3), for the check in the browser.
    for (const [name, source] of Object.entries(SM_CRYPTO_SCRIPTS)) {
      scope.get(`/h5/${name}`, async (_req, reply) =>
        reply.type("text/javascript; charset=utf-8").send(source()),
      );
    }

    scope.post("/h5/api/find", async (req) => {
      const body = parseInput(findBody, req.body, "body");
      const rows = await find(d, body);
      return { items: rows.map((row) => summary(d, d.receipts.view(row))) };
    });

    // The code goes out only when the phone has receipts, but the answer is the same either way:
    // the page must not tell who is a payer here.
    scope.post(
      "/h5/api/sms-code",
      { config: { rateLimit: { max: Math.max(1, Math.floor(d.rateLimit / 6)) } } },
      async (req, reply) => {
        const body = parseInput(z.object({ phone }), req.body, "body");
        if (d.sms && (await d.receipts.hasPhone(body.phone))) {
          const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
          const phoneDigest = d.protector.digest("phone", body.phone);
          const row = {
            codeDigest: d.protector.digest("code", `${phoneDigest}:${code}`),
            expiresAt: new Date(d.clock().getTime() + CODE_TTL_MS),
            failures: 0,
          };
          await d.prisma.pickupCode.upsert({
            where: { phoneDigest },
            create: { phoneDigest, ...row },
            update: row,
          });
          await d.sms.send(body.phone, "PICKUP_CODE", { code, minutes: String(CODE_TTL_MS / 60_000) });
        }
        return reply.status(202).send({ sent: true });
      },
    );

    scope.post("/h5/api/verify", async (req) => {
      const body = parseInput(z.object({ token: text().min(1).max(100) }), req.body, "body");
      const row = await rowOfToken(d, body.token);
      const trusted = await d.trust.bySide();
      const result = verifyReceipt({ ...row, document: d.receipts.document(row) }, trusted, row.supervisedAt);
      const view = d.receipts.view(row);
      return { ...result, status: view.status, statusText: statusText(view) };
    });

    // What the browser checks for itself: the document with both signatures inside
    // <EInvoiceSignature> (the stored bytes once that is taken out), the signatures and the time of
    // supervision, and the certificates the platform trusts (those the server's answer chains to).
    scope.get("/h5/api/receipts/:token/document", async (req, reply) => {
      const { token } = parseInput(z.object({ token: text().min(1).max(100) }), req.params, "params");
      const row = await rowOfToken(d, token);
      return reply
        .type("application/xml")
        .header("content-disposition", `attachment; filename="${row.billCode}-${row.number}.xml"`)
        .send(
          withSignatures(Buffer.from(d.receipts.document(row), "base64"), {
            agency: signatureStamp(row.agencySignature),
            finance: signatureStamp(row.financeSignature),
          }),
        );
    });
    scope.get("/h5/api/receipts/:token/signatures", async (req) => {
      const { token } = parseInput(z.object({ token: text().min(1).max(100) }), req.params, "params");
      const row = await rowOfToken(d, token);
      return {
        documentSm3: row.documentSm3,
        agencySignature: row.agencySignature,
        financeSignature: row.financeSignature,
        supervisedAt: row.supervisedAt.toISOString(),
      };
    });
    scope.get("/h5/api/trust", async () => ({
      source: d.trust.overridden ? "configured" : "published",
      certificates: (await d.trust.list()).map(({ role, sm3, subject, pem }) => ({
        role,
        sm3,
        subject,
        pem,
      })),
    }));

    scope.get("/h5/api/receipts/:token/pdf", async (req, reply) => {
      const { token } = parseInput(z.object({ token: text().min(1).max(100) }), req.params, "params");
      const row = await rowOfToken(d, token);
      const pdf = await d.render(d.receipts.view(row));
      return reply
        .type("application/pdf")
        .header("content-disposition", `attachment; filename="${row.billCode}-${row.number}.pdf"`)
        .send(pdf);
    });
  });
}

async function find(d: H5Deps, body: z.infer<typeof findBody>) {
  const agency = body.agencyCode || undefined;
  const inAgency = <T extends { agencyCode: string }>(rows: T[]) =>
    rows.filter((r) => !agency || r.agencyCode === agency);
  switch (body.method) {
    case "serial":
      return d.receipts.findBySerialAndName(body.bizSerialNo, body.name, agency);
    case "check": {
      const row = await d.receipts.findByCheck(body.billCode, body.number, body.checkCode);
      return inAgency(row ? [row] : []);
    }
    case "qr": {
      const fields = parseQrText(body.qr);
      if (!fields) {
        throw AppError.validation([
          { field: "body.qr", rule: "format", message: "not a receipt's QR code text" },
        ]);
      }
      const row = await d.receipts.findByCheck(fields.billCode, fields.number, fields.checkCode);
      return inAgency(row ? [row] : []);
    }
    case "phone": {
      await useCode(d, body.phone, body.code);
      return inAgency(await d.receipts.findByPhone(body.phone));
    }
  }
}

/** Checks an SMS code once: right → consumed; wrong → counted, and dead at the limit. */
async function useCode(d: H5Deps, phoneNo: string, code: string): Promise<void> {
  const phoneDigest = d.protector.digest("phone", phoneNo);
  const row = await d.prisma.pickupCode.findUnique({ where: { phoneDigest } });
  const refused = () =>
    new AppError("validation", "the code is wrong or expired: ask for a new one", {
      code: "PICKUP_CODE_INVALID",
    });
  if (!row || row.expiresAt < d.clock() || row.failures >= CODE_MAX_FAILURES) throw refused();
  const presented = Buffer.from(d.protector.digest("code", `${phoneDigest}:${code}`));
  if (!timingSafeEqual(presented, Buffer.from(row.codeDigest))) {
    await d.prisma.pickupCode.update({ where: { phoneDigest }, data: { failures: { increment: 1 } } });
    throw refused();
  }
  await d.prisma.pickupCode.delete({ where: { phoneDigest } });
}

async function rowOfToken(d: H5Deps, token: string) {
  const receiptId = d.protector.openPickupToken(token, d.clock());
  const row = receiptId ? await d.receipts.find(receiptId) : null;
  if (!row) {
    throw new AppError("not_found", "the link expired: look the receipt up again", {
      code: "PICKUP_TOKEN_INVALID",
    });
  }
  return row;
}

/** What the page shows of one receipt: the receipt itself, with the payer's name partly masked. */
function summary(d: H5Deps, r: ReceiptView) {
  const { date } = shanghaiDateTime(r.issuedAt);
  return {
    token: d.protector.pickupToken(r.receiptId, new Date(d.clock().getTime() + TOKEN_TTL_MS)),
    billName: r.billName,
    billCode: r.billCode,
    number: r.number,
    checkCode: r.checkCode,
    kind: r.kind,
    status: r.status,
    issuedOn: `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}`,
    totalFigures: fenToFigures(r.totalFen),
    totalUpper: fenToChineseUpper(r.totalFen),
    payerName: maskName(r.payer.name),
    payerCode: maskMiddle(r.payer.code),
    agencyName: r.agencyName ?? r.agencyCode,
    items: r.items.map((i) => ({ itemName: i.itemName, quantity: i.quantity, amountFen: i.amountFen })),
  };
}

/** 王小明 → 王*明, 李四 → 李*: enough for the payer to recognise, little for anyone else. */
function maskName(name: string): string {
  const chars = [...name];
  if (chars.length <= 1) return name;
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}${"*".repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}
