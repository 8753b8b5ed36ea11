import { randomBytes } from "node:crypto";
import { gatewayService } from "@piaoju/gateway";
import { issuanceService } from "@piaoju/issuance";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { generate } from "otplib";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  AGENCY,
  distribute,
  distribution,
  issueBody,
  seedReferenceData,
  waitFor,
} from "../../services/issuance/src/testing/harness.ts";
import { ConsoleSession, createAccount, GOOD_PASSWORD, signedInAs } from "../support/console.ts";

/**
 * People (issue 11 items 1, 3, 4; issue 9 class 6) through the gateway over real HTTP, on
 * PostgreSQL + Kafka and on PGlite + the embedded bus: sign-in with its first steps, lockout,
 * second factor, CSRF, sessions ended one by one and all at once, data scopes on reads and
 * writes, and the audit log: who reads it, and that a changed row breaks its chain.
 */
describe.each(["cluster", "embedded"] as const)("people (%s)", (mode) => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await startTestPlatform({
      mode,
      services: [issuanceService, gatewayService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_CHECK_CODE_KEY: randomBytes(16).toString("hex"),
        PIAOJU_CONSOLE_SECURE_COOKIES: "false",
      },
    });
    await seedReferenceData((m, p, b) => t.call(m, p, b));
    await distribute(t.probe, [distribution("WIN-01", 1001, 100), distribution("WIN-02", 2001, 100)]);
    await waitFor(async () => {
      const runs = await t.call("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}`);
      return ((runs.body.items as unknown[] | undefined) ?? []).length === 2;
    });
  }, 240_000);
  afterAll(async () => {
    await t?.stop();
  });

  it("first sign-in: the one-time password must be changed, to one the policy takes, with the CSRF token", async () => {
    const otp = await createAccount(t, {
      username: "chen.yi",
      agencyCode: AGENCY,
      roles: ["clerk"],
      issuingPoints: ["WIN-01"],
    });
    const s = new ConsoleSession(t.platform.url);
    const login = await s.login("chen.yi", otp);
    expect(login).toMatchObject({ status: 200, body: { stage: "password" } });
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith("piaoju_session="));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const early = await s.request("GET", `/api/internal/v1/issuance/items?agencyCode=${AGENCY}`);
    expect(early).toMatchObject({ status: 403, body: { code: "PASSWORD_CHANGE_REQUIRED" } });
    const noCsrf = await s.request(
      "POST",
      "/api/console/password",
      { currentPassword: otp, newPassword: GOOD_PASSWORD },
      { csrf: false },
    );
    expect(noCsrf).toMatchObject({ status: 403, body: { code: "CSRF_REFUSED" } });
    const weak = await s.request("POST", "/api/console/password", {
      currentPassword: otp,
      newPassword: "chen.yi-password",
    });
    expect(weak.status).toBe(400);
    expect(weak.body.issues?.map((i) => i.field)).toContain("body.newPassword");
    const changed = await s.request("POST", "/api/console/password", {
      currentPassword: otp,
      newPassword: GOOD_PASSWORD,
    });
    expect(changed.status).toBe(200);
    expect((await s.request("GET", "/api/console/me")).body).toMatchObject({
      stage: "full",
      user: { mustChangePassword: false },
    });
    expect((await s.request("GET", `/api/internal/v1/issuance/items?agencyCode=${AGENCY}`)).status).toBe(200);
    // The old one-time password no longer signs in.
    expect((await new ConsoleSession(t.platform.url).login("chen.yi", otp)).status).toBe(401);
  });

  it("locks an account after five failures, answering alike for unknown names, locked and wrong passwords", async () => {
    const otp = await createAccount(t, { username: "guess.me", agencyCode: AGENCY, roles: ["clerk"] });
    const s = new ConsoleSession(t.platform.url);
    for (let i = 0; i < 5; i++) {
      expect((await s.login("guess.me", `wrong-${i}`)).body).toMatchObject({ code: "LOGIN_FAILED" });
    }
    expect(await s.login("guess.me", otp)).toMatchObject({ status: 401, body: { code: "LOGIN_FAILED" } });
    expect(await s.login("nobody.here", otp)).toMatchObject({ status: 401, body: { code: "LOGIN_FAILED" } });
  });

  it("administrators set up an authenticator before anything else, and need its code at every sign-in, once per code", async () => {
    const otp = await createAccount(t, { username: "admin.wu", agencyCode: AGENCY, roles: ["system-admin"] });
    const s = new ConsoleSession(t.platform.url);
    await s.login("admin.wu", otp);
    await s.request("POST", "/api/console/password", { currentPassword: otp, newPassword: GOOD_PASSWORD });
    expect((await s.request("GET", "/api/console/me")).body.stage).toBe("totp-enrol");
    expect((await s.request("GET", "/api/console/users")).body.code).toBe("TOTP_ENROLMENT_REQUIRED");
    const { secret } = (await s.request("POST", "/api/console/totp/enroll", {})).body as { secret: string };
    expect((await s.request("POST", "/api/console/totp/confirm", { code: "000000" })).status).toBe(400);
    const code = await generate({ secret });
    expect((await s.request("POST", "/api/console/totp/confirm", { code })).status).toBe(200);
    expect((await s.request("GET", "/api/console/users")).status).toBe(200);

    const again = new ConsoleSession(t.platform.url);
    expect((await again.login("admin.wu", GOOD_PASSWORD)).body.code).toBe("TOTP_REQUIRED");
    // The code just used is spent; the next step's code works once.
    expect((await again.login("admin.wu", GOOD_PASSWORD, code)).status).toBe(401);
    const next = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    expect((await again.login("admin.wu", GOOD_PASSWORD, next)).body.stage).toBe("full");
  });

  it("ends a session at logout, and every session of a user when an administrator revokes them", async () => {
    const { session: admin } = await signedInAs(t, {
      username: "admin.zhao",
      agencyCode: AGENCY,
      roles: ["system-admin"],
    });
    const { session: a } = await signedInAs(t, {
      username: "clerk.a",
      agencyCode: AGENCY,
      roles: ["clerk"],
      issuingPoints: ["WIN-01"],
    });
    const b = new ConsoleSession(t.platform.url);
    expect((await b.login("clerk.a", GOOD_PASSWORD)).status).toBe(200);
    expect((await a.request("POST", "/api/console/logout", {})).status).toBe(200);
    expect((await a.request("GET", "/api/console/me")).body.code).toBe("SESSION_REQUIRED");
    expect((await b.request("GET", "/api/console/me")).status).toBe(200);
    const users = (await admin.request("GET", "/api/console/users")).body.items as Array<{
      id: string;
      username: string;
    }>;
    const id = users.find((u) => u.username === "clerk.a")!.id;
    expect((await admin.request("POST", `/api/console/users/${id}/revoke-sessions`, {})).body).toMatchObject({
      revoked: 1,
    });
    expect((await b.request("GET", "/api/console/me")).body.code).toBe("SESSION_REQUIRED");
  });

  it("binds reads and writes to the caller's issuing points: a clerk of WIN-01 neither issues at WIN-02 nor reads its receipts", async () => {
    const { session: win1 } = await signedInAs(t, {
      username: "clerk.w1",
      agencyCode: AGENCY,
      roles: ["clerk"],
      issuingPoints: ["WIN-01"],
    });
    const { session: win2 } = await signedInAs(t, {
      username: "clerk.w2",
      agencyCode: AGENCY,
      roles: ["clerk"],
      issuingPoints: ["WIN-02"],
    });
    // A person's receipt is 在线开具 by who is calling (the platform sets provenance, never the body).
    const mine = await win1.request("POST", "/api/internal/v1/receipts", issueBody("PPL-1", "WIN-01"));
    expect(mine.status).toBe(201);
    const theirs = await win2.request("POST", "/api/internal/v1/receipts", issueBody("PPL-2", "WIN-02"));
    expect(theirs.status).toBe(201);
    expect(
      (await win1.request("POST", "/api/internal/v1/receipts", issueBody("PPL-3", "WIN-02"))).body.code,
    ).toBe("OUT_OF_SCOPE");
    const id2 = String(theirs.body.id);
    for (const path of [
      `/v1/receipts/${id2}`,
      `/v1/receipts/${id2}/status`,
      `/v1/receipts/${id2}/document`,
    ]) {
      expect((await win1.request("GET", `/api/internal${path}`)).body.code).toBe("OUT_OF_SCOPE");
    }
    const bySerial = await win1.request(
      "GET",
      `/api/internal/v1/receipts?agencyCode=${AGENCY}&bizSerialNo=PPL-2`,
    );
    expect(bySerial.body.items).toEqual([]);
    expect(
      (await win1.request("POST", `/api/internal/v1/receipts/${id2}/void`, { reason: "不是我的" })).body.code,
    ).toBe("OUT_OF_SCOPE");
    // A person in scope sees the payer's identifier in full (it is checked at the window).
    const read = await win1.request("GET", `/api/internal/v1/receipts/${String(mine.body.id)}`);
    expect(read.body).toMatchObject({ issuingPointCode: "WIN-01", payer: { code: "11010519491231002X" } });
    // The number runs a clerk sees are their points' only.
    const runs = (await win1.request("GET", `/api/internal/v1/issuance/number-runs?agencyCode=${AGENCY}`))
      .body;
    expect(runs.code).toBe("PERMISSION_DENIED");
  });

  it("a business system bound to WIN-02 reads the receipts of WIN-02 only, with the payer's identifier masked (issue 9 class 6)", async () => {
    const { session: admin } = await signedInAs(t, {
      username: "admin.apps",
      agencyCode: AGENCY,
      roles: ["system-admin"],
    });
    const registered = await admin.request("POST", "/api/internal/v1/gateway/apps", {
      name: "窗口二业务系统",
      agencyCode: AGENCY,
      issuingPoints: ["WIN-02"],
    });
    expect(registered.status).toBe(201);
    const appId = String(registered.body.appId);
    const { session: win1 } = await signedInAs(t, {
      username: "clerk.x1",
      agencyCode: AGENCY,
      roles: ["clerk"],
      issuingPoints: ["WIN-01"],
    });
    const w1 = await win1.request("POST", "/api/internal/v1/receipts", issueBody("PPL-APP-1", "WIN-01"));
    // What the gateway asserts for that app, straight at the service: the same scope as its writes.
    const asApp = {
      actor: `app:${appId}`,
      kind: "app" as const,
      agency: AGENCY,
      grants: [
        {
          permissions: ["receipt.issue", "receipt.read"] as const,
          scope: "points" as const,
          issuingPoints: ["WIN-02"],
        },
      ],
    };
    const other = await t.call("GET", `/v1/receipts/${String(w1.body.id)}`, undefined, asApp);
    expect(other).toMatchObject({ status: 403, body: { code: "OUT_OF_SCOPE" } });
    const bySerial = await t.call(
      "GET",
      `/v1/receipts?agencyCode=${AGENCY}&bizSerialNo=PPL-APP-1`,
      undefined,
      asApp,
    );
    expect(bySerial.body.items).toEqual([]);
    const own = await t.call("POST", "/v1/receipts", issueBody("PPL-APP-2", "WIN-02"), asApp);
    expect(own.status).toBe(201);
    expect((own.body.payer as { code: string }).code).toBe("110***********002X");
    const read = await t.call("GET", `/v1/receipts/${String(own.body.id)}`, undefined, asApp);
    expect((read.body.payer as { code: string }).code).toBe("110***********002X");
  });

  it("refuses self-declared identity: headers without a signed assertion, or with one for another request", async () => {
    const bare = await fetch(`${t.platform.url}/v1/issuance/items?agencyCode=${AGENCY}`, {
      headers: {
        authorization: `Bearer ${t.env.PIAOJU_INTERNAL_TOKEN}`,
        "x-piaoju-actor": "mallory",
        "x-piaoju-agencies": "*",
      },
    });
    expect(((await bare.json()) as { code: string }).code).toBe("ASSERTION_REQUIRED");
    const { callerHeaders } = await import("@piaoju/runtime/testing");
    const forOther = callerHeaders(
      { "x-piaoju-actor": "m", "x-piaoju-agencies": AGENCY },
      "GET",
      `/v1/issuance/issuing-points?agencyCode=${AGENCY}`,
    );
    const replayed = await fetch(`${t.platform.url}/v1/issuance/items?agencyCode=${AGENCY}`, {
      headers: { authorization: `Bearer ${t.env.PIAOJU_INTERNAL_TOKEN}`, ...forOther },
    });
    expect(((await replayed.json()) as { code: string }).code).toBe("ASSERTION_REFUSED");
  });

  it("audits logins, failures and changes with before/after; only the auditor reads it; a changed row breaks the chain", async () => {
    const { session: auditor } = await signedInAs(t, {
      username: "audit.li",
      agencyCode: "*",
      roles: ["auditor"],
    });
    const { session: sys } = await signedInAs(t, {
      username: "sys.li",
      agencyCode: "*",
      roles: ["system-admin"],
    });
    const { session: sec } = await signedInAs(t, {
      username: "sec.li",
      agencyCode: "*",
      roles: ["security-admin"],
    });
    expect((await sys.request("GET", "/api/console/audit")).body.code).toBe("PERMISSION_DENIED");
    expect((await sec.request("GET", "/api/console/audit")).body.code).toBe("PERMISSION_DENIED");
    const users = (await sec.request("GET", "/api/console/users")).body.items as Array<{
      id: string;
      username: string;
    }>;
    const target = users.find((u) => u.username === "clerk.w1")!;
    const granted = await sec.request("PUT", `/api/console/users/${target.id}/grants`, {
      grants: [{ role: "clerk" }, { role: "finance-liaison" }],
      issuingPoints: ["WIN-01"],
    });
    expect(granted.status).toBe(200);
    const self = users.find((u) => u.username === "sec.li")!;
    expect(
      (await sec.request("PUT", `/api/console/users/${self.id}/grants`, { grants: [{ role: "auditor" }] }))
        .body.code,
    ).toBe("SELF_GRANT");

    const log = (await auditor.request("GET", "/api/console/audit?limit=1000")).body.items as Array<{
      actor: string;
      action: string;
      outcome: string;
      address: string;
      before: unknown;
      after: unknown;
    }>;
    expect(
      log.find(
        (e) => e.action === "session.login" && e.outcome === "refused:password" && e.actor === "guess.me",
      ),
    ).toBeDefined();
    expect(
      log.find((e) => e.action === "session.login" && e.outcome === "ok" && e.actor === "audit.li")?.address,
    ).toBeTruthy();
    expect(log.find((e) => e.action === "user.grants.set" && e.actor === "sec.li")).toMatchObject({
      before: { roles: [{ role: "clerk", scope: "points" }] },
      after: { roles: [{ role: "clerk" }, { role: "finance-liaison" }] },
    });
    expect(log.find((e) => e.action === "POST /v1/receipts" && e.actor === "clerk.w1")).toMatchObject({
      outcome: "201",
    });
    // Newest first, page by page: the pages follow each other without gap or overlap, and the
    // total is the filter's whole count.
    const page = async (offset: number) =>
      (await auditor.request("GET", `/api/console/audit?order=desc&limit=5&offset=${offset}`)).body as {
        items: Array<{ seq: string }>;
        total: number;
      };
    const [first, second] = [await page(0), await page(5)];
    const all = (await auditor.request("GET", "/api/console/audit?order=desc&limit=1000")).body as {
      items: Array<{ seq: string }>;
      total: number;
    };
    expect(first.total).toBeGreaterThanOrEqual(10);
    expect([...first.items, ...second.items].map((e) => e.seq)).toEqual(
      all.items.slice(0, 10).map((e) => e.seq),
    );
    expect(all.items.map((e) => BigInt(e.seq))).toEqual(
      [...all.items.map((e) => BigInt(e.seq))].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)),
    );
    expect((await auditor.request("GET", "/api/console/audit?offset=-1")).status).toBe(400);
    const csv = await auditor.request("GET", "/api/console/audit/export?action=session.");
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect(csv.text.split("\r\n")[0]).toContain("seq,at,actor,address,action");

    // A refused change whose body carries a "__proto__" key is audited with what can be stored,
    // and the chain still verifies over it (the fuzz suite found the chain broken there).
    const hostile = JSON.parse(
      `{"agencyCode":"${AGENCY}","code":"P1","name":"x","__proto__":{"admin":true}}`,
    );
    expect((await sys.request("POST", "/api/internal/v1/issuance/items", hostile)).status).toBe(400);
    const verified = await t.call("GET", "/v1/admin/audit/verification", undefined, {});
    expect(verified.body).toMatchObject({ entries: expect.any(Number) });
    expect(verified.body.broken).toBeUndefined();

    const db = t.platform.databases.get("gateway")!;
    await expect(db.query(`UPDATE audit_entry SET actor = 'someone' WHERE seq = 3`)).rejects.toThrow(
      /append-only/,
    );
    await expect(db.query(`DELETE FROM audit_entry WHERE seq = 3`)).rejects.toThrow(/append-only/);
    // Someone with the power to switch the trigger off (the database's owner) changes history:
    await db.exec(`ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_change;
      UPDATE audit_entry SET subject = 'user:someone-else' WHERE seq = 3;
      ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_change;`);
    const broken = await t.call("GET", "/v1/admin/audit/verification", undefined, {});
    expect(broken.body.broken).toEqual({ seq: "3", reason: "hash-mismatch" });
  });
});
