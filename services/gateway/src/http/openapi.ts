import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { jsonSchemaTransform } from "fastify-type-provider-zod";

/** The APIs the description covers: what business systems and people call through the gateway. */
const DOCUMENTED = /^\/api\/(v1|console)\//;

/**
 * One OpenAPI description of the gateway's APIs, at /api/openapi.json and browsable at
 * /api/docs: the business API (receipts and payments, signed by the app) and the console's API
 * (a signed-in person's session). Each route's schema is the zod schema its handler validates
 * with (packages/contracts where the service checks the same body), turned into JSON Schema
 * here. Registered before the routes, so it sees every one; the console's proxy to the
 * internal API (/api/internal/*) and the console's own files are not part of it.
 */
export async function registerOpenApi(http: FastifyInstance): Promise<void> {
  // The schemas document the routes. Validation stays in the handlers (parseInput, after
  // authentication, naming the fields), so an unauthenticated caller's body is never parsed.
  http.setValidatorCompiler(() => (data) => ({ value: data }));
  await http.register(fastifySwagger, {
    openapi: {
      info: {
        title: "Piaoju API",
        version: "1.0.0",
        description:
          "Fiscal e-receipts (财政电子票据) and payment collection (缴款).\n\n" +
          "**Business API** (`/api/v1/…`): every call carries X-Piaoju-App-Id, X-Piaoju-Timestamp " +
          "(Unix ms), X-Piaoju-Nonce and X-Piaoju-Signature = hex(HMAC-SM3(appSecret, METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(SM3(body)))).\n\n" +
          "**Console API** (`/api/console/…`): a person's session, from POST /api/console/login, in the " +
          "httpOnly cookie piaoju_session; every change also carries the CSRF token in X-CSRF-Token. " +
          "The console reaches each service's internal API under /api/internal/…, each route behind its permission.\n\n" +
          "Refusals are RFC 9457 problem documents (application/problem+json) with `detail`, `detailZh` " +
          "and, for bad input, `issues` naming each field.",
      },
      tags: [
        { name: "receipts", description: "票据: issue, find, verify and act on receipts (business systems)" },
        { name: "payments", description: "缴款: payment notices, QR codes, refunds (business systems)" },
        {
          name: "trust",
          description:
            "信任证书: the certificates receipts' signatures are checked against (public, no signature)",
        },
        {
          name: "console",
          description: "管理端: sign-in, users, roles, sessions and the audit log (people)",
        },
      ],
      components: {
        securitySchemes: {
          signedRequest: { type: "apiKey", in: "header", name: "X-Piaoju-Signature" },
          session: { type: "apiKey", in: "cookie", name: "piaoju_session" },
        },
      },
    },
    transform: (args) => {
      if (!DOCUMENTED.test(args.url)) {
        return { schema: { ...args.schema, hide: true }, url: args.url };
      }
      const { schema, url } = jsonSchemaTransform(args);
      const tag = url.startsWith("/api/console/")
        ? "console"
        : url.startsWith("/api/v1/payments")
          ? "payments"
          : url.startsWith("/api/v1/trust")
            ? "trust"
            : "receipts";
      const security = tag === "console" ? [{ session: [] }] : [{ signedRequest: [] }];
      // Signing in and the public trust list are the calls without a session or a signature.
      const open = url === "/api/console/login" || tag === "trust";
      return { schema: { tags: [tag], ...(open ? { security: [] } : { security }), ...schema }, url };
    },
  });
  await http.register(fastifySwaggerUi, { routePrefix: "/api/docs" });
  http.get("/api/openapi.json", { schema: { hide: true } }, async () => http.swagger());
}
