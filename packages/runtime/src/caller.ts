import { timingSafeEqual } from "node:crypto";
import {
  Access,
  ASSERTION_HEADER,
  AssertionRefused,
  type AssertionVerifier,
  internalRouteRule,
  type Permission,
  type ScopedTarget,
} from "@piaoju/access";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "./errors.ts";

declare module "fastify" {
  interface FastifyInstance {
    /** Verifies the gateway's identity assertions (set by the frame from PIAOJU_ASSERTION_PUBLIC_KEY). */
    piaojuAssertions: AssertionVerifier | undefined;
  }
}

/**
 * Who is calling a service's internal API. The platform's token authenticates the calling
 * service (the gateway, an operator's tool); the person or business system behind it is what the
 * gateway asserts, signed (`x-piaoju-assertion`, see @piaoju/access): self-declared actor or
 * agency headers count for nothing.
 */
export interface Caller {
  actor: string;
  kind: "person" | "app" | "service";
  /** Agency codes the caller may see and change; "*" for platform administrators and operators. */
  agencies: ReadonlySet<string> | "*";
  /** The route's permission (absent on service-only and any-caller routes). */
  permission?: Permission;
  /** What the asserted identity may do where; absent for a service-to-service call. */
  access?: Access;
  /** The person's address, as the gateway saw it. */
  address?: string;
}

/** The frame installs the verifier once per HTTP server; every service's routes then use it. */
export function installAssertionVerifier(
  http: FastifyInstance,
  verifier: AssertionVerifier | undefined,
): void {
  http.decorate("piaojuAssertions", verifier);
}

export function authenticateCaller(req: FastifyRequest, internalToken: string): Caller {
  const header = req.headers.authorization ?? "";
  const presented = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
  const expected = Buffer.from(internalToken);
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw new AppError("unauthenticated", "missing or wrong internal token", { code: "UNAUTHENTICATED" });
  }
  const rule = internalRouteRule(req.method, req.routeOptions.url ?? "");
  if (!rule) {
    // Fail closed: a route nobody classified in @piaoju/access's table is open to nobody.
    throw new AppError("forbidden", `${req.method} ${req.routeOptions.url} has no access rule`, {
      code: "ROUTE_UNGOVERNED",
    });
  }
  if ("service" in rule) {
    // An operator's or a service's call: the token alone. A person never reaches these (the
    // gateway does not forward to them); a call carrying a person's assertion is refused.
    if (req.headers[ASSERTION_HEADER] !== undefined) {
      throw new AppError("forbidden", "an operators' route: the platform's token only, no person", {
        code: "OPERATORS_ONLY",
      });
    }
    const operator = String(req.headers["x-piaoju-operator"] ?? "").trim();
    return {
      actor: /^[\w.@:-]{1,64}$/.test(operator) ? `operator:${operator}` : "operator",
      kind: "service",
      agencies: "*",
    };
  }
  const token = req.headers[ASSERTION_HEADER];
  if (typeof token !== "string" || !token) {
    throw new AppError("unauthenticated", "a person's or business system's identity assertion is required", {
      code: "ASSERTION_REQUIRED",
    });
  }
  const verifier = req.server.piaojuAssertions;
  if (!verifier) {
    throw new AppError("unauthenticated", "this service has no assertion key configured", {
      code: "ASSERTION_REQUIRED",
    });
  }
  let identity: ReturnType<AssertionVerifier["verify"]>;
  try {
    identity = verifier.verify(token, { method: req.method, url: req.url });
  } catch (error) {
    if (error instanceof AssertionRefused) {
      throw new AppError("unauthenticated", error.message, { code: "ASSERTION_REFUSED", cause: error });
    }
    throw error;
  }
  const access = new Access(identity);
  if ("permission" in rule && !access.can(rule.permission)) {
    throw new AppError("forbidden", `${identity.actor} lacks the permission ${rule.permission}`, {
      code: "PERMISSION_DENIED",
    });
  }
  return {
    actor: identity.actor,
    kind: identity.kind,
    agencies: identity.agency === "*" ? "*" : new Set([identity.agency]),
    ...("permission" in rule ? { permission: rule.permission } : {}),
    access,
    ...(identity.address ? { address: identity.address } : {}),
  };
}

/** Refuses work on an agency outside the caller's data scope. */
export function requireAgency(caller: Caller, agencyCode: string): void {
  if (!inScope(caller, { agencyCode })) throw outOfScope(caller, `agency ${agencyCode}`);
}

/**
 * Whether the caller's grant of the route's permission reaches this thing (agency, issuing point,
 * own): the data-scope check every read and write makes.
 */
export function inScope(caller: Caller, target: ScopedTarget): boolean {
  if (!caller.access) return caller.kind === "service";
  if (!caller.permission) {
    return caller.agencies === "*" || caller.agencies.has(target.agencyCode);
  }
  return caller.access.allows(caller.permission, target);
}

/** Refuses a thing outside the caller's data scope (agency, issuing point, own receipts). */
export function requireInScope(caller: Caller, target: ScopedTarget, what: string): void {
  if (!inScope(caller, target)) throw outOfScope(caller, what);
}

function outOfScope(caller: Caller, what: string): AppError {
  return new AppError("forbidden", `${what} is outside ${caller.actor}'s data scope`, {
    code: "OUT_OF_SCOPE",
  });
}

/**
 * For reads that filter by one issuing point (reports, searches): the point to filter by. A caller
 * whose grant reaches the whole agency may leave it open; one bound to issuing points gets their
 * only point by default and is refused any other (or an open filter over several).
 */
export function scopedPoint(
  caller: Caller,
  agencyCode: string,
  asked: string | undefined,
): string | undefined {
  if (!caller.access || !caller.permission) return asked;
  const reach = caller.access.reach(caller.permission, agencyCode);
  if (reach.points === "*" && !reach.ownOnly) return asked;
  const points = reach.points === "*" ? new Set<string>() : reach.points;
  if (asked !== undefined) {
    if (!points.has(asked)) throw outOfScope(caller, `issuing point ${asked}`);
    return asked;
  }
  if (points.size === 1) return [...points][0];
  throw new AppError(
    "forbidden",
    `${caller.actor} reads issuing points one at a time: name one (issuingPointCode)`,
    {
      code: "OUT_OF_SCOPE",
    },
  );
}
