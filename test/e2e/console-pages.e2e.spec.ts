import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { generate } from "otplib";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONSOLE_SHOTS,
  type ConsoleRig,
  type ConsoleSession,
  firstAdministrator,
  GOOD_PASSWORD,
  okBody,
  staffByApi,
  startConsoleRig,
  until,
} from "../support/console.ts";
import { type AlipayRig, startAlipayRig, startNontaxPeer } from "../support/payment.ts";

const SHOTS = CONSOLE_SHOTS;
const AGENCY = "110101";
const BILL = "11010126";
const today = () => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());

/**
 * The console's pages for delivery (交付管理), the exchange with finance (财政对账), the stock work
 * left (分发, 申退, 库存作废, 核销) and the finance office's payments (缴款, 退款, 渠道对账), in
 * Chromium against `piaoju start` (one start for the file). Each page's main flow by the person
 * whose job it is, and one refusal for a role without the permission: no button, and 403 from the API.
 */
describe("the admin console's delivery, finance, stock and payment pages", () => {
  let platform: { child: ChildProcess; url: string; out: () => string };
  let browser: Browser;
  let rig: ConsoleRig | undefined;
  const otp: Record<string, string> = {};
  const totp: Record<string, string> = {};
  let clerk: ConsoleSession;
  let payment: { id: string; noticeNo: string };
  let sysadmin: ConsoleSession;
  /** The payment's peers for the finance office's day: Alipay, and finance's non-tax system (清分). */
  let alipay: AlipayRig;
  let nontax: Awaited<ReturnType<typeof startNontaxPeer>>;

  beforeAll(async () => {
    alipay = await startAlipayRig();
    nontax = await startNontaxPeer(AGENCY, "110100");
    // A failed push is parked after one try, so the failure shows at once. The notify cannot reach
    // the platform (its port is not known before it starts): the settler's query settles payments.
    rig = await startConsoleRig("console-pages", {
      PIAOJU_DELIVERY_MAX_ATTEMPTS: "1",
      PIAOJU_DELIVERY_POLL_MS: "200",
      PIAOJU_PAYMENT_FIRST_QUERY_MS: "300",
      PIAOJU_PAYMENT_POLL_MS: "200",
      PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: "200",
      PIAOJU_RECONCILE_AT: "off",
      ...nontax.env,
    });
    ({ platform, browser } = rig);
    Object.assign(otp, rig.otp);

    // The bureau's people, through the console's API (the first console test shows these steps in the page).
    sysadmin = await adminByApi("sysadmin");
    const secadmin = await adminByApi("secadmin");
    const staff = await staffByApi(platform.url, { sysadmin, secadmin }, AGENCY, [
      { username: "clerk.p1", displayName: "窗口一 陈", role: "clerk", issuingPoints: ["WIN-01"] },
      { username: "tm.p", displayName: "票据管理员 李", role: "ticket-manager", issuingPoints: [] },
      { username: "fl.p", displayName: "财务联络员 赵", role: "finance-liaison", issuingPoints: [] },
    ]);
    clerk = staff["clerk.p1"]!;
    // A payment notice at WIN-01, for the finance office's list.
    const created = await ok(clerk, "POST", "/api/internal/v1/payments", {
      agencyCode: AGENCY,
      bizSerialNo: "CONSOLE-PAY-1",
      payer: { type: 1, code: "11010519491231002X", name: "张小三" },
      items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
      issuingPointCode: "WIN-01",
      billCode: BILL,
    });
    payment = { id: String(created.id), noticeNo: String(created.noticeNo) };
  }, 300_000);
  afterAll(async () => {
    await rig?.stop();
    await alipay?.sim.close();
    await nontax?.stop();
  }, 60_000);

  const ok = okBody;
  /** An administrator's first steps (new password, authenticator) through the API. */
  async function adminByApi(username: string) {
    const { session, totpSecret } = await firstAdministrator(platform.url, username, otp[username]!);
    totp[username] = totpSecret;
    return session;
  }
  const nextCode = (secret: string) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `console-${name}.png`) });
  const open = async (username: string, code?: string) => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "zh-CN" });
    const page = await context.newPage();
    await page.goto(`${platform.url}/admin/`);
    await page.fill("#username", username);
    await page.fill("#password", GOOD_PASSWORD);
    await page.click("#login-submit");
    if (code) {
      await page.waitForSelector("#totp");
      await page.fill("#totp", code);
      await page.click("#login-submit");
    }
    await page.waitForSelector(".ant-menu-item");
    return page;
  };
  const go = async (page: Page, menu: string) => {
    await page.click(`.ant-menu-item >> text=${menu}`);
  };
  /** Picks an option of an antd select by its text. */
  const choose = async (page: Page, selector: string, text: string) => {
    await page.click(selector);
    await page.click(`.ant-select-dropdown:visible .ant-select-item-option:has-text("${text}")`);
  };
  /** The API's answer to a call the page does not offer (the menu is a courtesy; this is the control). */
  const refusal = async (page: Page, method: "GET" | "POST", path: string, data?: unknown) => {
    const csrf = (await page.context().cookies()).find((c) => c.name === "piaoju_csrf")?.value ?? "";
    const res =
      method === "GET"
        ? await page.request.get(`${platform.url}${path}`)
        : await page.request.post(`${platform.url}${path}`, { data, headers: { "x-csrf-token": csrf } });
    return [res.status(), (await res.json()).code];
  };

  it("交付管理: the system administrator authorises a webhook; the clerk sees the failed push and re-sends it", async () => {
    const admin = await open("sysadmin", await nextCode(totp.sysadmin!));
    await admin.fill("#agency-code", AGENCY);
    await admin.locator("#agency-code").blur();
    await go(admin, "交付管理");
    await admin.click("#channels-edit");
    // Port 9 on loopback: nothing answers, so every push fails.
    await admin.fill("#channels-webhook-url", "http://127.0.0.1:9/receipts");
    await admin.fill("#channels-webhook-secret", "s".repeat(40));
    await Promise.all([
      admin.waitForResponse(
        (r) => r.url().endsWith(`/agencies/${AGENCY}/channels`) && r.request().method() === "PUT",
      ),
      admin.click("#channels-submit"),
    ]);
    await admin.waitForSelector('#channels tr:has-text("业务系统推送") >> text=已授权');
    // The system administrator reads deliveries but does not re-send them (no delivery.repush).
    expect(await admin.locator(".delivery-repush").count()).toBe(0);
    await admin.context().close();

    const issued = await until(async () => {
      const res = await clerk.request("POST", "/api/internal/v1/receipts", {
        agencyCode: AGENCY,
        issuingPointCode: "WIN-01",
        billCode: BILL,
        bizSerialNo: "CONSOLE-DELIVERY-1",
        payer: { type: 1, code: "110101199003074514", name: "王小明" },
        items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
        totalFen: 12000,
        handlingPerson: "窗口一 陈",
      });
      return res.status === 201 || res.status === 200 ? res.body : undefined;
    });
    const page = await open("clerk.p1");
    await go(page, "交付管理");
    const failed = page.locator(`#deliveries tr:has(a[href$="${String(issued.id)}"]) .delivery-status`);
    await until(async () => {
      await Promise.all([
        page.waitForResponse((r) => r.url().includes("/v1/delivery/deliveries")),
        page.click("#delivery-reload"),
      ]);
      return (await failed.count()) > 0 || undefined;
    }, 90_000);
    expect((await failed.first().textContent())?.trim()).toBe("投递失败");
    // Why: what the push met (nothing listens on port 9).
    expect(await page.locator("#deliveries").textContent()).toContain("fetch failed");
    await shot(page, "delivery");
    const [repushed] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/repush")),
      page.locator(`#deliveries tr:has(a[href$="${String(issued.id)}"]) .delivery-repush`).click(),
    ]);
    expect(repushed.status()).toBe(200);
    expect(((await repushed.json()).items as Array<{ status: string }>)[0]?.status).toBe("PENDING");
    // The clerk may not change the agency's channels: no button, and the API says no.
    expect(await page.locator("#channels-edit").count()).toBe(0);
    await page.context().close();
  }, 240_000);

  it("票据库存: the ticket manager distributes by hand, returns and voids blank numbers, and asks for a write-off", async () => {
    const page = await open("tm.p");
    await go(page, "票据分发");
    await page.click("#dist-new");
    await choose(page, "#dist-bill", BILL);
    await choose(page, "#dist-point", "WIN-01");
    await page.fill("#dist-count", "5");
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/v1/stock/distributions") && r.status() === 201),
      page.click("#dist-submit"),
    ]);
    await page.waitForSelector('#distributions td:has-text("tm.p")');
    await shot(page, "stock-distribute");

    // The last numbers of the stocked segment are not distributed yet: 申退 ten, 库存作废 ten.
    const segments = (await (
      await page.request.get(
        `${platform.url}/api/internal/v1/stock/segments?agencyCode=${AGENCY}&status=STOCKED`,
      )
    ).json()) as { items: Array<{ endNumber: string }> };
    const ends = segments.items.map((s) => BigInt(s.endNumber)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const end = ends[ends.length - 1]!;
    const n = (x: bigint) => x.toString().padStart(10, "0");
    await go(page, "申退与作废");
    const remove = async (prefix: string, from: bigint, to: bigint, reason?: string) => {
      await page.click(`#${prefix}-new`);
      await choose(page, `#${prefix}-bill`, BILL);
      await page.fill(`#${prefix}-start`, n(from));
      await page.fill(`#${prefix}-end`, n(to));
      if (reason) await page.fill(`#${prefix}-reason`, reason);
      return (
        await Promise.all([
          page.waitForResponse((r) =>
            r.url().includes(`/v1/stock/${prefix === "return" ? "returns" : "voids"}`),
          ),
          page.click(`#${prefix}-submit`),
        ])
      )[0];
    };
    expect((await remove("return", end - 9n, end)).status()).toBe(201);
    await page.waitForSelector(`#removals td:has-text("${n(end - 9n)}")`);
    expect((await remove("void", end - 19n, end - 10n, "票据受潮损毁")).status()).toBe(201);
    await page.waitForSelector('#removals td:has-text("票据受潮损毁")');
    await shot(page, "stock-removals");
    // The same numbers again: refused, and the page says why in Chinese.
    await page.keyboard.press("Escape");
    expect((await remove("return", end - 9n, end)).status()).toBe(409);
    const error = (await (await page.waitForSelector(".piaoju-error")).textContent()) ?? "";
    expect(error).toMatch(/[\u4e00-\u9fff]/);
    await page.keyboard.press("Escape");

    await go(page, "核销申请");
    await page.click("#writeoff-new");
    await choose(page, "#writeoff-bill", BILL);
    await page.fill("#writeoff-period", today().slice(0, 7));
    await Promise.all([
      page.waitForResponse(
        (r) => r.url().endsWith("/v1/stock/write-offs") && r.request().method() === "POST",
      ),
      page.click("#writeoff-submit"),
    ]);
    await page.waitForSelector("#write-offs .writeoff-status >> text=已提交");

    // Not the ticket manager's: 发起对账 (no button, 403), deliveries and payments (no menu, 403).
    await go(page, "财政对账");
    await page.waitForSelector("#recon-reload");
    expect(await page.locator("#recon-run").count()).toBe(0);
    expect(
      await refusal(page, "POST", "/api/internal/v1/finance-exchange/reconciliations", {
        agencyCode: AGENCY,
        day: today(),
      }),
    ).toEqual([403, "PERMISSION_DENIED"]);
    expect(await refusal(page, "GET", `/api/internal/v1/delivery/deliveries?agencyCode=${AGENCY}`)).toEqual([
      403,
      "PERMISSION_DENIED",
    ]);
    expect(await refusal(page, "GET", `/api/internal/v1/payment/payments?agencyCode=${AGENCY}`)).toEqual([
      403,
      "PERMISSION_DENIED",
    ]);
    await page.goto(`${platform.url}/admin/payments/list`);
    await page.waitForSelector("text=无权访问");
    await page.context().close();
  }, 180_000);

  it("财政对账 and 缴款: the finance liaison reconciles the day with finance and reads payments, refunds and channel day-ends", async () => {
    const page = await open("fl.p");
    await go(page, "财政对账");
    await page.click("#recon-day");
    await page.fill("#recon-day", today());
    await page.press("#recon-day", "Enter");
    await Promise.all([
      page.waitForResponse(
        (r) => r.url().endsWith("/v1/finance-exchange/reconciliations") && r.status() === 202,
      ),
      page.click("#recon-run"),
    ]);
    await until(async () => {
      await Promise.all([
        page.waitForResponse((r) => r.url().includes("/v1/finance-exchange/reconciliations?")),
        page.click("#recon-reload"),
      ]);
      return (await page.locator("#recon-summary").count()) > 0 || undefined;
    }, 90_000);
    await shot(page, "finance-reconciliation");
    // 审验: today's used and voided numbers of the bill kind reported to finance.
    await choose(page, "#audit-bill", BILL);
    await page.click("#audit-period");
    await page.fill("#audit-period", today());
    await page.keyboard.press("Enter");
    const periodEnd = page.locator(".ant-picker-range:has(#audit-period) input").nth(1);
    await periodEnd.fill(today());
    await periodEnd.press("Enter");
    const [audit] = await Promise.all([
      page.waitForResponse(
        (r) => r.url().endsWith("/v1/finance-exchange/audit-reports") && r.request().method() === "POST",
      ),
      page.click("#audit-submit"),
    ]);
    expect(audit.status()).toBe(202);
    expect(await (await page.waitForSelector("#audit-sent")).textContent()).toContain("已报送");

    // Stock is the ticket manager's: the liaison reads 分发 but has no button, and the API refuses.
    await go(page, "票据分发");
    await page.waitForSelector("#distributions");
    expect(await page.locator("#dist-new").count()).toBe(0);
    expect(
      await refusal(page, "POST", "/api/internal/v1/stock/distributions", {
        agencyCode: AGENCY,
        billCode: BILL,
        issuingPointCode: "WIN-01",
        count: 1,
      }),
    ).toEqual([403, "PERMISSION_DENIED"]);

    // 缴款查询: found by its notice number, the payer masked in the list and in the detail.
    await go(page, "缴款查询");
    const row = page.locator(`#payments tr:has-text("${payment.noticeNo}")`);
    await row.waitFor();
    expect(await row.textContent()).toContain("张*三");
    expect(await page.locator("#payments").textContent()).not.toContain("张小三");
    await page.fill("#number", payment.noticeNo);
    await Promise.all([
      page.waitForResponse((r) => r.url().includes("/v1/payment/payments?") && r.url().includes("number=")),
      page.press("#number", "Enter"),
    ]);
    expect(await page.locator("#payments .payment-link").count()).toBe(1);
    await page.locator("#payments .payment-link").click();
    expect((await (await page.waitForSelector("#payment-payer")).textContent())?.trim()).toBe("张*三");
    await shot(page, "payments");
    await page.keyboard.press("Escape");

    await go(page, "退款查询");
    await page.waitForResponse((r) => r.url().includes("/v1/payment/refunds?"));
    await page.waitForSelector("#refunds");
    await go(page, "渠道对账");
    const recon = await page.waitForResponse((r) => r.url().includes("/v1/payment/reconciliations?"));
    expect(recon.status()).toBe(200);
    await page.context().close();
  }, 240_000);

  it("统一对账单, 差异工作台, 资金清分, 到账核对: the finance liaison reads the day, handles a difference with a note and re-sends a refused instruction", async () => {
    const api = (path: string) => `/api/internal${path}`;
    const daysAgo = (n: number) =>
      new Date(Date.now() + 8 * 3_600_000 - n * 86_400_000).toISOString().slice(0, 10);
    const dayDiff = daysAgo(2);
    const dayClear = daysAgo(3);
    // The agency's Alipay account and its finance special accounts with the rule of item 001 (60/40).
    await ok(sysadmin, "PUT", api("/v1/payment/channel-accounts/alipay"), {
      agencyCode: AGENCY,
      ...alipay.account,
    });
    for (const [no, name] of [
      ["6217000010001", "市财政局非税收入专户"],
      ["6217000010002", "区财政局非税收入专户"],
    ])
      await ok(sysadmin, "PUT", api(`/v1/payment/clearing-accounts/${no}`), {
        agencyCode: AGENCY,
        name,
        bankName: "建设银行",
      });
    await ok(sysadmin, "PUT", api("/v1/payment/clearing-rules/001"), {
      agencyCode: AGENCY,
      shares: [
        { accountNo: "6217000010001", basisPoints: 6000 },
        { accountNo: "6217000010002", basisPoints: 4000 },
      ],
    });
    let n = 0;
    const paidOn = async (day: string, hms: string) => {
      const created = await ok(clerk, "POST", api("/v1/payments"), {
        agencyCode: AGENCY,
        bizSerialNo: `CONSOLE-CLR-${++n}`,
        payer: { type: 1, code: "11010519491231002X", name: "李四" },
        items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
        issuingPointCode: "WIN-01",
        billCode: BILL,
      });
      const order = await ok(clerk, "POST", api(`/v1/payments/${String(created.id)}/orders`), {
        channel: "alipay",
        scene: "qr",
        expectedAmountFen: 12000,
      });
      await alipay.sim.pay(String(order.orderId), new Date(`${day}T${hms}+08:00`));
      await until(
        async () =>
          (await ok(clerk, "GET", api(`/v1/payments/${String(created.id)}`))).status === "PAID" || undefined,
        60_000,
      );
      return String(order.orderId);
    };
    await paidOn(dayClear, "09:00:00");
    const mismatched = await paidOn(dayDiff, "10:00:00");
    // Alipay's statement of that day says 119.00 for it: an amount difference for a person.
    alipay.sim.billFaults.amount.set(mismatched, "119.00");
    await nontax.sim.admin.setAutoApprove(false);
    for (const day of [dayClear, dayDiff])
      await ok(sysadmin, "POST", api("/v1/payment/reconciliations"), {
        agencyCode: AGENCY,
        channel: "alipay",
        businessDay: day,
      });
    // The clean day is cleared by the background round; the bank refuses one of its two instructions.
    const batch = await until(async () => {
      const res = await clerk.request("GET", api(`/v1/payment/clearings/${dayClear}?agencyCode=${AGENCY}`));
      const b = res.body as { instructions?: Array<{ instructionId: string; status: string }> };
      return b.instructions?.every((i) => i.status === "ACCEPTED") ? b.instructions : undefined;
    }, 60_000);
    await nontax.sim.admin.refuseClearing(batch[0]!.instructionId, "账户已冻结");
    await nontax.sim.admin.completeClearing(batch[1]!.instructionId);
    await until(async () => {
      const res = await clerk.request("GET", api(`/v1/payment/clearings/${dayClear}?agencyCode=${AGENCY}`));
      return (res.body as { status?: string }).status === "REFUSED" || undefined;
    }, 60_000);

    const page = await open("fl.p");
    const pickDay = async (id: string, day: string, url: string) => {
      await page.click(`#${id}`);
      await page.fill(`#${id}`, day);
      await Promise.all([
        page.waitForResponse((r) => r.url().includes(url) && r.url().includes(day)),
        page.press(`#${id}`, "Enter"),
      ]);
    };
    // 统一对账单: the day with the difference, its line marked, totals, and the files by the session.
    await go(page, "统一对账单");
    await pickDay("statement-day", dayDiff, "/v1/payment/statements/");
    await page.waitForSelector("#statement-lines .statement-difference >> text=金额不符");
    expect(await page.locator("#statement-totals").textContent()).toContain("120.00");
    await shot(page, "payment-statement");
    for (const [format, type] of [
      ["xlsx", "spreadsheetml"],
      ["csv", "text/csv"],
    ] as const) {
      const href = await page.locator(`#statement-${format}`).getAttribute("href");
      const file = await page.request.get(`${platform.url}${href}`);
      expect([file.status(), file.headers()["content-type"]]).toEqual([200, expect.stringContaining(type)]);
      if (format === "csv") expect(await file.text()).toContain(mismatched);
    }

    // 差异工作台: the open amount difference, marked handled with a note (required).
    await go(page, "差异工作台");
    const row = page.locator(`#differences tr:has-text("${mismatched}")`);
    await row.waitFor();
    expect(await row.locator(".difference-kind").textContent()).toBe("金额不符");
    await shot(page, "payment-differences");
    await row.locator(".difference-handle").click();
    await page.click("#handle-submit");
    await page.waitForSelector("text=请填写处理说明");
    await page.fill("#handle-note", "支付宝对账单少记 1 元，已与渠道核实为渠道错账");
    const [handled] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/handle") && r.request().method() === "POST"),
      page.click("#handle-submit"),
    ]);
    expect(handled.status()).toBe(200);
    expect((await handled.json()).handledBy).toBe("fl.p");
    await until(async () => ((await row.count()) === 0 ? true : undefined), 15_000);
    // The clerk reads payments but does not decide on differences: the API says no.
    const diffId = String((await handled.json()).id);
    const refused = await clerk.request("POST", api(`/v1/payment/differences/${diffId}/handle`), {
      agencyCode: AGENCY,
      note: "x",
    });
    expect([refused.status, (refused.body as { code?: string }).code]).toEqual([403, "PERMISSION_DENIED"]);

    // 资金清分: the refused instruction, re-sent once with the reason; a second re-send is refused.
    await go(page, "资金清分");
    await pickDay("clearing-day", dayClear, "/v1/payment/clearings/");
    await page.waitForSelector("#clearing-instructions .instruction-status >> text=被拒绝");
    expect(await page.locator("#clearing-rules-table").textContent()).toContain("60.00%");
    expect(await page.locator("#clearing-instructions").textContent()).toContain("账户已冻结");
    await shot(page, "payment-clearing");
    await page.locator("#clearing-instructions .instruction-resend").click();
    await page.fill("#resend-note", "专户已解冻，财务科确认重发");
    const [resent] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/resend") && r.request().method() === "POST"),
      page.click("#resend-submit"),
    ]);
    expect(resent.status()).toBe(200);
    expect(
      await refusal(
        page,
        "POST",
        api(`/v1/payment/clearing-instructions/${batch[0]!.instructionId}/resend`),
        {
          agencyCode: AGENCY,
          note: "再点一次",
        },
      ),
    ).toEqual([409, "CLEARING_RESEND_IN_FLIGHT"]);
    await until(
      async () =>
        (await nontax.sim.admin.listClearings()).items.some(
          (i) => i.instructionId === `${batch[0]!.instructionId}-R1`,
        ) || undefined,
      30_000,
    );
    await until(async () => {
      await Promise.all([
        page.waitForResponse((r) => r.url().includes("/v1/payment/clearings/")),
        page.click("#clearing-reload"),
      ]);
      return (
        (await page.locator("#clearing-instructions").textContent())?.includes("已重新发送 1 次") || undefined
      );
    }, 30_000);
    expect(await page.locator("#clearing-instructions .instruction-resend").count()).toBe(0);

    // 到账核对: no bank account statement was matched for the day here: the page says so.
    await go(page, "到账核对");
    await pickDay("funds-day", dayClear, "/v1/payment/funds-arrivals/");
    await page.waitForSelector("text=该结算日尚未核对到账");
    await page.context().close();
  }, 300_000);
});
