import { type DataScope, dataScopes } from "@piaoju/access";
import { agencyCode, issuingPointCode } from "@piaoju/contracts";
import { authenticateCaller, parseInput } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AuditLog } from "../app/audit.ts";
import type { Identity } from "../app/identity.ts";

/**
 * Operators' routes (the platform's token, no person): `piaoju admin create` makes an account with
 * a one-time password (the first administrators of a cluster), `piaoju admin audit verify` walks
 * the audit log's hash chain.
 */
export function registerOperatorRoutes(
  http: FastifyInstance,
  deps: { identity: Identity; audit: AuditLog; internalToken: string },
): void {
  http.post("/v1/admin/users", async (req, reply) => {
    const caller = authenticateCaller(req, deps.internalToken);
    const body = parseInput(
      z
        .object({
          username: z
            .string()
            .regex(/^[a-zA-Z][\w.@-]{2,63}$/, "3-64 letters, digits, _ . @ -, starting with a letter"),
          displayName: z.string().trim().min(1).max(100).optional(),
          agencyCode: z.union([agencyCode, z.literal("*")]),
          issuingPoints: z.array(issuingPointCode).max(100).default([]),
          roles: z.array(z.string().min(1).max(64)).min(1).max(20),
          scope: z.enum(dataScopes as [DataScope, ...DataScope[]]).optional(),
        })
        .strict(),
      req.body,
      "body",
    );
    const out = await deps.identity.createUser(
      { actor: caller.actor, address: req.ip },
      {
        username: body.username,
        displayName: body.displayName ?? body.username,
        agencyCode: body.agencyCode,
        issuingPoints: body.issuingPoints,
        grants: body.roles.map((role) => ({ role, scope: body.scope })),
      },
    );
    return reply.status(201).header("cache-control", "no-store").send(out);
  });

  http.get("/v1/admin/audit/verification", async (req) => {
    authenticateCaller(req, deps.internalToken);
    return deps.audit.verify();
  });
}
