import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONSOLE_SHOTS,
  type ConsoleRig,
  firstAdministrator,
  GOOD_PASSWORD,
  okBody,
  staffByApi,
  startConsoleRig,
  until,
} from "../support/console.ts";

const SHOTS = CONSOLE_SHOTS;
const AGENCY = "110101";
const today = () => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
const PAYER = { name: "李四", code: "110101199003074514", phone: "13900001111", email: "li.si@example.cn" };

/**
 * The window's base data and the checks around a receipt, in Chromium against `piaoju start`:
 * 项目分组 kept by the ticket manager, 常用交款人 saved by a clerk (masked in the list), the 开票
 * form filled from both, 签名验证 of the issued receipt on its detail page (both signatures and
 * their chains, server-side), and 财政交互 (the upload queue and the archive) for the finance
 * liaison. Each with a refusal for a role without the permission: no button, and 403 from the API.
 */
describe("the admin console's item groups, frequent payers, signature verification and 财政交互", () => {
  let platform: { child: ChildProcess; url: string; out: () => string };
  let browser: Browser;
  let rig: ConsoleRig | undefined;
  const otp: Record<string, string> = {};
  let issued: { id: string; billCode: string; number: string } | undefined;

  beforeAll(async () => {
    rig = await startConsoleRig("console-window");
    ({ platform, browser } = rig);
    Object.assign(otp, rig.otp);
    const sysadmin = await adminByApi("sysadmin");
    const secadmin = await adminByApi("secadmin");
    // A second item, so a group has two (the demo registered 001 护照工本费).
    await ok(sysadmin, "POST", "/api/internal/v1/issuance/items", {
      agencyCode: AGENCY,
      code: "002",
      name: "港澳通行证工本费",
      unit: "本",
      standardFen: 8000,
    });
    await staffByApi(platform.url, { sysadmin, secadmin }, AGENCY, [
      { username: "clerk.w1", displayName: "窗口一 孙", role: "clerk", issuingPoints: ["WIN-01"] },
      { username: "tm.w", displayName: "票据管理员 周", role: "ticket-manager", issuingPoints: [] },
      { username: "fl.w", displayName: "财务联络员 吴", role: "finance-liaison", issuingPoints: [] },
    ]);
  }, 300_000);
  afterAll(async () => {
    await rig?.stop();
  }, 60_000);

  const ok = okBody;
  const adminByApi = async (username: string) =>
    (await firstAdministrator(platform.url, username, otp[username]!)).session;
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `console-${name}.png`) });
  const open = async (username: string) => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "zh-CN" });
    const page = await context.newPage();
    await page.goto(`${platform.url}/admin/`);
    await page.fill("#username", username);
    await page.fill("#password", GOOD_PASSWORD);
    await page.click("#login-submit");
    await page.waitForSelector(".ant-menu-item");
    return page;
  };
  const go = (page: Page, menu: string) => page.click(`.ant-menu-item >> text=${menu}`);
  const choose = async (page: Page, selector: string, text: string) => {
    await page.click(selector);
    await page.click(`.ant-select-dropdown:visible .ant-select-item-option:has-text("${text}")`);
  };
  /** The API's answer to a call the page does not offer (the menu is a courtesy; this is the control). */
  const refusal = async (page: Page, method: "GET" | "DELETE", path: string) => {
    const csrf = (await page.context().cookies()).find((c) => c.name === "piaoju_csrf")?.value ?? "";
    const res =
      method === "GET"
        ? await page.request.get(`${platform.url}${path}`)
        : await page.request.delete(`${platform.url}${path}`, { headers: { "x-csrf-token": csrf } });
    return [res.status(), (await res.json()).code];
  };

  it("项目分组: the ticket manager groups two items; the window's payers are not theirs", async () => {
    const page = await open("tm.w");
    await go(page, "项目分组");
    await page.click("#group-new");
    await page.fill("#group-name", "出入境证件");
    await choose(page, "#group-items", "护照工本费");
    await page.click('.ant-select-dropdown:visible .ant-select-item-option:has-text("港澳通行证工本费")');
    await page.keyboard.press("Escape");
    const [made] = await Promise.all([
      page.waitForResponse(
        (r) => r.url().endsWith("/v1/issuance/item-groups") && r.request().method() === "POST",
      ),
      page.click("#group-submit"),
    ]);
    expect(made.status()).toBe(201);
    const row = page.locator('#item-groups tr:has-text("出入境证件")');
    await row.waitFor();
    expect(await row.textContent()).toContain("200.00");
    await shot(page, "item-groups");
    expect(
      await refusal(page, "GET", `/api/internal/v1/issuance/frequent-payers?agencyCode=${AGENCY}`),
    ).toEqual([403, "PERMISSION_DENIED"]);
    await page.context().close();
  }, 120_000);

  it("常用交款人 and 开票: the clerk saves a payer (masked in the list), fills the form from it and a group, issues, and verifies the signatures", async () => {
    const page = await open("clerk.w1");
    await go(page, "常用交款人");
    await page.click("#payer-new");
    await page.fill("#fp-name", PAYER.name);
    await page.fill("#fp-code", PAYER.code);
    await page.fill("#fp-phone", PAYER.phone);
    await page.fill("#fp-email", PAYER.email);
    const [saved] = await Promise.all([
      page.waitForResponse(
        (r) => r.url().endsWith("/v1/issuance/frequent-payers") && r.request().method() === "POST",
      ),
      page.click("#fp-submit"),
    ]);
    expect(saved.status()).toBe(201);
    const row = page.locator(`#frequent-payers tr:has-text("${PAYER.name}")`);
    await row.waitFor();
    const listed = (await page.locator("#frequent-payers").textContent()) ?? "";
    expect(listed).toContain("110***********4514");
    expect(listed).toContain("139****1111");
    expect(listed).not.toContain(PAYER.code);
    expect(listed).not.toContain(PAYER.email);
    await shot(page, "frequent-payers");

    // The clerk reads the groups but does not keep them: no button, and the API says no.
    await go(page, "项目分组");
    await page.waitForSelector('#item-groups td:has-text("出入境证件")');
    expect(await page.locator("#group-new").count()).toBe(0);
    const groups = (await (
      await page.request.get(`${platform.url}/api/internal/v1/issuance/item-groups?agencyCode=${AGENCY}`)
    ).json()) as { items: Array<{ id: string }> };
    expect(
      await refusal(page, "DELETE", `/api/internal/v1/issuance/item-groups/${groups.items[0]!.id}`),
    ).toEqual([403, "PERMISSION_DENIED"]);

    await go(page, "在线开具");
    await page.waitForSelector("#issue-form");
    const [full] = await Promise.all([
      page.waitForResponse((r) => /\/v1\/issuance\/frequent-payers\/[0-9a-f-]{36}$/.test(r.url())),
      choose(page, "#frequent-payer", PAYER.name),
    ]);
    expect(full.status()).toBe(200);
    await until(
      async () => ((await page.inputValue("#payer-code")) === PAYER.code ? true : undefined),
      10_000,
    );
    expect(await page.inputValue("#payer-name")).toBe(PAYER.name);
    expect(await page.inputValue("#payer-phone")).toBe(PAYER.phone);
    await choose(page, "#item-group", "出入境证件");
    await page.waitForSelector("#line-1-amount");
    expect(await page.inputValue("#line-0-amount")).toBe("120.00");
    expect(await page.inputValue("#line-1-amount")).toBe("80.00");
    await shot(page, "issue-group-payer");
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/v1/receipts") && r.request().method() === "POST"),
      page.click("#issue-submit"),
    ]);
    expect(answer.status()).toBe(201);
    const receipt = (await answer.json()) as {
      id: string;
      billCode: string;
      number: string;
      totalFen: number;
    };
    expect(receipt.totalFen).toBe(20000);
    issued = receipt;
    await page.click("#issued-open");
    await until(
      async () => ((await page.textContent("#receipt-status"))?.includes("已开具") ? true : undefined),
      90_000,
    );
    const [verified] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/v1/delivery/receipts/${receipt.id}/verification`)),
      page.click("#verify-signatures"),
    ]);
    expect(verified.status()).toBe(200);
    const body = (await verified.json()) as {
      documentVersion: string;
      authentic: boolean;
      agency: { chain: unknown[] };
      finance: { chain: unknown[] };
    };
    expect(body.documentVersion).toBe("1.2.0");
    expect(body.authentic).toBe(true);
    await page.waitForSelector("#verification-result");
    for (const id of ["#verify-authentic", "#verify-intact", "#verify-agency", "#verify-finance"])
      expect(await page.textContent(id), id).toContain("✓");
    const recorded = (await (
      await page.request.get(`${platform.url}/api/internal/v1/receipts/${receipt.id}`)
    ).json()) as {
      documentSm3: string;
    };
    expect((await page.textContent("#verify-sm3"))?.trim()).toBe(recorded.documentSm3);
    // Each signer's path ends at a certificate the platform trusts.
    for (const side of ["agency", "finance"]) {
      const chain = page.locator(`.chain-verify-${side} .ant-timeline-item`);
      // The agency's certificate chains to the agency CA; finance's supervision certificate is pinned itself.
      expect(await chain.count(), side).toBeGreaterThanOrEqual(side === "agency" ? 2 : 1);
      expect(await chain.last().textContent(), side).toContain("受信");
    }
    await shot(page, "signature-verification");
    // 财政交互 is not the clerk's.
    expect(
      await refusal(page, "GET", `/api/internal/v1/finance-exchange/queue?agencyCode=${AGENCY}`),
    ).toEqual([403, "PERMISSION_DENIED"]);
    await page.context().close();
  }, 240_000);

  it("财政交互: the finance liaison sees the upload queue and finds the receipt in the archive, proved again", async () => {
    expect(issued).toBeDefined();
    const page = await open("fl.w");
    // The day's download from finance fills the archive (发起对账 on 财政对账 does the same).
    const csrf = (await page.context().cookies()).find((c) => c.name === "piaoju_csrf")?.value ?? "";
    const asked = await page.request.post(
      `${platform.url}/api/internal/v1/finance-exchange/reconciliations`,
      {
        data: { agencyCode: AGENCY, day: today() },
        headers: { "x-csrf-token": csrf },
      },
    );
    expect(asked.status()).toBe(202);
    await go(page, "财政交互");
    const queue = await page.waitForResponse((r) => r.url().includes("/v1/finance-exchange/queue?"));
    expect(queue.status()).toBe(200);
    const counts = ((await queue.json()) as { counts: Record<string, number> }).counts;
    expect(Object.keys(counts).sort()).toEqual(["failed", "pending", "retrying"]);
    await page.waitForSelector("#queue-counts");
    const number = issued!.number;
    await until(async () => {
      await page.fill("#archive-number", "");
      await page.fill("#archive-number", number);
      await Promise.all([
        page.waitForResponse(
          (r) => r.url().includes("/v1/finance-exchange/archive?") && r.url().includes(number),
        ),
        page.press("#archive-number", "Enter"),
      ]);
      return (await page.locator(`#archive td:has-text("${number}")`).count()) > 0 || undefined;
    }, 90_000);
    await page.locator("#archive .archive-prove").first().click();
    expect(await (await page.waitForSelector("#archive .archive-proof")).textContent()).toContain("✓");
    await page.fill("#archive-number", "");
    await Promise.all([
      page.waitForResponse((r) => r.url().includes("/v1/finance-exchange/archive?")),
      page.press("#archive-number", "Enter"),
    ]);
    await shot(page, "finance-exchange");
    // A filter in the wrong shape is refused, naming it.
    const bad = await page.request.get(
      `${platform.url}/api/internal/v1/finance-exchange/archive?agencyCode=${AGENCY}&number=12`,
    );
    expect([
      bad.status(),
      ((await bad.json()) as { issues: Array<{ field: string }> }).issues[0]?.field,
    ]).toEqual([400, "query.number"]);
    await page.context().close();
  }, 180_000);
});
