import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { type Algorithm, hash, verify } from "@node-rs/argon2";
import {
  type AssertedIdentity,
  BUILT_IN_ROLES,
  type BuiltInRole,
  type DataScope,
  isPermission,
  type Permission,
} from "@piaoju/access";
import { sm3 } from "@piaoju/gm-crypto";
import { AppError } from "@piaoju/runtime";
import type { Sealer } from "@piaoju/sealing";
import { generateSecret, generateURI, verify as verifyTotp } from "otplib";
import { lockoutAfter, oneTimePassword, passwordProblems } from "../domain/password.ts";
import type { PrismaClient } from "../generated/prisma/client.ts";
import type { AuditLog } from "./audit.ts";

const ARGON2ID = 2 as Algorithm;
/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. */
const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
/** Verified against when the user name is unknown, so the answer takes as long either way. */
let dummyHash: Promise<string> | undefined;

export type SessionStage = "password" | "totp-enrol" | "full";

export interface SessionPolicy {
  /** Idle timeout: a session not used for this long ends. */
  idleMs: number;
  /** Absolute lifetime from login. */
  absoluteMs: number;
}

export interface Who {
  actor: string;
  address: string;
}

export interface GrantInput {
  role: string;
  scope?: DataScope | undefined;
}

export interface SignedIn {
  user: UserView;
  stage: SessionStage;
  identity: AssertedIdentity;
  tokenHash: string;
  csrfHash: string;
}

export interface UserView {
  id: string;
  username: string;
  displayName: string;
  agencyCode: string;
  issuingPoints: string[];
  enabled: boolean;
  mustChangePassword: boolean;
  totpEnabled: boolean;
  locked: boolean;
  roles: Array<{ role: string; scope: DataScope }>;
  permissions: Permission[];
  administrator: boolean;
}

const tokenHashOf = (token: string) => sm3(Buffer.from(token, "utf8")).toString("hex");

type UserRow = Awaited<ReturnType<Identity["loadUser"]>> & object;

/** People: accounts, passwords, second factors, sessions, roles and grants. Every change is audited. */
export class Identity {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sealer: Sealer,
    private readonly audit: AuditLog,
    private readonly clock: () => Date,
    private readonly policy: SessionPolicy,
  ) {}

  /** The built-in roles exist (missing ones are created; edits made in the console are kept). */
  async ensureBuiltInRoles(): Promise<void> {
    await this.prisma.role.createMany({
      data: Object.values(BUILT_IN_ROLES).map((r) => ({
        name: r.name,
        title: r.title,
        permissions: [...r.permissions],
        dataScope: r.dataScope,
        administrator: r.administrator,
        builtIn: true,
      })),
      skipDuplicates: true,
    });
  }

  /**
   * A fresh installation's first administrators, 三员分立 from the first minute: a system
   * administrator, a security administrator and an auditor, each with a one-time password that
   * this returns once (the caller prints it) and that must be changed at first login.
   * Nothing happens when any user exists.
   */
  async bootstrap(who: Who): Promise<Array<{ username: string; role: string; oneTimePassword: string }>> {
    if ((await this.prisma.user.count()) > 0) return [];
    const made = [];
    for (const [username, role] of [
      ["sysadmin", "system-admin"],
      ["secadmin", "security-admin"],
      ["auditor", "auditor"],
    ] as const) {
      const { oneTimePassword: otp } = await this.createUser(who, {
        username,
        displayName: BUILT_IN_ROLES[role].title,
        agencyCode: "*",
        issuingPoints: [],
        grants: [{ role }],
      });
      made.push({ username, role, oneTimePassword: otp });
    }
    return made;
  }

  async createUser(
    who: Who,
    input: {
      username: string;
      displayName: string;
      agencyCode: string;
      issuingPoints: string[];
      grants: GrantInput[];
    },
  ): Promise<{ user: UserView; oneTimePassword: string }> {
    await this.checkGrants(input.grants);
    const otp = oneTimePassword();
    const passwordHash = await hash(otp, ARGON2_OPTIONS);
    const id = randomUUID();
    await this.prisma
      .$transaction(async (tx) => {
        await tx.user.create({
          data: {
            id,
            username: input.username,
            displayName: input.displayName,
            agencyCode: input.agencyCode,
            issuingPoints: input.issuingPoints,
            passwordHash,
            mustChangePassword: true,
            createdBy: who.actor,
            roles: { create: input.grants.map((g) => ({ roleName: g.role, dataScope: g.scope ?? null })) },
          },
        });
        await this.audit.appendIn(tx, {
          ...who,
          action: "user.create",
          subject: `user:${input.username}`,
          outcome: "ok",
          after: { ...input },
        });
      })
      .catch((error: unknown) => {
        if ((error as { code?: string }).code === "P2002") {
          throw new AppError("conflict", `user ${input.username} exists`, { code: "USER_EXISTS" });
        }
        throw error;
      });
    return { user: await this.view(id), oneTimePassword: otp };
  }

  private async checkGrants(grants: GrantInput[]): Promise<void> {
    const names = [...new Set(grants.map((g) => g.role))];
    const found = await this.prisma.role.findMany({ where: { name: { in: names } }, select: { name: true } });
    const missing = names.filter((n) => !found.some((f) => f.name === n));
    if (missing.length > 0) {
      throw AppError.validation(
        missing.map((m) => ({ field: "body.grants", rule: "known-role", message: `no role ${m}` })),
      );
    }
  }

  loadUser(id: string) {
    return this.prisma.user.findUnique({ where: { id }, include: { roles: { include: { role: true } } } });
  }

  async view(id: string): Promise<UserView> {
    const u = await this.loadUser(id);
    if (!u) throw new AppError("not_found", `user ${id} does not exist`, { code: "USER_UNKNOWN" });
    return this.viewOf(u);
  }

  private viewOf(u: UserRow): UserView {
    const now = this.clock();
    return {
      id: u.id,
      username: u.username,
      displayName: u.displayName,
      agencyCode: u.agencyCode,
      issuingPoints: u.issuingPoints,
      enabled: u.enabled,
      mustChangePassword: u.mustChangePassword,
      totpEnabled: u.totpEnabled,
      locked: u.lockedUntil !== null && u.lockedUntil > now,
      roles: u.roles.map((r) => ({
        role: r.roleName,
        scope: (r.dataScope ?? r.role.dataScope) as DataScope,
      })),
      permissions: [...new Set(u.roles.flatMap((r) => r.role.permissions))].filter(isPermission),
      administrator: u.roles.some((r) => r.role.administrator),
    };
  }

  /** What the gateway asserts to the services for this user: one grant per role, with its scope. */
  identityOf(u: UserRow, address: string): AssertedIdentity {
    return {
      actor: u.username,
      kind: "person",
      agency: u.agencyCode,
      grants: u.roles.map((r) => {
        const scope = (r.dataScope ?? r.role.dataScope) as DataScope;
        return {
          permissions: r.role.permissions.filter(isPermission),
          scope,
          ...(scope === "points" ? { issuingPoints: u.issuingPoints } : {}),
        };
      }),
      address,
    };
  }

  async listUsers(agency: string) {
    const rows = await this.prisma.user.findMany({
      where: agency === "*" ? {} : { agencyCode: agency },
      include: { roles: { include: { role: true } } },
      orderBy: { username: "asc" },
      take: 1000,
    });
    return rows.map((u) => this.viewOf(u));
  }

  /** 会话管理: the live sessions of the agency's people (no token, only who, from where, since when). */
  async listSessions(agency: string) {
    const now = this.clock();
    const rows = await this.prisma.session.findMany({
      where: {
        revokedAt: null,
        expiresAt: { gt: now },
        lastSeenAt: { gt: new Date(now.getTime() - this.policy.idleMs) },
        user: agency === "*" ? { enabled: true } : { agencyCode: agency, enabled: true },
      },
      include: { user: true },
      orderBy: { lastSeenAt: "desc" },
      take: 1000,
    });
    return rows.map((s) => ({
      userId: s.userId,
      username: s.user.username,
      displayName: s.user.displayName,
      stage: s.stage,
      address: s.address,
      userAgent: s.userAgent,
      createdAt: s.createdAt.toISOString(),
      lastSeenAt: s.lastSeenAt.toISOString(),
      expiresAt: s.expiresAt.toISOString(),
    }));
  }

  /**
   * 登录. A wrong password, an unknown name and a locked account answer alike (401 LOGIN_FAILED);
   * failures count towards a lock with back-off; administrators need their TOTP code.
   */
  async login(
    input: { username: string; password: string; totp?: string | undefined },
    meta: { address: string; userAgent: string },
  ): Promise<{ token: string; csrf: string; stage: SessionStage; user: UserView }> {
    const now = this.clock();
    const u = await this.prisma.user.findUnique({
      where: { username: input.username },
      include: { roles: { include: { role: true } } },
    });
    const failed = async (reason: string) => {
      await this.prisma.$transaction(async (tx) => {
        if (u) {
          const failedLogins = u.failedLogins + 1;
          await tx.user.update({
            where: { id: u.id },
            data: { failedLogins, lockedUntil: lockoutAfter(failedLogins, now) ?? u.lockedUntil },
          });
        }
        await this.audit.appendIn(tx, {
          actor: input.username.slice(0, 64),
          address: meta.address,
          action: "session.login",
          subject: `user:${input.username.slice(0, 64)}`,
          outcome: `refused:${reason}`,
        });
      });
      return new AppError("unauthenticated", "wrong user name or password, or the account is locked", {
        code: "LOGIN_FAILED",
      });
    };
    if (!u) {
      dummyHash ??= hash(randomBytes(16).toString("hex"), ARGON2_OPTIONS);
      await verify(await dummyHash, input.password);
      throw await failed("unknown-user");
    }
    if (u.lockedUntil && u.lockedUntil > now) throw await failed("locked");
    if (!(await verify(u.passwordHash, input.password))) throw await failed("password");
    if (!u.enabled) throw await failed("disabled");
    const view = this.viewOf(u);
    if (u.totpEnabled) {
      if (!input.totp) {
        throw new AppError("unauthenticated", "this account needs its authenticator code", {
          code: "TOTP_REQUIRED",
        });
      }
      if (!(await this.totpMatches(u, input.totp))) throw await failed("totp");
    }
    const stage: SessionStage = u.mustChangePassword
      ? "password"
      : view.administrator && !u.totpEnabled
        ? "totp-enrol"
        : "full";
    const token = randomBytes(32).toString("base64url");
    const csrf = randomBytes(24).toString("base64url");
    await this.prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id: u.id }, data: { failedLogins: 0, lockedUntil: null } });
      await tx.session.create({
        data: {
          tokenHash: tokenHashOf(token),
          userId: u.id,
          stage,
          csrfHash: tokenHashOf(csrf),
          address: meta.address,
          userAgent: meta.userAgent.slice(0, 300),
          lastSeenAt: now,
          expiresAt: new Date(now.getTime() + this.policy.absoluteMs),
        },
      });
      await this.audit.appendIn(tx, {
        actor: u.username,
        address: meta.address,
        action: "session.login",
        subject: `user:${u.username}`,
        outcome: "ok",
        after: { stage },
      });
    });
    return { token, csrf, stage, user: view };
  }

  private async totpMatches(
    u: { id: string; totpSealed: Uint8Array | null; totpLastStep: bigint | null },
    code: string,
  ) {
    if (!u.totpSealed || !/^\d{6}$/.test(code)) return false;
    const secret = this.sealer.unsealText(totpContext(u.id), u.totpSealed);
    const epoch = Math.floor(this.clock().getTime() / 1000);
    const result = await verifyTotp({ secret, token: code, epoch, epochTolerance: 30 });
    if (!result.valid) return false;
    const step = BigInt(
      Math.floor(epoch / 30) + ("delta" in result && typeof result.delta === "number" ? result.delta : 0),
    );
    // A code is good once: the step must be later than the last one accepted.
    const claimed = await this.prisma.user.updateMany({
      where: { id: u.id, OR: [{ totpLastStep: null }, { totpLastStep: { lt: step } }] },
      data: { totpLastStep: step },
    });
    return claimed.count === 1;
  }

  /** The session behind a cookie, if live: idle and absolute expiry, revocation, a disabled user. */
  async session(token: string, address: string): Promise<SignedIn | undefined> {
    if (!token || token.length > 100) return undefined;
    const now = this.clock();
    const s = await this.prisma.session.findUnique({
      where: { tokenHash: tokenHashOf(token) },
      include: { user: { include: { roles: { include: { role: true } } } } },
    });
    if (!s || s.revokedAt || s.expiresAt <= now || !s.user.enabled) return undefined;
    if (now.getTime() - s.lastSeenAt.getTime() > this.policy.idleMs) return undefined;
    if (now.getTime() - s.lastSeenAt.getTime() > 15_000) {
      await this.prisma.session.update({ where: { tokenHash: s.tokenHash }, data: { lastSeenAt: now } });
    }
    return {
      user: this.viewOf(s.user),
      stage: s.stage as SessionStage,
      identity: this.identityOf(s.user, address),
      tokenHash: s.tokenHash,
      csrfHash: s.csrfHash,
    };
  }

  csrfMatches(session: SignedIn, presented: string): boolean {
    const a = Buffer.from(tokenHashOf(presented));
    const b = Buffer.from(session.csrfHash);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  async logout(session: SignedIn, who: Who): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await tx.session.update({ where: { tokenHash: session.tokenHash }, data: { revokedAt: this.clock() } });
      await this.audit.appendIn(tx, {
        ...who,
        action: "session.logout",
        subject: `user:${session.user.username}`,
        outcome: "ok",
      });
    });
  }

  async revokeSessions(who: Who, userId: string): Promise<{ revoked: number }> {
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.session.updateMany({
        where: { userId, revokedAt: null },
        data: { revokedAt: this.clock() },
      });
      await this.audit.appendIn(tx, {
        ...who,
        action: "session.revokeAll",
        subject: `user-id:${userId}`,
        outcome: "ok",
        after: { revoked: count },
      });
      return { revoked: count };
    });
  }

  async changePassword(session: SignedIn, who: Who, current: string, next: string): Promise<void> {
    const u = await this.prisma.user.findUniqueOrThrow({ where: { id: session.user.id } });
    if (!(await verify(u.passwordHash, current))) {
      throw AppError.validation([
        { field: "body.currentPassword", rule: "matches", message: "not the current password" },
      ]);
    }
    const problems = passwordProblems(next, u.username);
    if (current === next) problems.push("must differ from the current password");
    if (problems.length > 0) {
      throw AppError.validation(
        problems.map((m) => ({ field: "body.newPassword", rule: "policy", message: m })),
      );
    }
    const passwordHash = await hash(next, ARGON2_OPTIONS);
    await this.prisma.$transaction(async (tx) => {
      await tx.user.update({
        where: { id: u.id },
        data: { passwordHash, mustChangePassword: false, passwordChangedAt: this.clock() },
      });
      // Every other session ends; this one moves on (to the second factor if an administrator lacks one).
      await tx.session.updateMany({
        where: { userId: u.id, revokedAt: null, NOT: { tokenHash: session.tokenHash } },
        data: { revokedAt: this.clock() },
      });
      await tx.session.update({
        where: { tokenHash: session.tokenHash },
        data: { stage: session.user.administrator && !u.totpEnabled ? "totp-enrol" : "full" },
      });
      await this.audit.appendIn(tx, {
        ...who,
        action: "user.password.change",
        subject: `user:${u.username}`,
        outcome: "ok",
      });
    });
  }

  /** A new TOTP secret for the user (sealed at rest), not yet in force until a code confirms it. */
  async enrolTotp(session: SignedIn, who: Who): Promise<{ secret: string; uri: string }> {
    const u = await this.prisma.user.findUniqueOrThrow({ where: { id: session.user.id } });
    if (u.totpEnabled) {
      throw new AppError("conflict", "a second factor is already set up; an administrator resets it", {
        code: "TOTP_ENROLLED",
      });
    }
    const secret = generateSecret();
    await this.prisma.$transaction(async (tx) => {
      await tx.user.update({
        where: { id: u.id },
        data: { totpSealed: new Uint8Array(this.sealer.seal(totpContext(u.id), secret)) },
      });
      await this.audit.appendIn(tx, {
        ...who,
        action: "user.totp.enrol",
        subject: `user:${u.username}`,
        outcome: "ok",
      });
    });
    return { secret, uri: generateURI({ issuer: "Piaoju", label: u.username, secret }) };
  }

  async confirmTotp(session: SignedIn, who: Who, code: string): Promise<void> {
    const u = await this.prisma.user.findUniqueOrThrow({ where: { id: session.user.id } });
    if (u.totpEnabled || !(await this.totpMatches(u, code))) {
      throw AppError.validation([
        { field: "body.code", rule: "totp", message: "not the authenticator's current code" },
      ]);
    }
    await this.prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id: u.id }, data: { totpEnabled: true } });
      if (session.stage === "totp-enrol") {
        await tx.session.update({ where: { tokenHash: session.tokenHash }, data: { stage: "full" } });
      }
      await this.audit.appendIn(tx, {
        ...who,
        action: "user.totp.confirm",
        subject: `user:${u.username}`,
        outcome: "ok",
      });
    });
  }

  /** The user of this id if the caller's agency reaches it (a platform administrator reaches all). */
  async userInScope(agency: string, id: string): Promise<UserView> {
    const u = await this.view(id).catch(() => undefined);
    if (!u || (agency !== "*" && u.agencyCode !== agency)) {
      throw new AppError("not_found", `user ${id} does not exist`, { code: "USER_UNKNOWN" });
    }
    return u;
  }

  async setEnabled(who: Who, id: string, enabled: boolean): Promise<UserView> {
    const before = await this.view(id);
    await this.prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id }, data: { enabled } });
      if (!enabled)
        await tx.session.updateMany({
          where: { userId: id, revokedAt: null },
          data: { revokedAt: this.clock() },
        });
      await this.audit.appendIn(tx, {
        ...who,
        action: enabled ? "user.enable" : "user.disable",
        subject: `user:${before.username}`,
        outcome: "ok",
        before: { enabled: before.enabled },
        after: { enabled },
      });
    });
    return this.view(id);
  }

  /** A new one-time password (and no second factor): for a person who lost theirs. Sessions end. */
  async resetPassword(who: Who, id: string): Promise<{ oneTimePassword: string }> {
    const user = await this.view(id);
    const otp = oneTimePassword();
    const passwordHash = await hash(otp, ARGON2_OPTIONS);
    await this.prisma.$transaction(async (tx) => {
      await tx.user.update({
        where: { id },
        data: {
          passwordHash,
          mustChangePassword: true,
          failedLogins: 0,
          lockedUntil: null,
          totpEnabled: false,
          totpSealed: null,
          totpLastStep: null,
        },
      });
      await tx.session.updateMany({
        where: { userId: id, revokedAt: null },
        data: { revokedAt: this.clock() },
      });
      await this.audit.appendIn(tx, {
        ...who,
        action: "user.password.reset",
        subject: `user:${user.username}`,
        outcome: "ok",
      });
    });
    return { oneTimePassword: otp };
  }

  /** 功能授权 / 数据权限: a user's roles, each with its data scope, and their issuing points. Sessions end. */
  async setGrants(
    who: Who,
    id: string,
    input: { grants: GrantInput[]; issuingPoints: string[] },
  ): Promise<UserView> {
    const before = await this.view(id);
    if (before.username === who.actor) {
      throw new AppError("forbidden", "nobody grants themselves permissions", { code: "SELF_GRANT" });
    }
    await this.checkGrants(input.grants);
    await this.prisma.$transaction(async (tx) => {
      await tx.userRole.deleteMany({ where: { userId: id } });
      await tx.userRole.createMany({
        data: input.grants.map((g) => ({ userId: id, roleName: g.role, dataScope: g.scope ?? null })),
      });
      await tx.user.update({ where: { id }, data: { issuingPoints: input.issuingPoints } });
      await tx.session.updateMany({
        where: { userId: id, revokedAt: null },
        data: { revokedAt: this.clock() },
      });
      await this.audit.appendIn(tx, {
        ...who,
        action: "user.grants.set",
        subject: `user:${before.username}`,
        outcome: "ok",
        before: { roles: before.roles, issuingPoints: before.issuingPoints },
        after: { roles: input.grants, issuingPoints: input.issuingPoints },
      });
    });
    return this.view(id);
  }

  listRoles() {
    return this.prisma.role.findMany({ orderBy: { name: "asc" } });
  }

  /** 角色管理: a role's permissions and default data scope (built-in roles too: a bureau adapts them). */
  async putRole(
    who: Who,
    name: string,
    input: { title: string; permissions: Permission[]; dataScope: DataScope; administrator: boolean },
  ) {
    const before = await this.prisma.role.findUnique({ where: { name } });
    const builtIn = (BUILT_IN_ROLES as Record<string, unknown>)[name] !== undefined;
    // 三员分立 holds whatever an edit says: the audit log's reader role reads it and nothing else,
    // and no other role may read it alongside managing the system.
    if (input.permissions.includes("audit.read") && input.permissions.some((p) => p !== "audit.read")) {
      throw AppError.validation([
        {
          field: "body.permissions",
          rule: "separation",
          message: "audit.read goes in a role of its own (三员分立)",
        },
      ]);
    }
    const row = await this.prisma.$transaction(async (tx) => {
      const saved = await tx.role.upsert({
        where: { name },
        create: { name, ...input, builtIn },
        update: { ...input, updatedAt: this.clock() },
      });
      await this.audit.appendIn(tx, {
        ...who,
        action: "role.put",
        subject: `role:${name}`,
        outcome: "ok",
        before: before
          ? {
              permissions: before.permissions,
              dataScope: before.dataScope,
              administrator: before.administrator,
            }
          : null,
        after: input,
      });
      return saved;
    });
    return row;
  }

  static builtIn(name: string): name is BuiltInRole {
    return Object.hasOwn(BUILT_IN_ROLES, name);
  }
}

/** Where a user's sealed TOTP secret belongs (@piaoju/sealing); secrets of the format before it still open. */
function totpContext(userId: string): string {
  return `gateway/user/${userId}/totp`;
}
