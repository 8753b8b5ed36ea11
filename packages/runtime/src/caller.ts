import { timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { AppError } from "./errors.ts";

/**
 * Who is calling a service's internal API. Services sit behind the gateway, which
 * authenticates people and business systems and forwards, with the platform's internal
 * token, the person (actor) and the agencies their data scope covers.
 */
export interface Caller {
  actor: string;
  /** Agency codes the caller may see and change; "*" for platform administrators. */
  agencies: ReadonlySet<string> | "*";
}

export function authenticateCaller(req: FastifyRequest, internalToken: string): Caller {
  const header = req.headers.authorization ?? "";
  const presented = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
  const expected = Buffer.from(internalToken);
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw new AppError("unauthenticated", "missing or wrong internal token", { code: "UNAUTHENTICATED" });
  }
  const actor = String(req.headers["x-piaoju-actor"] ?? "").trim();
  if (!/^[\w.@:-]{1,64}$/.test(actor)) {
    throw AppError.validation([
      {
        field: "header.x-piaoju-actor",
        rule: "required",
        message: "the acting person or system (1-64 characters)",
      },
    ]);
  }
  const scope = String(req.headers["x-piaoju-agencies"] ?? "").trim();
  if (!scope) {
    throw AppError.validation([
      {
        field: "header.x-piaoju-agencies",
        rule: "required",
        message: "the agencies in the caller's data scope, or *",
      },
    ]);
  }
  return { actor, agencies: scope === "*" ? "*" : new Set(scope.split(",").map((a) => a.trim())) };
}

/** Refuses work on an agency outside the caller's data scope. */
export function requireAgency(caller: Caller, agencyCode: string): void {
  if (caller.agencies !== "*" && !caller.agencies.has(agencyCode)) {
    throw new AppError("forbidden", `agency ${agencyCode} is outside ${caller.actor}'s data scope`, {
      code: "OUT_OF_SCOPE",
    });
  }
}
