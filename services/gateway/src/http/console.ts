import {
  type AssertedIdentity,
  CONSOLE_PROXY_PREFIX,
  type DataScope,
  dataScopes,
  INTERNAL_ROUTES,
  isPermission,
  PERMISSIONS,
  type Permission,
  type RouteRule,
} from "@piaoju/access";
import { agencyCode, issuingPointCode } from "@piaoju/contracts";
import { AppError, parseInput } from "@piaoju/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AuditLog } from "../app/audit.ts";
import type { Identity, SignedIn, Who } from "../app/identity.ts";
import type { Upstream } from "../app/upstream.ts";

export const SESSION_COOKIE = "piaoju_session";
export const CSRF_COOKIE = "piaoju_csrf";
export const CSRF_HEADER = "x-csrf-token";

export interface ConsoleDeps {
  identity: Identity;
  audit: AuditLog;
  /** Which service answers an internal path (the gateway's own routes included). */
  upstreamFor(path: string): Upstream;
  secureCookies: boolean;
  sessionSeconds: number;
}

const username = z
  .string()
  .regex(/^[a-zA-Z][\w.@-]{2,63}$/, "3-64 letters, digits, _ . @ -, starting with a letter");
const scope = z.enum(dataScopes as [DataScope, ...DataScope[]]);
const grants = z
  .array(z.object({ role: z.string().min(1).max(64), scope: scope.optional() }).strict())
  .max(20);
const userId = z.object({ id: z.uuid() });
const issuingPoints = z.array(issuingPointCode).max(100).default([]);

const loginBody = z
  .object({
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(256),
    totp: z.string().max(10).optional().describe("the authenticator's 6 digits, once TOTP is on"),
  })
  .strict();
const passwordBody = z
  .object({ currentPassword: z.string().min(1).max(256), newPassword: z.string().min(1).max(256) })
  .strict();
const totpBody = z.object({ code: z.string().regex(/^\d{6}$/, "6 digits") }).strict();
const newUserBody = z
  .object({
    username,
    displayName: z.string().trim().min(1).max(100),
    agencyCode: z.union([agencyCode, z.literal("*")]),
    issuingPoints,
  })
  .strict();
const grantsBody = z.object({ grants, issuingPoints }).strict();
const roleName = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]{1,40}$/, "lower-case letters, digits, -"),
});
const roleBody = z
  .object({
    title: z.string().trim().min(1).max(50),
    permissions: z.array(z.string().refine(isPermission, "a known permission")).max(100),
    dataScope: scope,
    administrator: z.boolean().default(false),
  })
  .strict();

/** Internal route patterns as matchers, to find the rule of a forwarded path. */
const matchers = Object.entries(INTERNAL_ROUTES).map(([key, rule]) => {
  const [method, pattern] = key.split(" ") as [string, string];
  const source = pattern
    .split("/")
    .map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return { key, method, regex: new RegExp(`^${source}$`), rule, literal: !pattern.includes(":") };
});

/** The rule for a method and concrete path; literal patterns win over parameterised ones (/verify before /:id). */
export function ruleFor(method: string, path: string): { key: string; rule: RouteRule } | undefined {
  const candidates = matchers.filter((m) => m.method === method && m.regex.test(path));
  const best = candidates.find((m) => m.literal) ?? candidates[0];
  return best ? { key: best.key, rule: best.rule } : undefined;
}

/**
 * The request's cookies by name. The header is the caller's: a value that is not valid
 * percent-encoding is kept as sent (it then matches no session) rather than thrown on.
 */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of String(header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    const value = part.slice(i + 1).trim();
    let decoded = value;
    try {
      decoded = decodeURIComponent(value);
    } catch {}
    out[part.slice(0, i).trim()] = decoded;
  }
  return out;
}

const cookies = (req: FastifyRequest) => parseCookies(req.headers.cookie);

/**
 * The console's API for people (/api/console: sign-in, own account, users, roles, the audit log)
 * and, under /api/internal, every service's internal API: the session is checked, the route's
 * permission too, then the call goes on with the person's identity signed for the service, which
 * checks permission and data scope again. Sessions are httpOnly SameSite=Strict cookies; every
 * change carries the CSRF token (double submit: a readable cookie, echoed in a header, whose
 * hash the session holds).
 */
export function registerConsoleRoutes(http: FastifyInstance, deps: ConsoleDeps): void {
  const { identity } = deps;
  const cookie = (name: string, value: string, maxAge: number, httpOnly: boolean) =>
    `${name}=${encodeURIComponent(value)}; Path=/; Max-Age=${maxAge}; SameSite=Strict${httpOnly ? "; HttpOnly" : ""}${deps.secureCookies ? "; Secure" : ""}`;
  const whoOf = (req: FastifyRequest, actor: string): Who => ({ actor, address: req.ip });

  /** The live session, at the stage asked for; state changes need the CSRF token. */
  const signedIn = async (req: FastifyRequest, need: "any" | "full" = "full"): Promise<SignedIn> => {
    const session = await identity.session(cookies(req)[SESSION_COOKIE] ?? "", req.ip);
    if (!session) throw new AppError("unauthenticated", "sign in first", { code: "SESSION_REQUIRED" });
    if (req.method !== "GET" && req.method !== "HEAD") {
      const presented = String(req.headers[CSRF_HEADER] ?? "");
      if (!presented || !identity.csrfMatches(session, presented)) {
        throw new AppError("forbidden", "the CSRF token is missing or wrong", { code: "CSRF_REFUSED" });
      }
    }
    if (need === "full" && session.stage !== "full") {
      throw new AppError(
        "forbidden",
        session.stage === "password"
          ? "change the one-time password first"
          : "set up the authenticator first",
        {
          code: session.stage === "password" ? "PASSWORD_CHANGE_REQUIRED" : "TOTP_ENROLMENT_REQUIRED",
        },
      );
    }
    return session;
  };
  const permitted = async (req: FastifyRequest, permission: Permission) => {
    const session = await signedIn(req);
    if (!session.user.permissions.includes(permission)) {
      throw new AppError("forbidden", `${session.user.username} lacks the permission ${permission}`, {
        code: "PERMISSION_DENIED",
      });
    }
    return session;
  };

  const doc = (summary: string, parts: Record<string, z.ZodType> = {}) => ({ schema: { summary, ...parts } });

  http.post(
    "/api/console/login",
    doc("Sign in (登录): sets the session and CSRF cookies", { body: loginBody }),
    async (req, reply) => {
      const body = parseInput(loginBody, req.body, "body");
      const out = await identity.login(body, {
        address: req.ip,
        userAgent: String(req.headers["user-agent"] ?? ""),
      });
      return reply
        .header("set-cookie", [
          cookie(SESSION_COOKIE, out.token, deps.sessionSeconds, true),
          cookie(CSRF_COOKIE, out.csrf, deps.sessionSeconds, false),
        ])
        .header("cache-control", "no-store")
        .send({ user: out.user, stage: out.stage, csrfToken: out.csrf });
    },
  );

  http.post("/api/console/logout", doc("Sign out: the session ends"), async (req, reply) => {
    const session = await signedIn(req, "any");
    await identity.logout(session, whoOf(req, session.user.username));
    return reply
      .header("set-cookie", [cookie(SESSION_COOKIE, "", 0, true), cookie(CSRF_COOKIE, "", 0, false)])
      .send({ signedOut: true });
  });

  http.get("/api/console/me", doc("Who is signed in, their permissions and data scope"), async (req) => {
    const session = await signedIn(req, "any");
    return { user: session.user, stage: session.stage };
  });

  http.post(
    "/api/console/password",
    doc("Change one's own password (the policy applies)", { body: passwordBody }),
    async (req) => {
      const session = await signedIn(req, "any");
      const body = parseInput(passwordBody, req.body, "body");
      await identity.changePassword(
        session,
        whoOf(req, session.user.username),
        body.currentPassword,
        body.newPassword,
      );
      return { changed: true };
    },
  );

  http.post(
    "/api/console/totp/enroll",
    doc("Start TOTP enrolment: the secret and its otpauth URI"),
    async (req, reply) => {
      const session = await signedIn(req, "any");
      if (session.stage === "password") await signedIn(req, "full");
      return reply
        .header("cache-control", "no-store")
        .send(await identity.enrolTotp(session, whoOf(req, session.user.username)));
    },
  );

  http.post(
    "/api/console/totp/confirm",
    doc("Finish TOTP enrolment with a first code", { body: totpBody }),
    async (req) => {
      const session = await signedIn(req, "any");
      if (session.stage === "password") await signedIn(req, "full");
      const { code } = parseInput(totpBody, req.body, "body");
      await identity.confirmTotp(session, whoOf(req, session.user.username), code);
      return { enabled: true };
    },
  );

  // 用户管理
  http.get("/api/console/users", doc("用户管理: the agency's users"), async (req) => {
    const session = await permitted(req, "user.read");
    return { items: await identity.listUsers(session.user.agencyCode) };
  });

  http.post(
    "/api/console/users",
    doc("Create a user, without roles; the one-time password is in the answer only", { body: newUserBody }),
    async (req, reply) => {
      const session = await permitted(req, "user.manage");
      const body = parseInput(newUserBody, req.body, "body");
      if (session.user.agencyCode !== "*" && body.agencyCode !== session.user.agencyCode) {
        throw new AppError(
          "forbidden",
          `agency ${body.agencyCode} is outside ${session.user.username}'s data scope`,
          {
            code: "OUT_OF_SCOPE",
          },
        );
      }
      // Accounts come without roles: a security administrator grants them (三员分立).
      const out = await identity.createUser(whoOf(req, session.user.username), { ...body, grants: [] });
      return reply.status(201).header("cache-control", "no-store").send(out);
    },
  );

  for (const [action, enabled] of [
    ["disable", false],
    ["enable", true],
  ] as const) {
    http.post(
      `/api/console/users/:id/${action}`,
      doc(`${enabled ? "Enable" : "Disable"} a user`, { params: userId }),
      async (req) => {
        const session = await permitted(req, "user.manage");
        const { id } = parseInput(userId, req.params, "params");
        const user = await identity.userInScope(session.user.agencyCode, id);
        if (user.id === session.user.id)
          throw new AppError("forbidden", "nobody disables themselves", { code: "SELF_CHANGE" });
        return identity.setEnabled(whoOf(req, session.user.username), id, enabled);
      },
    );
  }

  http.post(
    "/api/console/users/:id/reset-password",
    doc("A new one-time password for a user, shown once", { params: userId }),
    async (req, reply) => {
      const session = await permitted(req, "user.manage");
      const { id } = parseInput(userId, req.params, "params");
      await identity.userInScope(session.user.agencyCode, id);
      return reply
        .header("cache-control", "no-store")
        .send(await identity.resetPassword(whoOf(req, session.user.username), id));
    },
  );

  http.post(
    "/api/console/users/:id/revoke-sessions",
    doc("End every session of a user", { params: userId }),
    async (req) => {
      const session = await permitted(req, "user.manage");
      const { id } = parseInput(userId, req.params, "params");
      await identity.userInScope(session.user.agencyCode, id);
      return identity.revokeSessions(whoOf(req, session.user.username), id);
    },
  );

  // 功能授权 and 数据权限
  http.put(
    "/api/console/users/:id/grants",
    doc("功能授权 and 数据权限: a user's roles, each with its data scope", {
      params: userId,
      body: grantsBody,
    }),
    async (req) => {
      const session = await permitted(req, "role.manage");
      const { id } = parseInput(userId, req.params, "params");
      await identity.userInScope(session.user.agencyCode, id);
      const body = parseInput(grantsBody, req.body, "body");
      return identity.setGrants(whoOf(req, session.user.username), id, body);
    },
  );

  // 角色管理
  http.get("/api/console/roles", doc("角色管理: the roles and their permissions"), async (req) => {
    await permitted(req, "user.read");
    return { items: await identity.listRoles() };
  });

  http.put(
    "/api/console/roles/:name",
    doc("Create or change a role", { params: roleName, body: roleBody }),
    async (req) => {
      const session = await permitted(req, "role.manage");
      const { name } = parseInput(roleName, req.params, "params");
      const body = parseInput(roleBody, req.body, "body");
      return identity.putRole(whoOf(req, session.user.username), name, {
        ...body,
        permissions: body.permissions as Permission[],
      });
    },
  );

  http.get("/api/console/permissions", doc("Every permission, by name and title"), async (req) => {
    await permitted(req, "user.read");
    return { items: Object.entries(PERMISSIONS).map(([name, title]) => ({ name, title })) };
  });

  // 会话管理: who is signed in now (revoking them is per user, above).
  http.get("/api/console/sessions", doc("会话管理: who is signed in now"), async (req) => {
    const session = await permitted(req, "user.read");
    return { items: await identity.listSessions(session.user.agencyCode) };
  });

  // 日志管理: the auditor's; filterable, exportable (CSV).
  const auditQuery = z.object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    actor: z.string().max(64).optional(),
    action: z.string().max(100).optional(),
    afterSeq: z
      .string()
      .regex(/^\d{1,18}$/)
      .optional(),
    /** asc: oldest first (with afterSeq, a cursor to read on from); desc: newest first, paged by offset. */
    order: z.enum(["asc", "desc"]).default("asc"),
    offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  });
  const auditFilter = (q: z.infer<typeof auditQuery>) => ({
    from: q.from ? new Date(q.from) : undefined,
    to: q.to ? new Date(q.to) : undefined,
    actor: q.actor,
    action: q.action,
    afterSeq: q.afterSeq ? BigInt(q.afterSeq) : undefined,
    order: q.order,
    offset: q.offset,
    limit: q.limit,
  });
  http.get(
    "/api/console/audit",
    doc("日志管理: the audit log, filtered (audit.read only)", { querystring: auditQuery }),
    async (req) => {
      await permitted(req, "audit.read");
      // items: one page; total: how many entries the filter selects in all.
      return deps.audit.list(auditFilter(parseInput(auditQuery, req.query, "query")));
    },
  );
  http.get(
    "/api/console/audit/export",
    doc("The filtered audit log as CSV", { querystring: auditQuery }),
    async (req, reply) => {
      await permitted(req, "audit.read");
      const { items } = await deps.audit.list(auditFilter(parseInput(auditQuery, req.query, "query")));
      const cell = (v: unknown) => {
        const s = typeof v === "string" ? v : v === null || v === undefined ? "" : JSON.stringify(v);
        return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
      };
      const header = [
        "seq",
        "at",
        "actor",
        "address",
        "action",
        "subject",
        "outcome",
        "before",
        "after",
        "hash",
      ];
      const lines = [
        header.join(","),
        ...items.map((i) => header.map((h) => cell(i[h as keyof typeof i])).join(",")),
      ];
      return reply
        .type("text/csv; charset=utf-8")
        .header("content-disposition", 'attachment; filename="audit.csv"')
        .send(`\ufeff${lines.join("\r\n")}\r\n`);
    },
  );

  // Every internal route, for people: the same path under /api/internal.
  const forward = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.url.slice(CONSOLE_PROXY_PREFIX.length);
    const path = url.split("?")[0] ?? "";
    const found = ruleFor(req.method, path);
    if (!found || "service" in found.rule) {
      throw new AppError("not_found", `no route ${req.method} ${path}`, { code: "ROUTE_UNKNOWN" });
    }
    const session = await signedIn(req);
    if ("permission" in found.rule && !session.user.permissions.includes(found.rule.permission)) {
      throw new AppError(
        "forbidden",
        `${session.user.username} lacks the permission ${found.rule.permission}`,
        {
          code: "PERMISSION_DENIED",
        },
      );
    }
    const caller: AssertedIdentity = session.identity;
    const res = await deps.upstreamFor(path).request(
      req.method as "GET" | "POST" | "PUT" | "DELETE",
      url,
      caller,
      // The body's bytes as they came (the platform's reader bounded their size and depth), not a
      // re-serialisation of what was parsed: the service reads exactly what the person sent.
      req.method === "GET" || (req.method === "DELETE" && !req.rawBody) ? undefined : (req.rawBody ?? {}),
    );
    if (req.method !== "GET") {
      await deps.audit.append({
        actor: session.user.username,
        address: req.ip,
        action: found.key,
        subject: path,
        outcome: String(res.status),
        after: { request: req.body ?? null, response: clip(res.body) },
      });
    }
    reply.status(res.status);
    if (res.contentType) reply.type(res.contentType);
    for (const h of ["content-disposition", "cache-control"] as const) {
      const v = res.headers?.[h];
      if (v) reply.header(h, v);
    }
    return reply.send(res.raw ?? JSON.stringify(res.body ?? null));
  };
  http.route({
    method: ["GET", "POST", "PUT", "DELETE"],
    url: `${CONSOLE_PROXY_PREFIX}/*`,
    handler: forward,
  });
}

/** What of an answer goes into the audit log: enough to say what was done, not a whole document. */
function clip(body: unknown): unknown {
  const text = JSON.stringify(body ?? null);
  return text.length <= 8_000 ? body : { truncated: true, head: text.slice(0, 8_000) };
}
