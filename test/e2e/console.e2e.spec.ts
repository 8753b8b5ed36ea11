import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { generate } from "otplib";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONSOLE_SHOTS,
  type ConsoleRig,
  ConsoleSession,
  firstAdministrator,
  GOOD_PASSWORD,
  okBody,
  startConsoleRig,
  until,
} from "../support/console.ts";

const SHOTS = CONSOLE_SHOTS;
const AGENCY = "110101";
const BILL = "11010126";

/**
 * Each built-in role's menus, written out (not computed from the permissions): a change to a
 * role or a menu shows here in review.
 */
const MENUS: Record<string, string[]> = {
  "system-admin": ["交付管理", "开票点与项目", "项目分组", "用户管理", "角色管理", "会话管理"],
  "security-admin": ["用户管理", "角色管理", "会话管理"],
  auditor: ["日志管理"],
  "ticket-manager": [
    "工作台",
    "票据查询",
    "票据申领",
    "入库确认",
    "领用存台账",
    "票据分发",
    "申退与作废",
    "核销申请",
    "财政对账",
    "财政交互",
    "开票点与项目",
    "项目分组",
    "统计报表",
  ],
  clerk: [
    "工作台",
    "在线开具",
    "票据查询",
    "常用交款人",
    "交付管理",
    "缴款查询",
    "退款查询",
    "渠道对账",
    "统一对账单",
    "差异工作台",
    "到账核对",
    "资金清分",
    "开票点与项目",
    "项目分组",
  ],
  "finance-liaison": [
    "工作台",
    "票据查询",
    "领用存台账",
    "票据分发",
    "申退与作废",
    "核销申请",
    "财政对账",
    "财政交互",
    "缴款查询",
    "退款查询",
    "渠道对账",
    "统一对账单",
    "差异工作台",
    "到账核对",
    "资金清分",
    "开票点与项目",
    "项目分组",
    "统计报表",
  ],
};

/**
 * The admin console (管理端) in Chromium against the platform as `./piaoju start` runs it (embedded,
 * the finance simulator beside it, the demo's agency 110101 with WIN-01): the first administrator's
 * first sign-in, a clerk issuing, finding, opening and red-flushing a receipt and not seeing another
 * window's, a ticket manager's 申领 and 入库, the auditor's log, and each role's menus.
 */
describe("the admin console", () => {
  let platform: { child: ChildProcess; url: string; out: () => string };
  let browser: Browser;
  let rig: ConsoleRig | undefined;
  const otp: Record<string, string> = {};
  const totp: Record<string, string> = {};
  /** API sessions (as a browser's) for the setup the browser does not need to show. */
  let sysadmin: ConsoleSession;
  let secadmin: ConsoleSession;
  let clerkReceipt: { id: string; number: string };
  let otherReceipt: { id: string; payerName: string };

  beforeAll(async () => {
    rig = await startConsoleRig("console");
    ({ platform, browser } = rig);
    Object.assign(otp, rig.otp);
  }, 240_000);
  afterAll(async () => {
    await rig?.stop();
  }, 60_000);

  const newPage = async () => {
    const context = await browser.newContext({
      viewport: { width: 1440, height: 900 },
      locale: "zh-CN",
      acceptDownloads: true,
    });
    return context.newPage();
  };
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `console-${name}.png`) });
  const menus = async (page: Page) => {
    await page.waitForSelector(
      ".ant-pro-sider-menu .ant-menu-item, .ant-pro-top-nav-header-menu .ant-menu-item, .ant-menu-item",
    );
    return (await page.locator(".ant-menu-item").allInnerTexts()).map((s) => s.trim()).filter(Boolean);
  };
  const signIn = async (page: Page, username: string, password: string, code?: string) => {
    await page.goto(`${platform.url}/admin/`);
    await page.fill("#username", username);
    await page.fill("#password", password);
    await page.click("#login-submit");
    if (code) {
      await page.waitForSelector("#totp");
      await page.fill("#totp", code);
      await page.click("#login-submit");
    }
  };
  /** First sign-in with a one-time password: the page asks for a new one. */
  const firstSignIn = async (page: Page, username: string, oneTime: string) => {
    await signIn(page, username, oneTime);
    await page.waitForSelector("#new-password");
    await page.fill("#new-password", GOOD_PASSWORD);
    await page.fill("#confirm-password", GOOD_PASSWORD);
    await page.click("#password-submit");
  };
  /** An authenticator's code for the next 30-second step (the current one may be spent). */
  const nextCode = (secret: string) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
  /** An administrator's first steps through the API, as the people e2e does. */
  const adminByApi = async (username: string) => {
    const { session, totpSecret } = await firstAdministrator(platform.url, username, otp[username]!);
    totp[username] = totpSecret;
    return session;
  };
  const ok = okBody;

  it("the first administrator signs in with the one-time password, sets a new one and an authenticator, and creates a clerk", async () => {
    expect(Object.keys(otp).sort()).toEqual(["auditor", "secadmin", "sysadmin"]);
    const page = await newPage();
    await page.goto(`${platform.url}/admin/`);
    await page.waitForSelector("#username");
    await shot(page, "login");
    await firstSignIn(page, "sysadmin", otp.sysadmin!);
    // An administrator: an authenticator before anything else.
    const secret = ((await (await page.waitForSelector("#totp-secret")).textContent()) ?? "").trim();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    // The authenticator can scan it: a QR code drawn in the page, beside the otpauth URI it holds.
    const qr = await page.waitForSelector("#totp-qr canvas");
    expect((await qr.boundingBox())?.width).toBeGreaterThan(100);
    expect(await page.textContent("body")).toContain(`otpauth://totp/`);
    expect(await page.textContent("body")).toContain(`secret=${secret}`);
    await shot(page, "totp");
    totp.sysadmin = secret;
    await page.fill("#totp-code", await generate({ secret }));
    await page.click("#totp-submit");
    expect(await menus(page)).toEqual(MENUS["system-admin"]);
    // The cookie the page holds is httpOnly: the page's script cannot read it.
    expect(await page.evaluate("document.cookie")).not.toContain("piaoju_session");
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === "piaoju_session")).toMatchObject({
      httpOnly: true,
      sameSite: "Strict",
    });

    // A platform-wide administrator works on one agency at a time.
    await page.fill("#agency-code", AGENCY);
    await page.locator("#agency-code").blur();
    await page.click("text=用户管理");
    await page.click("#user-new");
    await page.fill("#new-username", "clerk.w1");
    await page.fill("#new-display-name", "窗口一 陈");
    await page.fill("#new-points", "WIN-01");
    await page.click("#user-create");
    otp["clerk.w1"] = ((await (await page.waitForSelector("#one-time-password")).textContent()) ?? "").trim();
    expect(otp["clerk.w1"]).toHaveLength(18);
    await page.keyboard.press("Escape");
    await page.waitForSelector("#users >> text=clerk.w1");
    await shot(page, "users");
    await page.context().close();

    // The rest of the bureau's people, through the same API the page uses.
    sysadmin = new ConsoleSession(platform.url);
    expect((await sysadmin.login("sysadmin", GOOD_PASSWORD, await nextCode(secret))).body.stage).toBe("full");
    for (const [username, displayName, issuingPoints] of [
      ["clerk.w2", "窗口二 王", ["WIN-02"]],
      ["tm.li", "票据管理员 李", []],
      ["fl.zhao", "财务联络员 赵", []],
    ] as const) {
      const made = await ok(sysadmin, "POST", "/api/console/users", {
        username,
        displayName,
        agencyCode: AGENCY,
        issuingPoints,
      });
      otp[username] = String(made.oneTimePassword);
    }
    await ok(sysadmin, "POST", "/api/internal/v1/issuance/issuing-points", {
      agencyCode: AGENCY,
      code: "WIN-02",
      name: "二号窗口",
    });
    // The security administrator grants the roles (三员分立: the system administrator cannot).
    secadmin = await adminByApi("secadmin");
    const users = (await ok(secadmin, "GET", "/api/console/users")).items as Array<{
      id: string;
      username: string;
    }>;
    const idOf = (name: string) => users.find((u) => u.username === name)!.id;
    for (const [username, role, points] of [
      ["clerk.w1", "clerk", ["WIN-01"]],
      ["clerk.w2", "clerk", ["WIN-02"]],
      ["tm.li", "ticket-manager", []],
      ["fl.zhao", "finance-liaison", []],
    ] as const) {
      await ok(secadmin, "PUT", `/api/console/users/${idOf(username)}/grants`, {
        grants: [{ role }],
        issuingPoints: points,
      });
    }
  }, 120_000);

  it("a clerk of WIN-01 issues a receipt online, finds it, opens its PDF and red-flushes it; WIN-02's receipts stay out of sight", async () => {
    // WIN-02 gets numbers (the ticket manager's rule) and a receipt from its own clerk.
    const tm = new ConsoleSession(platform.url);
    await tm.login("tm.li", otp["tm.li"]!);
    await ok(tm, "POST", "/api/console/password", {
      currentPassword: otp["tm.li"],
      newPassword: GOOD_PASSWORD,
    });
    await ok(tm, "PUT", `/api/internal/v1/stock/distribution-rules/${AGENCY}/${BILL}/WIN-02`, {
      threshold: 10,
      batchSize: 50,
    });
    const w2 = new ConsoleSession(platform.url);
    await w2.login("clerk.w2", otp["clerk.w2"]!);
    await ok(w2, "POST", "/api/console/password", {
      currentPassword: otp["clerk.w2"],
      newPassword: GOOD_PASSWORD,
    });
    await expect
      .poll(
        async () =>
          (await w2.request("GET", `/api/internal/v1/reporting/receipts?agencyCode=${AGENCY}`)).status,
      )
      .toBe(200);
    const theirs = await until(async () => {
      const res = await w2.request("POST", "/api/internal/v1/receipts", {
        agencyCode: AGENCY,
        issuingPointCode: "WIN-02",
        billCode: BILL,
        bizSerialNo: "CONSOLE-W2-1",
        payer: { type: 1, code: "110101199003074514", name: "王小明" },
        items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
        totalFen: 12000,
        handlingPerson: "窗口二 王",
      });
      return res.status === 201 || res.status === 200 ? res.body : undefined;
    });
    otherReceipt = { id: String(theirs.id), payerName: "王小明" };

    const page = await newPage();
    await firstSignIn(page, "clerk.w1", otp["clerk.w1"]!);
    expect(await menus(page)).toEqual(MENUS.clerk);
    await page.waitForSelector("#dashboard-stats");
    await page.click("text=在线开具");
    // At the window, by keyboard: payer, item (typed, Enter picks it), the amount follows its standard.
    await page.waitForSelector("#payer-name");
    await page.fill("#payer-name", "张三");
    await page.fill("#payer-code", "11010519491231002X");
    await page.fill("#payer-phone", "13800138000");
    await page.click("#line-0-item");
    await page.keyboard.type("001");
    await page.waitForSelector('.ant-select-item-option:has-text("护照工本费")');
    await page.keyboard.press("Enter");
    await expect.poll(() => page.inputValue("#line-0-amount")).toBe("120.00");
    await shot(page, "issue");
    await page.focus("#payer-name");
    await page.keyboard.press("Enter");
    const issued = ((await (await page.waitForSelector("#issued-number")).textContent()) ?? "").trim();
    expect(issued).toMatch(new RegExp(`^${BILL}-\\d{10}`));
    const number = issued.slice(BILL.length + 1, BILL.length + 11);

    // 票据查询: found by the payer's name.
    await page.click("text=票据查询");
    const row = page.locator(`a.receipt-link:has-text("${number}")`);
    const search = async (payerName: string) => {
      await page.fill("#payerName", payerName);
      await Promise.all([
        page.waitForResponse((r) => r.url().includes("/v1/reporting/receipts")),
        page.press("#payerName", "Enter"),
      ]);
    };
    await until(async () => {
      await search("张三");
      return (await row.count()) > 0 ? true : undefined;
    });
    await shot(page, "receipt-search");
    await row.click();

    // The detail follows the receipt to ISSUED (agency SM2 signature, finance's 监制).
    await page.waitForSelector('#receipt-status:has-text("已开具")', { timeout: 60_000 });
    clerkReceipt = { id: page.url().split("/").pop()!, number };
    const pdf = await until(async () => {
      const res = await page.request.get(
        `${platform.url}/api/internal/v1/delivery/receipts/${clerkReceipt.id}/print`,
      );
      return res.status() === 200 ? res : undefined;
    });
    expect(pdf.headers()["content-type"]).toBe("application/pdf");
    expect((await pdf.body()).subarray(0, 5).toString()).toBe("%PDF-");
    await page.reload();
    await page.waitForSelector(".receipt-timeline >> text=财政监制");
    await shot(page, "receipt-detail");

    await page.click("#action-redFlush");
    await page.fill("#action-reason", "交款人申请退费");
    await page.click("#action-confirm");
    await page.waitForSelector("#receipt-title >> text=红票");
    // The original is red-flushed once the red receipt is signed and supervised in its turn.
    await until(async () => {
      const res = await page.request.get(`${platform.url}/api/internal/v1/receipts/${clerkReceipt.id}`);
      return (await res.json()).status === "RED_FLUSHED" || undefined;
    });

    // WIN-02's receipt, asked for by id: refused by the API, and the page says so.
    const direct = await page.request.get(`${platform.url}/api/internal/v1/receipts/${otherReceipt.id}`);
    expect([direct.status(), (await direct.json()).code]).toEqual([403, "OUT_OF_SCOPE"]);
    const searchW2 = await page.request.get(
      `${platform.url}/api/internal/v1/reporting/receipts?agencyCode=${AGENCY}&issuingPointCode=WIN-02`,
    );
    expect(searchW2.status()).toBe(403);
    await page.goto(`${platform.url}/admin/receipts/${otherReceipt.id}`);
    await page.waitForSelector("#receipt-error");
    // Nor is it in the clerk's search, by its payer's name (the same search found the clerk's own).
    await page.click("text=票据查询");
    await search(otherReceipt.payerName);
    await page.waitForSelector(".ant-table-placeholder");
    expect(await page.locator("a.receipt-link").count()).toBe(0);
    await page.context().close();
  }, 120_000);

  it("a ticket manager applies to finance for numbers and confirms them into stock", async () => {
    const page = await newPage();
    await signIn(page, "tm.li", GOOD_PASSWORD);
    expect(await menus(page)).toEqual(MENUS["ticket-manager"]);
    await page.waitForSelector("#numbers-left >> text=WIN-01");
    await shot(page, "dashboard");
    await page.click("text=票据申领");
    await page.click("#apply-bill");
    await page.waitForSelector(`.ant-select-item-option:has-text("${BILL}")`);
    await page.keyboard.press("Enter");
    await page.fill("#apply-quantity", "500");
    await page.click("#apply-submit");
    // The finance simulator answers; the list shows its status.
    await until(async () => {
      await Promise.all([
        page.waitForResponse((r) => r.url().includes("/stock-applications")),
        page.click("#apply-reload"),
      ]);
      return (
        (await page.locator("#applications .application-status", { hasText: "财政已发放" }).count()) > 0 ||
        undefined
      );
    });
    await shot(page, "stock-apply");
    await page.click("text=入库确认");
    const confirm = page.locator(".segment-confirm");
    await until(async () => {
      await Promise.all([
        page.waitForResponse((r) => r.url().includes("/v1/stock/segments")),
        page.click("#segments-reload"),
      ]);
      return (await confirm.count()) > 0 || undefined;
    });
    await Promise.all([
      page.waitForResponse((r) => r.url().includes("/confirm") && r.status() === 200),
      confirm.first().click(),
    ]);
    await expect.poll(() => confirm.count()).toBe(0);
    await page.context().close();
  }, 120_000);

  it("the auditor finds those actions in the audit log and sees no other menu", async () => {
    await adminByApi("auditor");
    const page = await newPage();
    await signIn(page, "auditor", GOOD_PASSWORD, await nextCode(totp.auditor!));
    expect(await menus(page)).toEqual(MENUS.auditor);
    await page.waitForSelector("#audit");
    const actions = async (actor: string) => {
      await page.fill("#actor", actor);
      await Promise.all([
        page.waitForResponse((r) => r.url().includes("/api/console/audit")),
        page.press("#actor", "Enter"),
      ]);
      await page.waitForSelector(`#audit td >> text=${actor}`);
      return page.locator("#audit td code").allInnerTexts();
    };
    expect(await actions("clerk.w1")).toEqual(
      expect.arrayContaining(["session.login", "POST /v1/receipts", "POST /v1/receipts/:id/red-flush"]),
    );
    expect(await actions("tm.li")).toEqual(
      expect.arrayContaining([
        "POST /v1/finance-exchange/stock-applications",
        "POST /v1/stock/segments/:id/confirm",
      ]),
    );
    await shot(page, "audit-log");
    // The menus are a courtesy; the API refuses the auditor everything else.
    expect((await page.request.get(`${platform.url}/api/console/users`)).status()).toBe(403);
    await page.context().close();
  }, 120_000);

  it("the security administrator and the finance liaison see only their menus", async () => {
    for (const [username, role, password, code] of [
      ["secadmin", "security-admin", GOOD_PASSWORD, await nextCode(totp.secadmin!)],
      ["fl.zhao", "finance-liaison", otp["fl.zhao"]!, undefined],
    ] as const) {
      const page = await newPage();
      if (code) await signIn(page, username, password, code);
      else await firstSignIn(page, username, password);
      expect(await menus(page), role).toEqual(MENUS[role]);
      await page.context().close();
    }
  }, 120_000);
});
