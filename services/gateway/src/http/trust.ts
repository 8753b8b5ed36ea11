import type { TrustRole } from "@piaoju/contracts";
import { sm3 } from "@piaoju/gm-crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { TrustList } from "../app/trust.ts";

/** Caches may keep the list a few minutes: a CA changes rarely, and ETag makes re-checking cheap. */
const CACHE_CONTROL = "public, max-age=300";
/** How long one read of the table answers every request. */
const MEMO_MS = 5_000;

const certificate = z.object({
  sm3: z.string().describe("SM3 fingerprint of the certificate's DER, lower-case hex"),
  subject: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  pem: z.string(),
});
const trustBody = z
  .object({
    agencyCas: z.array(certificate).describe("CAs agency signatures (单位签名) chain to"),
    finance: z
      .array(certificate.extend({ role: z.enum(["supervision", "ca"]) }))
      .describe("finance's supervision (监制) certificates, pinned, and finance's CA when known"),
  })
  .describe("The certificates the platform trusts to verify a receipt's signatures");

/**
 * The public trust list (信任证书): what a payer, an auditor or another system needs to check a
 * receipt's signatures without asking anyone. Unauthenticated, read-only and cacheable; the same
 * certificates delivery's 查验 chains to, as their owners published them.
 */
export async function registerTrustRoutes(root: FastifyInstance, trust: TrustList): Promise<void> {
  await root.register(async (http) => trustRoutes(http, trust));
}

function trustRoutes(http: FastifyInstance, trust: TrustList): void {
  // The schemas document the answers; the bodies are written here, already JSON or PEM.
  http.setSerializerCompiler(() => (data) => (typeof data === "string" ? data : JSON.stringify(data)));
  const load = async () => {
    const rows = await trust.list();
    const view = (r: (typeof rows)[number]) => ({
      sm3: r.sm3,
      subject: r.subject,
      notBefore: r.notBefore.toISOString(),
      notAfter: r.notAfter.toISOString(),
      pem: r.pem,
    });
    const of = (role: TrustRole) => rows.filter((r) => r.role === role);
    return {
      agencyCas: of("AGENCY_CA").map(view),
      finance: [
        ...of("FINANCE_SUPERVISION").map((r) => ({ ...view(r), role: "supervision" as const })),
        ...of("FINANCE_CA").map((r) => ({ ...view(r), role: "ca" as const })),
      ],
    };
  };
  // A public route without a signature: a flood of it reads the table once per few seconds.
  let cached: { at: number; list: ReturnType<typeof load> } | undefined;
  const current = () => {
    if (!cached || Date.now() - cached.at > MEMO_MS) {
      const list = load();
      cached = { at: Date.now(), list };
      list.catch(() => {
        if (cached?.list === list) cached = undefined;
      });
    }
    return cached.list;
  };
  const send = (req: FastifyRequest, reply: FastifyReply, type: string, body: string) => {
    const etag = `"${sm3(Buffer.from(body, "utf8")).toString("hex")}"`;
    reply
      .header("cache-control", CACHE_CONTROL)
      .header("etag", etag)
      .header("access-control-allow-origin", "*");
    if (req.headers["if-none-match"] === etag) return reply.status(304).send();
    return reply.type(type).send(body);
  };

  http.get(
    "/api/v1/trust",
    {
      schema: {
        summary: "The certificates the platform trusts (agency CAs, finance's certificates), PEM and SM3",
        response: { 200: trustBody },
      },
    },
    async (req, reply) =>
      send(req, reply, "application/json; charset=utf-8", JSON.stringify(await current())),
  );
  http.get(
    "/api/v1/trust/agency-ca.pem",
    { schema: { summary: "The agency CAs as one PEM bundle" } },
    async (req, reply) => {
      const body = (await current()).agencyCas.map((c) => c.pem.trim()).join("\n");
      return send(req, reply, "application/x-pem-file", body ? `${body}\n` : "");
    },
  );
  http.get(
    "/api/v1/trust/finance.pem",
    { schema: { summary: "Finance's trusted certificates (supervision, CA) as one PEM bundle" } },
    async (req, reply) => {
      const body = (await current()).finance.map((c) => c.pem.trim()).join("\n");
      return send(req, reply, "application/x-pem-file", body ? `${body}\n` : "");
    },
  );
}
