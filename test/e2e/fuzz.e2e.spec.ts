import { randomBytes, randomUUID } from "node:crypto";
import { BUILT_IN_ROLES, CONSOLE_PROXY_PREFIX, internalRouteRule } from "@piaoju/access";
import { signRequest } from "@piaoju/business-client";
import { paymentApi, receiptApi } from "@piaoju/contracts";
import { deliveryService } from "@piaoju/delivery";
import { financeExchangeService } from "@piaoju/finance-exchange";
import { type FinanceSimulator, startFinanceSimulator } from "@piaoju/finance-simulator";
import {
  auditReportRequest,
  authHeaders,
  signFinanceRequest,
  statusUpdateRequest,
  stockApplicationRequest,
  supervisionBatchRequest,
} from "@piaoju/finance-simulator/api";
import { gatewayService } from "@piaoju/gateway";
import { issuanceService } from "@piaoju/issuance";
import { parseXml } from "@piaoju/issuance/testing/xml";
import { paymentService } from "@piaoju/payment";
import { createTestDatabase, type TestDatabase } from "@piaoju/persistence/testing";
import { reportingService } from "@piaoju/reporting";
import type { ServiceModule } from "@piaoju/runtime";
import { callerHeaders, startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { stockService } from "@piaoju/stock";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { prepareAgency } from "../support/agency.ts";
import { type ConsoleSession, createAccount, signedInAs } from "../support/console.ts";

/**
 * Generated bad input against every HTTP route of every service: the business API, each
 * service's internal API, the H5 pick-up API and the finance simulator's agency API. Valid
 * requests (checked against their zod schema where the route's schema is shared) are mutated
 * field by field: type, range, encoding (control and non-characters, lone surrogates, bytes that
 * are not UTF-8), size, depth, duplicate keys, unknown fields; path and query too; each with
 * and without valid authentication. Every answer must be below 500, every refusal a problem
 * document (a 400 naming the field), and no table of any service (or of finance) may change.
 *
 * Cluster mode (PostgreSQL + the real Kafka broker): the platform starts faster there than six
 * services on PGlite, and the run itself is bounded (RUNS, seeded) to stay well inside a minute.
 */
const AGENCY = "110109";
const BILL = "11010126";
const SECRET = "agency-secret-110109-for-fuzzing";
const SEED = Number(process.env.PIAOJU_FUZZ_SEED ?? 20261202);
// 3000 runs over 209 routes (about 14 a route; 1000 over the 89 routes before the console, its
// proxy and the payment API joined gave 11): a request costs a few milliseconds on a quiet
// machine, the platform's start-up dominates the file's time.
const RUNS = Number(process.env.PIAOJU_FUZZ_RUNS ?? 3000);

type Auth = "internal" | "business" | "finance" | "console" | "public";
/** The console's people: 三员分立 puts user management, role management and the audit log in three hands. */
type Person = "sys" | "sec" | "aud";
interface Route {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** The route as registered (`:id` placeholders). */
  route: string;
  auth: Auth;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  /** The route's shared schema: the example must satisfy it, so mutations start from a valid request. */
  schema?: { safeParse(value: unknown): { success: boolean } };
  /** The example is not a valid request (it would need a whole signed receipt): refusals need not name the mutated field. */
  invalidExample?: boolean;
  /** Server of the route: the platform (default) or the finance simulator. */
  server?: "platform" | "finance";
  /** For auth "console": whose session signs the request (default the system administrator). */
  as?: Person;
  /** An internal route reached through the gateway's console proxy (/api/internal/*). */
  proxied?: boolean;
  /**
   * The example itself is sent once, as it is, with valid authentication, and must change
   * nothing: "succeeds" for an idempotent replay (answered 2xx), "refused" for one a valid
   * caller is refused (a conflict, a wrong current password, nobody changes themselves).
   */
  replay?: "succeeds" | "refused";
  /**
   * The route answers a peer in the peer's own protocol (a channel's notify): a refusal in that
   * protocol stands in for a problem document (the channel reads it and sends again).
   */
  peerRefusal?: (res: { status: number; type: string; body: Record<string, unknown> }) => boolean;
}

describe("generated bad input changes nothing and never breaks a service (cluster)", () => {
  let t: TestPlatform;
  let sim: FinanceSimulator;
  let simDb: TestDatabase;
  let app: { appId: string; appSecret: string };
  let receiptId: string;
  let segmentId: string;
  /** Two payment notices: the first open (its request replayed is idempotent), the second closed. */
  const payments: Array<{ id: string; code: string; token: string }> = [];
  /** The console's people, signed in before the first snapshot (their logins are setup, not fuzz). */
  const people = {} as Record<Person, { session: ConsoleSession; id: string }>;
  /** A user whose grants the security administrator's route is driven against. */
  let targetUserId: string;
  const registered = new Set<string>();

  /** Each service records the routes it registers, so the catalog can be held to all of them. */
  const recording = (s: ServiceModule): ServiceModule => ({
    ...s,
    start(ctx) {
      ctx.http.addHook("onRoute", (r) => {
        for (const m of [r.method].flat()) if (m !== "HEAD") registered.add(`${m} ${r.url}`);
      });
      return s.start(ctx);
    },
  });

  beforeAll(async () => {
    simDb = await createTestDatabase({ prefix: "fuzzsim" });
    sim = await startFinanceSimulator({
      databaseUrl: simDb.url,
      seed: {
        agencies: [
          {
            agencyCode: AGENCY,
            name: "测试单位",
            secret: SECRET,
            baseData: {
              billKinds: [{ billCode: BILL, name: "非税收入一般缴款书（电子）" }],
              incomeItems: [
                { itemCode: "001", name: "护照费", billCode: BILL, unit: "本", standardFen: 12000 },
              ],
              regions: [{ regionCode: "110101", name: "东城区" }],
            },
          },
        ],
      },
    });
    t = await startTestPlatform({
      mode: "cluster",
      services: [
        stockService,
        issuanceService,
        gatewayService,
        deliveryService,
        reportingService,
        financeExchangeService,
        paymentService,
      ].map(recording),
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_CHECK_CODE_KEY: randomBytes(16).toString("hex"),
        // Lookups are rate-limited by app and address (rate-limit.int proves it): lifted here, so
        // that every generated lookup is judged on its input rather than answered 429.
        PIAOJU_H5_RATE_LIMIT: "100000",
        PIAOJU_CASHIER_RATE_LIMIT: "100000",
        PIAOJU_LOOKUP_LIMIT_PER_ADDRESS: "100000",
        PIAOJU_LOOKUP_LIMIT_PER_APP: "100000",
        PIAOJU_CONSOLE_SECURE_COOKIES: "false",
        FINANCE_TRANSPORT: "http",
        FINANCE_URL: sim.url,
        FINANCE_AGENCIES: AGENCY,
        FINANCE_AGENCY_SECRETS: `${AGENCY}=${SECRET}`,
        FINANCE_CERTIFICATE_SM3: sim.financeCertificate.fingerprintSm3(),
        FINANCE_BASE_DATA_SYNC_MS: "0",
        FINANCE_DOWNLOAD_MS: "0",
        FINANCE_RECONCILE_HOUR: "-1",
      },
    });
    app = await prepareAgency(t, {
      agency: AGENCY,
      bill: BILL,
      startNumber: "0000900001",
      endNumber: "0000900100",
      points: [{ code: "WIN-01", name: "一号窗口", rule: { threshold: 5, batchSize: 20 } }],
      appPoints: ["WIN-01"],
    });
    const made = await business("POST", "/api/v1/receipts", JSON.stringify(validIssue("FUZZ-SEED-1")), true);
    expect(made.status).toBe(201);
    receiptId = String(made.body.id);
    const spent = await business(
      "GET",
      "/api/v1/receipts?bizSerialNo=FUZZ-SEED-1",
      undefined,
      true,
      0,
      SPENT_NONCE,
    );
    expect(spent.status).toBe(200);
    const segments = await t.call("GET", `/v1/stock/segments?agencyCode=${AGENCY}`);
    segmentId = String((segments.body.items as Array<{ id: string }>)[0]!.id);

    // Payments: an open notice (the catalog replays its own request: idempotent, 200) and a closed
    // one (closing it again changes nothing). The callback target is set, so setting it is a replay.
    for (const serial of ["FUZZ-PAY-1", "FUZZ-PAY-2"]) {
      const res = await business("POST", "/api/v1/payments", JSON.stringify(validPayment(serial)), true);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      payments.push({
        id: String(res.body.id),
        code: String(res.body.paymentCode),
        // The cashier's token, as the QR URL on the decision carries it.
        token: String(res.body.qrUrl).split("/h5/pay/")[1]!,
      });
    }
    const closed = await business(
      "POST",
      `/api/v1/payments/${payments[1]!.id}/close`,
      JSON.stringify({ reason: "撤销" }),
      true,
    );
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    const target = await business(
      "PUT",
      "/api/v1/payments/callback-target",
      JSON.stringify(callbackTarget),
      true,
    );
    expect(target.status, JSON.stringify(target.body)).toBe(200);
    // 资金清分: the account and the rule are set, so setting them again is a replay.
    const clearingAccount = await t.call("PUT", "/v1/payment/clearing-accounts/6217000010001", {
      agencyCode: AGENCY,
      name: "市财政局非税收入专户",
      bankName: "建设银行",
    });
    expect(clearingAccount.status, JSON.stringify(clearingAccount.body)).toBe(200);
    const clearingRule = await t.call("PUT", "/v1/payment/clearing-rules/FK01", {
      agencyCode: AGENCY,
      shares: [{ accountNo: "6217000010001", basisPoints: 10000 }],
    });
    expect(clearingRule.status, JSON.stringify(clearingRule.body)).toBe(200);

    // The console's people, each past the first steps (one-time password changed, TOTP set up).
    const roles = {
      sys: ["system-admin", "ticket-manager", "clerk", "finance-liaison"],
      sec: ["security-admin"],
      aud: ["auditor"],
    } as const;
    for (const who of ["sys", "sec", "aud"] as const) {
      const { session } = await signedInAs(t, {
        username: `fuzz.${who}`,
        agencyCode: AGENCY,
        roles: [...roles[who]],
        issuingPoints: ["WIN-01"],
      });
      const me = await session.request("GET", "/api/console/me");
      expect(me.body.stage, who).toBe("full");
      people[who] = { session, id: String((me.body.user as { id: string }).id) };
    }
    await createAccount(t, {
      username: "fuzz.target",
      agencyCode: AGENCY,
      roles: ["clerk"],
      issuingPoints: ["WIN-01"],
    });
    const users = await people.sys.session.request("GET", "/api/console/users");
    targetUserId = String(
      (users.body.items as Array<{ id: string; username: string }>).find((u) => u.username === "fuzz.target")!
        .id,
    );
  }, 240_000);
  afterAll(async () => {
    await t?.stop();
    await sim?.close();
    await simDb?.drop();
  });

  const validIssue = (serial: string) => ({
    issuingPointCode: "WIN-01",
    billCode: BILL,
    bizSerialNo: serial,
    payer: {
      type: 1,
      code: "11010519491231002X",
      name: "张三",
      phone: "13800138000",
      email: "zs@example.test",
    },
    items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
    totalFen: 12000,
    payMode: "wechat",
    remark: "备注",
    handlingPerson: "window-01",
    checker: "王五",
  });

  const validPayment = (serial: string) => ({
    bizSerialNo: serial,
    decisionNo: "110109000000123",
    payer: {
      type: 1,
      code: "11010519491231002X",
      name: "张三",
      phone: "13800138000",
      email: "zs@example.test",
    },
    items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
    surcharge: { fineItemCode: "001", deadline: "2026-11-01", itemCode: "001" },
    issuingPointCode: "WIN-01",
    billCode: BILL,
    remark: "罚款",
  });
  // Port 9 (discard) on loopback: nothing answers, so a push is refused at once and retried later.
  const callbackTarget = { url: "http://127.0.0.1:9/piaoju/payment-results", secret: "k".repeat(40) };

  async function send(
    server: "platform" | "finance",
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | Buffer | undefined,
  ): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
    const base = server === "finance" ? sim.url : t.platform.url;
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { unparsed: text.slice(0, 200) };
    }
    return { status: res.status, type: res.headers.get("content-type") ?? "", body: parsed };
  }

  /** A nonce the setup spent: a request signed with it again, however well, is a replay. */
  const SPENT_NONCE = "fuzz-spent-nonce-0000000000000001";

  /**
   * A business call, signed as the business client signs. Without valid authentication
   * (`variant` picks): another secret; the app's secret but a timestamp outside the window; the
   * app's secret on a spent nonce (a replay); an app id nobody registered.
   */
  function business(
    method: string,
    path: string,
    body: string | Buffer | undefined,
    signed: boolean,
    variant = 0,
    nonce = randomUUID().replaceAll("-", ""),
  ) {
    const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
    const pick = signed ? -1 : variant % 4;
    const timestamp = String(pick === 1 ? Date.now() - 10 * 60_000 : Date.now());
    const signature = signRequest(pick === 0 || pick === 3 ? "not-the-secret" : app.appSecret, {
      method,
      pathWithQuery: path,
      timestamp,
      nonce: pick === 2 ? SPENT_NONCE : nonce,
      body: raw,
    });
    return send(
      "platform",
      method,
      path,
      {
        "x-piaoju-app-id": pick === 3 ? "app_nobody_registered" : app.appId,
        "x-piaoju-timestamp": timestamp,
        "x-piaoju-nonce": pick === 2 ? SPENT_NONCE : nonce,
        "x-piaoju-signature": signature,
      },
      body,
    );
  }

  /**
   * A console call as the browser makes it: the session cookie, and on a change the CSRF token.
   * Without valid authentication (`variant` picks): no cookie; a cookie that is not a session
   * (malformed percent-encoding, too long, repeated, empty); or, on a change, the live session's
   * cookie with a wrong or missing CSRF token.
   */
  function consoleCall(
    who: Person,
    method: string,
    path: string,
    body: string | Buffer | undefined,
    valid: boolean,
    variant: number,
  ) {
    const { session } = people[who];
    const cookie = [...session.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("; ");
    const csrf = session.cookies.get("piaoju_csrf")!;
    const headers: Record<string, string> = {};
    if (valid) {
      headers.cookie = cookie;
      if (method !== "GET") headers["x-csrf-token"] = csrf;
      return send("platform", method, path, headers, body);
    }
    const notSessions = [
      "piaoju_session=%",
      "piaoju_session=%E0%A4%A",
      "piaoju_session=%FF%FE",
      "piaoju_session=a%00b",
      `piaoju_session=${"x".repeat(4000)}`,
      "piaoju_session=",
      "piaoju_session=x; piaoju_session=y; piaoju_csrf=%",
      "=; ;;piaoju_session",
    ];
    const pick = variant % (notSessions.length + 2);
    if (pick < notSessions.length) {
      headers.cookie = notSessions[pick]!;
      if (method !== "GET") headers["x-csrf-token"] = csrf;
    } else if (method !== "GET") {
      // The live session, but a change without its CSRF token (or with another).
      headers.cookie = cookie;
      if (pick === notSessions.length) headers["x-csrf-token"] = randomBytes(24).toString("base64url");
    }
    return send("platform", method, path, headers, body);
  }

  function financeCall(method: string, path: string, body: string | Buffer | undefined, signed: boolean) {
    const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
    const timestamp = String(Date.now());
    const nonce = randomUUID().replaceAll("-", "");
    return send(
      "finance",
      method,
      path,
      {
        [authHeaders.agency]: AGENCY,
        [authHeaders.timestamp]: timestamp,
        [authHeaders.nonce]: nonce,
        [authHeaders.signature]: signFinanceRequest(signed ? SECRET : "not-the-secret", {
          method,
          pathWithQuery: path,
          timestamp,
          nonce,
          body: raw,
        }),
      },
      body,
    );
  }

  /** Every route, with a valid request to start from. */
  const catalog = (): Route[] => {
    const a = AGENCY;
    const id = receiptId;
    const range = { agencyCode: a, billCode: BILL, startNumber: "0000900090", endNumber: "0000900099" };
    const day = "2026-03-01";
    type Made = (typeof payments)[number];
    const [open, closed] = payments as [Made, Made];
    const direct: Route[] = [
      // business API (signed)
      {
        method: "POST",
        route: "/api/v1/receipts",
        auth: "business",
        body: validIssue("FUZZ-1"),
        schema: receiptApi.issueReceiptBody,
      },
      { method: "GET", route: "/api/v1/receipts", auth: "business", query: { bizSerialNo: "FUZZ-SEED-1" } },
      {
        method: "GET",
        route: "/api/v1/receipts/verify",
        auth: "business",
        query: { billCode: BILL, number: "0000900001", checkCode: "123456" },
      },
      { method: "GET", route: "/api/v1/receipts/:id", auth: "business", params: { id } },
      { method: "GET", route: "/api/v1/receipts/:id/status", auth: "business", params: { id } },
      { method: "GET", route: "/api/v1/receipts/:id/document", auth: "business", params: { id } },
      {
        method: "POST",
        route: "/api/v1/receipts/:id/red-flush",
        auth: "business",
        params: { id },
        body: { reason: "退费", handlingPerson: "li.si" },
        schema: receiptApi.redFlushBody,
      },
      {
        method: "POST",
        route: "/api/v1/receipts/:id/paper-exchange",
        auth: "business",
        params: { id },
        body: { paperBillCode: BILL, paperNumber: "0000000001" },
        schema: receiptApi.paperExchangeBody,
      },
      {
        method: "POST",
        route: "/api/v1/receipts/:id/paper-return",
        auth: "business",
        params: { id },
        body: { reason: "收回" },
        schema: receiptApi.paperReturnBody,
      },
      {
        method: "POST",
        route: "/api/v1/receipts/:id/book",
        auth: "business",
        params: { id },
        body: { bookedBy: "某公司" },
        schema: receiptApi.bookBody,
      },
      // the payment API (signed): the open notice's own request (a replay), the closed one's close
      {
        method: "POST",
        route: "/api/v1/payments",
        replay: "succeeds",
        auth: "business",
        body: validPayment("FUZZ-PAY-1"),
        schema: paymentApi.createPaymentBody,
      },
      { method: "GET", route: "/api/v1/payments", auth: "business", query: { bizSerialNo: "FUZZ-PAY-1" } },
      { method: "GET", route: "/api/v1/payments/:id", auth: "business", params: { id: open.id } },
      { method: "GET", route: "/api/v1/payments/:id/qr-url", auth: "business", params: { id: open.id } },
      {
        method: "POST",
        route: "/api/v1/payments/:id/close",
        replay: "succeeds",
        auth: "business",
        params: { id: closed.id },
        body: { reason: "撤销" },
        schema: paymentApi.closePaymentBody,
      },
      // An unpaid notice has nothing to refund: even a valid request is refused.
      {
        method: "POST",
        route: "/api/v1/payments/:id/refunds",
        replay: "refused",
        auth: "business",
        params: { id: open.id },
        body: { refundSerialNo: "FUZZ-REF-1", amountFen: 100, reason: "退费" },
        schema: paymentApi.refundBody,
      },
      { method: "GET", route: "/api/v1/payments/:id/refunds", auth: "business", params: { id: open.id } },
      {
        method: "POST",
        route: "/api/v1/payments/:id/callbacks/re-push",
        auth: "business",
        params: { id: open.id },
      },
      {
        method: "PUT",
        route: "/api/v1/payments/callback-target",
        auth: "business",
        body: callbackTarget,
        schema: paymentApi.callbackTargetBody,
      },
      { method: "GET", route: "/api/openapi.json", auth: "public" },
      // the public trust list (no signature)
      { method: "GET", route: "/api/v1/trust", auth: "public" },
      { method: "GET", route: "/api/v1/trust/agency-ca.pem", auth: "public" },
      { method: "GET", route: "/api/v1/trust/finance.pem", auth: "public" },
      // issuance (internal)
      {
        method: "POST",
        route: "/v1/issuance/items",
        auth: "internal",
        body: { agencyCode: a, code: "F01", name: "项目", unit: "件", standardFen: 100, enabled: true },
      },
      { method: "GET", route: "/v1/issuance/items", auth: "internal", query: { agencyCode: a } },
      {
        method: "POST",
        route: "/v1/issuance/issuing-points",
        auth: "internal",
        body: { agencyCode: a, code: "WIN-09", name: "九号窗口", enabled: true },
      },
      { method: "GET", route: "/v1/issuance/issuing-points", auth: "internal", query: { agencyCode: a } },
      // 项目分组 and 常用交款人 (the window's): a mutation never makes one; an unknown id is 404 after validation
      { method: "GET", route: "/v1/issuance/item-groups", auth: "internal", query: { agencyCode: a } },
      {
        method: "POST",
        route: "/v1/issuance/item-groups",
        auth: "internal",
        body: { agencyCode: a, name: "出入境证件", itemCodes: ["001"], remark: "分组", enabled: true },
      },
      {
        method: "PUT",
        route: "/v1/issuance/item-groups/:id",
        auth: "internal",
        params: { id: randomUUID() },
        body: { name: "出入境证件", itemCodes: ["001"], enabled: false },
      },
      {
        method: "DELETE",
        route: "/v1/issuance/item-groups/:id",
        auth: "internal",
        params: { id: randomUUID() },
      },
      {
        method: "GET",
        route: "/v1/issuance/frequent-payers",
        auth: "internal",
        query: { agencyCode: a, issuingPointCode: "WIN-01", name: "张三", limit: "20" },
      },
      {
        method: "GET",
        route: "/v1/issuance/frequent-payers/:id",
        auth: "internal",
        params: { id: randomUUID() },
      },
      {
        method: "POST",
        route: "/v1/issuance/frequent-payers",
        auth: "internal",
        body: {
          agencyCode: a,
          issuingPointCode: "WIN-01",
          type: 1,
          code: "11010519491231002X",
          name: "张三",
          phone: "13800138000",
          email: "zhang.san@example.cn",
        },
      },
      {
        method: "PUT",
        route: "/v1/issuance/frequent-payers/:id",
        auth: "internal",
        params: { id: randomUUID() },
        body: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
      },
      {
        method: "DELETE",
        route: "/v1/issuance/frequent-payers/:id",
        auth: "internal",
        params: { id: randomUUID() },
      },
      {
        method: "GET",
        route: "/v1/issuance/number-runs",
        auth: "internal",
        query: { agencyCode: a, issuingPointCode: "WIN-01" },
      },
      {
        method: "POST",
        route: "/v1/receipts",
        auth: "internal",
        body: { agencyCode: a, ...validIssue("FUZZ-2") },
        schema: receiptApi.issueReceiptCommand,
      },
      {
        method: "GET",
        route: "/v1/receipts/verify",
        auth: "internal",
        query: { billCode: BILL, number: "0000900001", checkCode: "123456" },
      },
      {
        method: "GET",
        route: "/v1/receipts",
        auth: "internal",
        query: { agencyCode: a, bizSerialNo: "FUZZ-SEED-1" },
      },
      { method: "GET", route: "/v1/receipts/:id", auth: "internal", params: { id } },
      { method: "GET", route: "/v1/receipts/:id/document", auth: "internal", params: { id } },
      { method: "GET", route: "/v1/receipts/:id/status", auth: "internal", params: { id } },
      {
        method: "POST",
        route: "/v1/receipts/:id/red-flush",
        auth: "internal",
        params: { id },
        body: { reason: "退费", handlingPerson: "li.si" },
        schema: receiptApi.redFlushBody,
      },
      {
        method: "POST",
        route: "/v1/receipts/:id/paper-exchange",
        auth: "internal",
        params: { id },
        body: { paperBillCode: BILL, paperNumber: "0000000001" },
        schema: receiptApi.paperExchangeBody,
      },
      {
        method: "POST",
        route: "/v1/receipts/:id/paper-return",
        auth: "internal",
        params: { id },
        body: { reason: "收回" },
        schema: receiptApi.paperReturnBody,
      },
      {
        method: "POST",
        route: "/v1/receipts/:id/book",
        auth: "internal",
        params: { id },
        body: { bookedBy: "某公司" },
        schema: receiptApi.bookBody,
      },
      // void is valid on a REQUESTED receipt: only its mutations are sent, never the example.
      {
        method: "POST",
        route: "/v1/receipts/:id/void",
        auth: "internal",
        params: { id },
        body: { reason: "开错" },
        schema: receiptApi.voidBody,
      },
      // stock (internal)
      {
        method: "POST",
        route: "/v1/stock/bill-kinds",
        auth: "internal",
        body: { agencyCode: a, billCode: "11010127", name: "另一种票据" },
      },
      { method: "GET", route: "/v1/stock/bill-kinds", auth: "internal", query: { agencyCode: a } },
      {
        method: "POST",
        route: "/v1/stock/segments",
        auth: "internal",
        body: { ...range, startNumber: "0000990001", endNumber: "0000990010" },
      },
      { method: "GET", route: "/v1/stock/segments", auth: "internal", query: { agencyCode: a } },
      { method: "GET", route: "/v1/stock/segments/:id", auth: "internal", params: { id: segmentId } },
      {
        method: "POST",
        route: "/v1/stock/segments/:id/confirm",
        auth: "internal",
        params: { id: segmentId },
      },
      {
        method: "PUT",
        route: "/v1/stock/distribution-rules/:agencyCode/:billCode/:issuingPointCode",
        auth: "internal",
        params: { agencyCode: a, billCode: BILL, issuingPointCode: "WIN-02" },
        body: { threshold: 5, batchSize: 10, enabled: true },
      },
      { method: "GET", route: "/v1/stock/distribution-rules", auth: "internal", query: { agencyCode: a } },
      {
        method: "POST",
        route: "/v1/stock/distributions",
        auth: "internal",
        body: { agencyCode: a, billCode: BILL, issuingPointCode: "WIN-01", count: 5 },
      },
      { method: "GET", route: "/v1/stock/distributions", auth: "internal", query: { agencyCode: a } },
      { method: "GET", route: "/v1/stock/ledger", auth: "internal", query: { agencyCode: a } },
      { method: "POST", route: "/v1/stock/returns", auth: "internal", body: range },
      { method: "POST", route: "/v1/stock/voids", auth: "internal", body: { ...range, reason: "损毁" } },
      { method: "GET", route: "/v1/stock/removals", auth: "internal", query: { agencyCode: a } },
      {
        method: "POST",
        route: "/v1/stock/write-offs",
        auth: "internal",
        body: { agencyCode: a, billCode: BILL, period: "2026-02" },
      },
      { method: "GET", route: "/v1/stock/write-offs", auth: "internal", query: { agencyCode: a } },
      // gateway (internal)
      {
        method: "POST",
        route: "/v1/gateway/apps",
        auth: "internal",
        body: { name: "另一个系统", agencyCode: a, issuingPoints: ["WIN-01"] },
      },
      { method: "GET", route: "/v1/gateway/apps", auth: "internal", query: { agencyCode: a } },
      {
        method: "POST",
        route: "/v1/gateway/apps/:appId/disable",
        auth: "internal",
        params: { appId: app.appId },
      },
      // delivery (internal and H5)
      {
        method: "GET",
        route: "/v1/delivery/receipts/:receiptId/deliveries",
        auth: "internal",
        params: { receiptId: id },
      },
      {
        method: "GET",
        route: "/v1/delivery/deliveries",
        auth: "internal",
        query: { agencyCode: a, status: "PENDING" },
      },
      {
        method: "POST",
        route: "/v1/delivery/receipts/:receiptId/deliveries/:channel/repush",
        auth: "internal",
        params: { receiptId: id, channel: "email" },
      },
      {
        method: "GET",
        route: "/v1/delivery/agencies/:agencyCode/channels",
        auth: "internal",
        params: { agencyCode: a },
      },
      {
        method: "PUT",
        route: "/v1/delivery/agencies/:agencyCode/channels",
        auth: "internal",
        params: { agencyCode: a },
        body: { email: true, sms: false, webhook: null },
      },
      {
        method: "GET",
        route: "/v1/delivery/receipts/:receiptId/print",
        auth: "internal",
        params: { receiptId: id },
      },
      {
        method: "GET",
        route: "/v1/delivery/receipts/:receiptId/verification",
        auth: "internal",
        params: { receiptId: id },
      },
      // The payer's cashier (收银台), by the token the QR URL carries: the open notice; an order for it
      // is refused (the agency has no channel account here), so a valid request changes nothing.
      { method: "GET", route: "/h5/pay/cashier.js", auth: "public" },
      {
        method: "GET",
        route: "/h5/pay/:token",
        auth: "public",
        params: { token: open.token },
        // A page a payer's browser opens: a link that is not one is a page saying so (链接无效).
        peerRefusal: (res) => res.status === 404 && res.type.includes("text/html"),
      },
      {
        method: "POST",
        route: "/h5/pay/:token",
        auth: "public",
        params: { token: open.token },
        // UnionPay's 前台通知 back to the cashier's link: nothing read, the browser sent on (303).
        body: { orderId: "P20990101000000000000000000000", respCode: "00" },
        peerRefusal: (res) => res.status === 404 && res.type.includes("text/html"),
      },
      {
        method: "GET",
        route: "/h5/pay/:token/go/:orderId",
        auth: "public",
        // The hand-over page to a form-POST channel (UnionPay): no such order here, the bare 404 page.
        params: { token: open.token, orderId: "P20990101000000000000000000000" },
        peerRefusal: (res) => res.status === 404 && res.type.includes("text/html"),
      },
      { method: "GET", route: "/h5/pay/api/:token", auth: "public", params: { token: open.token } },
      {
        method: "POST",
        route: "/h5/pay/api/:token/orders",
        auth: "public",
        params: { token: open.token },
        body: { channel: "alipay", expectedAmountFen: 12000 },
      },
      { method: "GET", route: "/h5/pickup", auth: "public" },
      { method: "GET", route: "/h5/pickup.js", auth: "public" },
      { method: "GET", route: "/h5/verify.js", auth: "public" },
      { method: "GET", route: "/h5/sm2.js", auth: "public" },
      { method: "GET", route: "/h5/sm3.js", auth: "public" },
      { method: "GET", route: "/h5/api/trust", auth: "public" },
      {
        method: "GET",
        route: "/h5/api/receipts/:token/document",
        auth: "public",
        params: { token: "x".repeat(40) },
      },
      {
        method: "GET",
        route: "/h5/api/receipts/:token/signatures",
        auth: "public",
        params: { token: "x".repeat(40) },
      },
      {
        method: "POST",
        route: "/h5/api/find",
        auth: "public",
        body: { method: "serial", bizSerialNo: "FUZZ-SEED-1", name: "张三" },
      },
      { method: "POST", route: "/h5/api/sms-code", auth: "public", body: { phone: "13800138000" } },
      { method: "POST", route: "/h5/api/verify", auth: "public", body: { token: "x".repeat(40) } },
      {
        method: "GET",
        route: "/h5/api/receipts/:token/pdf",
        auth: "public",
        params: { token: "x".repeat(40) },
      },
      // reporting (internal)
      { method: "GET", route: "/v1/reporting/reports", auth: "internal" },
      {
        method: "GET",
        route: "/v1/reporting/reports/:report",
        auth: "internal",
        params: { report: "issued-summary" },
        query: { agencyCode: a, from: day, to: day },
      },
      {
        method: "GET",
        route: "/v1/reporting/receipts",
        auth: "internal",
        query: { agencyCode: a, bizSerialNo: "FUZZ-SEED-1" },
      },
      { method: "GET", route: "/v1/reporting/lag", auth: "internal" },
      // the operators' routes (the platform's token alone; a call asserting anyone is refused)
      {
        method: "POST",
        route: "/v1/admin/users",
        auth: "internal",
        body: { username: "fuzz.admin", agencyCode: a, roles: ["clerk"] },
        invalidExample: true,
      },
      { method: "GET", route: "/v1/admin/audit/verification", auth: "internal", invalidExample: true },
      // rebuild changes read models by design (administrators only): only its refusals are sent.
      { method: "POST", route: "/v1/reporting/rebuild", auth: "internal" },
      // payment (internal)
      {
        method: "POST",
        route: "/v1/payments",
        replay: "succeeds",
        auth: "internal",
        body: { agencyCode: a, ...validPayment("FUZZ-PAY-1") },
        schema: paymentApi.createPaymentCommand,
      },
      {
        method: "GET",
        route: "/v1/payments",
        auth: "internal",
        query: { agencyCode: a, bizSerialNo: "FUZZ-PAY-1" },
      },
      {
        method: "GET",
        route: "/v1/payments/by-code/:paymentCode",
        auth: "internal",
        params: { paymentCode: open.code },
      },
      { method: "GET", route: "/v1/payments/:id", auth: "internal", params: { id: open.id } },
      { method: "GET", route: "/v1/payments/:id/qr-url", auth: "internal", params: { id: open.id } },
      { method: "GET", route: "/v1/payments/:id/orders", auth: "internal", params: { id: open.id } },
      // The agency has no channel account: even a valid order is refused.
      {
        method: "POST",
        route: "/v1/payments/:id/orders",
        replay: "refused",
        auth: "internal",
        params: { id: open.id },
        body: { channel: "alipay", scene: "qr", expectedAmountFen: 12000 },
      },
      {
        method: "POST",
        route: "/v1/payments/:id/close",
        replay: "succeeds",
        auth: "internal",
        params: { id: closed.id },
        body: { reason: "撤销" },
        schema: paymentApi.closePaymentBody,
      },
      {
        method: "POST",
        route: "/v1/payments/:id/refunds",
        replay: "refused",
        auth: "internal",
        params: { id: open.id },
        body: { refundSerialNo: "FUZZ-REF-1", amountFen: 100, reason: "退费" },
        schema: paymentApi.refundBody,
      },
      { method: "GET", route: "/v1/payments/:id/refunds", auth: "internal", params: { id: open.id } },
      {
        method: "POST",
        route: "/v1/payment/reconciliations",
        auth: "internal",
        body: { agencyCode: a, channel: "alipay", businessDay: day },
      },
      {
        method: "GET",
        route: "/v1/payment/reconciliations/:channel/:businessDay/differences",
        auth: "internal",
        params: { channel: "alipay", businessDay: day },
        query: { agencyCode: a },
      },
      // the finance office's lists (console)
      {
        method: "GET",
        route: "/v1/payment/payments",
        auth: "internal",
        query: { agencyCode: a, status: "PAID", from: day, to: day, limit: "20", offset: "0" },
      },
      { method: "GET", route: "/v1/payment/refunds", auth: "internal", query: { agencyCode: a } },
      {
        method: "GET",
        route: "/v1/payment/reconciliations",
        auth: "internal",
        query: { agencyCode: a, channel: "alipay" },
      },
      {
        method: "GET",
        route: "/v1/payment/reconciliations/:businessDay/differences",
        auth: "internal",
        params: { businessDay: day },
        query: { agencyCode: a },
      },
      {
        method: "GET",
        route: "/v1/payment/statements/:businessDay",
        auth: "internal",
        params: { businessDay: day },
        query: { agencyCode: a },
      },
      {
        method: "POST",
        route: "/v1/payments/:id/callbacks/re-push",
        auth: "internal",
        params: { id: open.id },
      },
      {
        method: "PUT",
        route: "/v1/payment/callback-targets/:appId",
        auth: "internal",
        params: { appId: app.appId },
        body: { agencyCode: a, ...callbackTarget },
        schema: paymentApi.callbackTargetCommand,
      },
      {
        method: "PUT",
        route: "/v1/payment/channel-accounts/:channel",
        auth: "internal",
        params: { channel: "alipay" },
        body: {
          agencyCode: a,
          accountId: "2021004100000001",
          config: { gateway: "http://127.0.0.1:9/gateway.do" },
        },
      },
      // The police business system's decision source (an app sets its own; operators any).
      {
        method: "PUT",
        route: "/v1/payment/decision-sources/:appId",
        auth: "internal",
        params: { appId: app.appId },
        body: { agencyCode: a, ...callbackTarget },
        schema: paymentApi.callbackTargetCommand,
      },
      // 到账资金对账: the agency has no bank account configured here, so a valid run is refused (409).
      {
        method: "POST",
        route: "/v1/payment/funds-arrivals",
        auth: "internal",
        replay: "refused",
        body: { agencyCode: a, settlementDay: day },
      },
      {
        method: "GET",
        route: "/v1/payment/funds-arrivals/:settlementDay",
        auth: "internal",
        params: { settlementDay: day },
        query: { agencyCode: a },
      },
      // 资金清分: a finance special account, a rule on it, a day's clearing (not reconciled: refused).
      {
        method: "PUT",
        route: "/v1/payment/clearing-accounts/:accountNo",
        replay: "succeeds",
        auth: "internal",
        params: { accountNo: "6217000010001" },
        body: { agencyCode: a, name: "市财政局非税收入专户", bankName: "建设银行" },
      },
      { method: "GET", route: "/v1/payment/clearing-accounts", auth: "internal", query: { agencyCode: a } },
      {
        method: "PUT",
        route: "/v1/payment/clearing-rules/:itemCode",
        replay: "succeeds",
        auth: "internal",
        params: { itemCode: "FK01" },
        body: { agencyCode: a, shares: [{ accountNo: "6217000010001", basisPoints: 10000 }] },
      },
      { method: "GET", route: "/v1/payment/clearing-rules", auth: "internal", query: { agencyCode: a } },
      {
        method: "POST",
        route: "/v1/payment/clearings",
        auth: "internal",
        body: { agencyCode: a, businessDay: day },
      },
      {
        method: "GET",
        route: "/v1/payment/clearings/:businessDay",
        auth: "internal",
        params: { businessDay: day },
        query: { agencyCode: a },
      },
      // The finance office's decisions: the differences work list; a difference handled and an
      // instruction re-sent, both of rows that are not there (404), so no mutation changes anything.
      {
        method: "GET",
        route: "/v1/payment/differences",
        auth: "internal",
        query: {
          agencyCode: a,
          status: "OPEN",
          leg: "channel",
          from: day,
          to: day,
          limit: "20",
          offset: "0",
        },
      },
      {
        method: "POST",
        route: "/v1/payment/differences/:id/handle",
        auth: "internal",
        params: { id: "987654321" },
        body: { agencyCode: a, note: "已与渠道核实" },
      },
      {
        method: "POST",
        route: "/v1/payment/funds-differences/:id/handle",
        auth: "internal",
        params: { id: "987654321" },
        body: { agencyCode: a, note: "已与银行核实" },
      },
      {
        method: "POST",
        route: "/v1/payment/clearing-instructions/:id/resend",
        auth: "internal",
        params: { id: randomUUID() },
        body: { agencyCode: a, note: "专户已解冻" },
      },
      // A channel's notify: its signature is the authentication (this one has none, so it is refused).
      {
        method: "POST",
        route: "/v1/payment/notify/:channel",
        auth: "public",
        params: { channel: "alipay" },
        body: { out_trade_no: "FUZZ-ORDER-1", trade_status: "TRADE_SUCCESS", sign: "x" },
      },
      // WeChat Pay's notify names its merchant in the URL; without Wechatpay-* signature headers it is refused.
      {
        method: "POST",
        route: "/v1/payment/notify/:channel/:accountId",
        auth: "public",
        params: { channel: "wechat", accountId: "1900000001" },
        // WeChat Pay's answer to a notify it must send again: 4xx with {code: "FAIL", message}.
        peerRefusal: (res) =>
          res.status >= 400 && res.body.code === "FAIL" && typeof res.body.message === "string",
        body: {
          id: "EV-FUZZ-1",
          event_type: "TRANSACTION.SUCCESS",
          resource_type: "encrypt-resource",
          resource: {
            algorithm: "AEAD_AES_256_GCM",
            ciphertext: "AAAA",
            nonce: "n",
            associated_data: "transaction",
          },
        },
      },
      // The agency bank's front-end: its MAC (X-Bank-Signature) is the authentication; without one
      // every message is refused (401 BANK_SIGNATURE_INVALID) before anything is read.
      {
        method: "POST",
        route: "/v1/payment/bank/:bankCode/query",
        auth: "public",
        params: { bankCode: "ICBC-2301" },
        body: { agencyCode: a, decisionNo: "230101120000001", bankSerialNo: "2026120300000001" },
      },
      {
        method: "POST",
        route: "/v1/payment/bank/:bankCode/pay",
        auth: "public",
        params: { bankCode: "ICBC-2301" },
        body: {
          agencyCode: a,
          bankSerialNo: "2026120300000002",
          paymentCode: open.code,
          amountFen: 20000,
          paidAt: "2026-12-03T10:00:00+08:00",
        },
      },
      {
        method: "POST",
        route: "/v1/payment/bank/:bankCode/reverse",
        auth: "public",
        params: { bankCode: "ICBC-2301" },
        body: {
          agencyCode: a,
          bankSerialNo: "2026120300000003",
          originalBankSerialNo: "2026120300000002",
          reason: "柜员误操作",
        },
      },
      // the console's own routes (session cookie and CSRF token). Sign-in with a name nobody has.
      {
        method: "POST",
        route: "/api/console/login",
        replay: "refused",
        auth: "public",
        body: { username: "fuzz.nobody", password: "Not-a-password-1", totp: "123456" },
      },
      // logout and TOTP enrolment take no input: only refused requests are sent (no valid session).
      { method: "POST", route: "/api/console/logout", auth: "console" },
      { method: "GET", route: "/api/console/me", auth: "console" },
      // The current password is not the session's: a valid session can never change it here.
      {
        method: "POST",
        route: "/api/console/password",
        replay: "refused",
        auth: "console",
        body: { currentPassword: "Not-the-current-1", newPassword: "Another-Horse-43-battery" },
      },
      { method: "POST", route: "/api/console/totp/enroll", auth: "console" },
      // TOTP is already on: a first code confirms nothing.
      {
        method: "POST",
        route: "/api/console/totp/confirm",
        replay: "refused",
        auth: "console",
        body: { code: "000000" },
      },
      { method: "GET", route: "/api/console/users", auth: "console" },
      // A user that exists: even a valid request is refused (409).
      {
        method: "POST",
        route: "/api/console/users",
        replay: "refused",
        auth: "console",
        body: { username: "fuzz.target", displayName: "模糊目标", agencyCode: a, issuingPoints: ["WIN-01"] },
      },
      // Nobody disables or enables themselves: a valid id is refused.
      {
        method: "POST",
        route: "/api/console/users/:id/disable",
        replay: "refused",
        auth: "console",
        params: { id: people.sys.id },
      },
      {
        method: "POST",
        route: "/api/console/users/:id/enable",
        replay: "refused",
        auth: "console",
        params: { id: people.sys.id },
      },
      // No such user: a valid id is refused (404).
      {
        method: "POST",
        route: "/api/console/users/:id/reset-password",
        replay: "refused",
        auth: "console",
        params: { id: randomUUID() },
      },
      {
        method: "POST",
        route: "/api/console/users/:id/revoke-sessions",
        replay: "refused",
        auth: "console",
        params: { id: randomUUID() },
      },
      // The target's grants as they are.
      {
        method: "PUT",
        route: "/api/console/users/:id/grants",
        auth: "console",
        as: "sec",
        params: { id: targetUserId },
        body: { grants: [{ role: "clerk" }], issuingPoints: ["WIN-01"] },
      },
      { method: "GET", route: "/api/console/roles", auth: "console" },
      // A built-in role as it is.
      {
        method: "PUT",
        route: "/api/console/roles/:name",
        auth: "console",
        as: "sec",
        params: { name: "clerk" },
        body: {
          title: BUILT_IN_ROLES.clerk.title,
          permissions: [...BUILT_IN_ROLES.clerk.permissions],
          dataScope: BUILT_IN_ROLES.clerk.dataScope,
          administrator: false,
        },
      },
      { method: "GET", route: "/api/console/permissions", auth: "console" },
      { method: "GET", route: "/api/console/sessions", auth: "console" },
      {
        method: "GET",
        route: "/api/console/audit",
        auth: "console",
        as: "aud",
        query: { actor: "fuzz.sys", action: "session", limit: "10" },
      },
      {
        method: "GET",
        route: "/api/console/audit/export",
        auth: "console",
        as: "aud",
        query: { actor: "fuzz.sys", action: "session", limit: "10" },
      },
      // finance-exchange (internal)
      {
        method: "POST",
        route: "/v1/finance-exchange/base-data/sync",
        auth: "internal",
        body: { agencyCode: a },
      },
      {
        method: "GET",
        route: "/v1/finance-exchange/base-data",
        auth: "internal",
        query: { agencyCode: a, kind: "billKinds" },
      },
      {
        method: "POST",
        route: "/v1/finance-exchange/stock-applications",
        auth: "internal",
        body: { agencyCode: a, billCode: BILL, quantity: 10 },
      },
      {
        method: "GET",
        route: "/v1/finance-exchange/stock-applications",
        auth: "internal",
        query: { agencyCode: a, limit: "20" },
      },
      {
        method: "GET",
        route: "/v1/finance-exchange/stock-applications/:id",
        auth: "internal",
        params: { id: randomUUID() },
      },
      {
        method: "POST",
        route: "/v1/finance-exchange/reconciliations",
        auth: "internal",
        body: { agencyCode: a, day },
      },
      {
        method: "GET",
        route: "/v1/finance-exchange/reconciliations",
        auth: "internal",
        query: { agencyCode: a, day },
      },
      {
        method: "POST",
        route: "/v1/finance-exchange/audit-reports",
        auth: "internal",
        body: { agencyCode: a, billCode: BILL, periodStart: day, periodEnd: day, destroyed: [] },
      },
      {
        method: "GET",
        route: "/v1/finance-exchange/audit-reports/:id",
        auth: "internal",
        params: { id: randomUUID() },
      },
      {
        method: "GET",
        route: "/v1/finance-exchange/supervision/:receiptId",
        auth: "internal",
        params: { receiptId: randomUUID() },
      },
      {
        method: "GET",
        route: "/v1/finance-exchange/archive/:contentSm3/verification",
        auth: "internal",
        params: { contentSm3: "0".repeat(64) },
      },
      { method: "GET", route: "/v1/finance-exchange/status", auth: "internal", query: { agencyCode: a } },
      {
        method: "GET",
        route: "/v1/finance-exchange/queue",
        auth: "internal",
        query: { agencyCode: a, state: "pending", billCode: BILL, page: "1", pageSize: "20" },
      },
      {
        method: "GET",
        route: "/v1/finance-exchange/archive",
        auth: "internal",
        query: {
          agencyCode: a,
          billCode: BILL,
          number: "0000000001",
          from: day,
          to: day,
          page: "1",
          pageSize: "20",
        },
      },
      {
        method: "GET",
        route: "/v1/finance-exchange/ferry/rejections",
        auth: "internal",
        query: { agencyCode: a },
      },
      // the finance simulator's agency API (signed by the agency)
      {
        server: "finance",
        method: "GET",
        route: "/fin/v1/base-data",
        auth: "finance",
        query: { since: "0" },
      },
      {
        server: "finance",
        method: "POST",
        route: "/fin/v1/stock-applications",
        auth: "finance",
        body: {
          applicationId: randomUUID(),
          billCode: BILL,
          quantity: 10,
          applicant: "张三",
          reason: "领用",
        },
        schema: stockApplicationRequest,
      },
      {
        server: "finance",
        method: "GET",
        route: "/fin/v1/stock-applications/:applicationId",
        auth: "finance",
        params: { applicationId: randomUUID() },
      },
      {
        server: "finance",
        method: "GET",
        route: "/fin/v1/segments",
        auth: "finance",
        query: { since: "0", limit: "10" },
      },
      {
        server: "finance",
        method: "POST",
        route: "/fin/v1/supervision/batches",
        auth: "finance",
        body: { batchId: randomUUID(), receipts: [{ x: 1 }] },
        invalidExample: true,
      },
      {
        server: "finance",
        method: "GET",
        route: "/fin/v1/supervised-receipts",
        auth: "finance",
        query: { date: day, limit: "10" },
      },
      {
        server: "finance",
        method: "POST",
        route: "/fin/v1/receipt-status",
        auth: "finance",
        body: { updates: [{ x: 1 }] },
        invalidExample: true,
      },
      {
        server: "finance",
        method: "POST",
        route: "/fin/v1/audit-reports",
        auth: "finance",
        body: {
          reportId: randomUUID(),
          billCode: BILL,
          periodStart: day,
          periodEnd: day,
          used: [],
          voided: [],
          destroyed: [],
        },
        schema: auditReportRequest,
      },
      {
        server: "finance",
        method: "GET",
        route: "/fin/v1/audit-reports/:reportId",
        auth: "finance",
        params: { reportId: randomUUID() },
      },
      {
        server: "finance",
        method: "GET",
        route: "/fin/v1/public/verify",
        auth: "public",
        query: { billCode: BILL, number: "0000900001", checkCode: "123456" },
      },
      { server: "finance", method: "GET", route: "/fin/v1/public/certificates", auth: "public" },
    ];
    // Every internal route again through the console's proxy (/api/internal/*), signed by the
    // system administrator's session; routes for the platform's token alone are refused there.
    const proxied = direct
      .filter((r) => r.auth === "internal" && r.server !== "finance")
      .map(
        ({ replay, ...r }): Route => ({
          ...r,
          route: `${CONSOLE_PROXY_PREFIX}${r.route}`,
          auth: "console",
          proxied: true,
          // A person's success is audited (a change by design): only refusals are replayed here.
          ...(replay === "refused" ? { replay } : {}),
        }),
      );
    return [...direct, ...proxied];
  };
  // Schemas of finance routes whose valid example needs a whole signed receipt: kept for the type check.
  void supervisionBatchRequest;
  void statusUpdateRequest;

  /** Audit entries of refused attempts, at the last snapshot (reported, not a change). */
  let refusalsAudited = 0;
  /** Row counts of every table of every service (and finance), plus the numbers each point has used. */
  async function snapshot(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const [service, db] of t.platform.databases) {
      const tables = (await db.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
      )) as Array<{ table_name: string }>;
      for (const { table_name } of tables) {
        // A signed call's nonce is remembered by design (replay protection), even when refused after.
        // Lookup limits count every request, refused ones too, by design (the limit is the point).
        if (
          table_name.includes("nonce") ||
          table_name === "piaoju_rate_limit" ||
          table_name.startsWith("_prisma")
        )
          continue;
        if (service === "gateway" && table_name === "audit_entry") {
          // The audit log records refused attempts by design (a failed sign-in, a person's change an
          // upstream refused: 等保 audit keeps who tried what and that it failed). What it must not
          // hold after the fuzz is one more entry of something done: those are counted as a change.
          const [row] = (await db.query(
            `SELECT count(*) FILTER (WHERE outcome = 'ok' OR outcome ~ '^[23][0-9][0-9]$')::int AS done,
                    count(*)::int AS n FROM audit_entry`,
          )) as Array<{ done: number; n: number }>;
          counts["gateway.audit_entry(done)"] = row!.done;
          refusalsAudited = row!.n - row!.done;
          continue;
        }
        const [row] = (await db.query(`SELECT count(*)::int AS n FROM "${table_name}"`)) as Array<{
          n: number;
        }>;
        counts[`${service}.${table_name}`] = row!.n;
      }
    }
    const [used] = (await t.platform.databases
      .get("issuance")!
      .query("SELECT coalesce(sum(next_number), 0)::text AS n FROM number_run")) as Array<{ n: string }>;
    counts["issuance.numbers-used"] = Number(used!.n);
    const client = new pg.Client({ connectionString: simDb.url });
    await client.connect();
    try {
      const tables = await client.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
      );
      for (const { table_name } of tables.rows as Array<{ table_name: string }>) {
        // Lookup limits count every request, refused ones too, by design (the limit is the point).
        if (
          table_name.includes("nonce") ||
          table_name === "piaoju_rate_limit" ||
          table_name.startsWith("_prisma")
        )
          continue;
        const r = await client.query(`SELECT count(*)::int AS n FROM "${table_name}"`);
        counts[`finance.${table_name}`] = (r.rows[0] as { n: number }).n;
      }
    } finally {
      await client.end();
    }
    return counts;
  }

  /** Waits until nothing moves (the setup's events have all been consumed) and returns the counts. */
  async function settled(): Promise<Record<string, number>> {
    let last = JSON.stringify(await snapshot());
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await snapshot();
      if (JSON.stringify(now) === last) return now;
      last = JSON.stringify(now);
    }
    throw new Error("the platform did not settle");
  }

  it("drives every route with mutated requests: no 5xx, each refusal a problem naming the field, nothing changed", async () => {
    const routes = catalog();
    // Every route a service registered is in the catalog (a new route must be added here).
    const covered = new Set(
      routes
        .filter((r) => r.server !== "finance")
        .map((r) => `${r.method} ${r.proxied ? `${CONSOLE_PROXY_PREFIX}/*` : r.route}`),
    );
    const ignored = new Set([
      "GET /healthz",
      "GET /readyz",
      "GET /metrics",
      "GET /api/docs",
      "GET /api/docs/*",
      "GET /api/docs/static/*",
      "GET /api/docs/json",
      "GET /api/docs/yaml",
      "GET /api/docs/static/index.html",
      "GET /api/docs/static/swagger-initializer.js",
    ]);
    const missing = [...registered].filter(
      (r) =>
        !covered.has(r) &&
        !ignored.has(r) &&
        !r.startsWith("GET /api/docs") &&
        // The console's files (the SPA and its assets): static, no input but the path.
        !r.startsWith("GET /admin"),
    );
    expect(missing, "routes the fuzz catalog does not drive").toEqual([]);
    // Examples with a shared schema are valid: mutations start one field away from a real request.
    for (const r of routes)
      if (r.schema && r.body) expect(r.schema.safeParse(r.body).success, r.route).toBe(true);

    // PIAOJU_FUZZ_ROUTES (a regular expression over "METHOD /route") narrows a run to some routes,
    // to search them harder while one is being fixed; the catalog is held to every route regardless.
    const only = process.env.PIAOJU_FUZZ_ROUTES ? new RegExp(process.env.PIAOJU_FUZZ_ROUTES) : undefined;
    const driven = only ? routes.filter((r) => only.test(`${r.method} ${r.route}`)) : routes;
    expect(driven.length).toBeGreaterThan(0);

    /**
     * An internal call's credentials: the platform's token and the caller's identity assertion,
     * signed for this very request (method and path) as the gateway signs it; without the
     * assertion every service refuses at authentication and nothing past it would be tested.
     * Without valid authentication (`variant` picks): nothing; the token alone; the token with an
     * assertion signed for another request; an assertion without the token; another token.
     * Operators' routes (@piaoju/access: the platform's token, no person) are the other way round:
     * the token alone is valid, and the token with a person's assertion is refused.
     */
    const internalHeaders = (
      method: string,
      route: string,
      path: string,
      valid: boolean,
      variant: number,
    ): Record<string, string> => {
      const token = { authorization: `Bearer ${t.env.PIAOJU_INTERNAL_TOKEN}` };
      const asserted = (m: string, p: string) =>
        callerHeaders({ "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY }, m, p);
      const operators = "service" in (internalRouteRule(method, route) ?? {});
      if (valid) return operators ? token : { ...token, ...asserted(method, path) };
      switch (variant % 5) {
        case 1:
          return operators ? { ...token, ...asserted(method, path) } : token;
        case 2:
          return { ...token, ...asserted(method === "GET" ? "POST" : "GET", path) };
        case 3:
          return asserted(method, path);
        case 4:
          return { authorization: `Bearer ${randomBytes(24).toString("hex")}`, ...asserted(method, path) };
        default:
          return {};
      }
    };

    /** One request to a route, authenticated as its kind wants (or, without valid auth, not). */
    const call = (
      r: Route,
      path: string,
      body: string | Buffer | undefined,
      validAuth: boolean,
      variant: number,
    ) =>
      r.auth === "business"
        ? business(r.method, path, body, validAuth, variant)
        : r.auth === "finance"
          ? financeCall(r.method, path, body, validAuth)
          : r.auth === "console"
            ? consoleCall(r.as ?? "sys", r.method, path, body, validAuth, variant)
            : send(
                r.server ?? "platform",
                r.method,
                path,
                r.auth === "internal" ? internalHeaders(r.method, r.route, path, validAuth, variant) : {},
                body,
              );

    const before = await settled();
    const refusalsAuditedBefore = refusalsAudited;
    const gatewayDb = t.platform.databases.get("gateway")!;
    const [{ seq: auditSeqBefore } = { seq: "0" }] = (await gatewayDb.query(
      "SELECT coalesce(max(seq), 0)::text AS seq FROM audit_entry",
    )) as Array<{ seq: string }>;
    // The examples said to be replays, sent as they are with valid authentication: each must be
    // answered (an idempotent success or a refusal) and, as every mutation, change nothing.
    const replays: string[] = [];
    for (const r of driven.filter((x) => x.replay)) {
      const path = r.route.replace(/:(\w+)/g, (_, n: string) => encodeURIComponent(r.params![n]!));
      const res = await call(r, path, r.body === undefined ? undefined : JSON.stringify(r.body), true, 0);
      replays.push(`${r.method} ${r.route} → ${res.status}`);
      expect(res.status, `${r.method} ${r.route}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
      if (r.replay === "succeeds") expect(res.status, `${r.method} ${r.route}`).toBeLessThan(300);
      else expect(res.status, `${r.method} ${r.route}`).toBeGreaterThanOrEqual(400);
    }
    const stats = {
      sent: 0,
      ok2xx: 0,
      refused4xx: 0,
      server5xx: 0,
      byStatus: {} as Record<string, number>,
      byFamily: {} as Record<string, number>,
      /** Requests with valid authentication answered past it (not 401): the sessions held throughout. */
      authorisedByFamily: {} as Record<string, number>,
    };
    const family = (r: Route) =>
      r.proxied
        ? "console-proxy"
        : r.route.startsWith("/api/console")
          ? "console"
          : /\/payments?(\/|$)/.test(r.route)
            ? `payment-${r.auth}`
            : `${r.server ?? "platform"}-${r.auth}`;
    const failures: string[] = [];

    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: driven.length - 1 }),
        mutationArb,
        fc.boolean(),
        async (index, mutation, validAuth) => {
          const r = driven[index]!;
          const req = applyMutation(r, mutation, validAuth);
          if (!req) return;
          const res = await call(r, req.path, req.body, validAuth, mutation.variant);
          stats.sent++;
          stats.byStatus[res.status] = (stats.byStatus[res.status] ?? 0) + 1;
          stats.byFamily[family(r)] = (stats.byFamily[family(r)] ?? 0) + 1;
          if (validAuth && res.status !== 401)
            stats.authorisedByFamily[family(r)] = (stats.authorisedByFamily[family(r)] ?? 0) + 1;
          const what = `${r.method} ${req.path.slice(0, 120)} [${mutation.kind}${req.field ? ` ${req.field}` : ""}] auth=${validAuth} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
          if (res.status >= 500) {
            stats.server5xx++;
            failures.push(`5xx: ${what}`);
            return;
          }
          if (res.status < 400) {
            stats.ok2xx++;
            // A route that needs a caller answers nobody else but with a refusal.
            if (!validAuth && r.auth !== "public")
              failures.push(`answered without valid authentication: ${what}`);
            return;
          }
          stats.refused4xx++;
          const issues = (res.body.issues ?? []) as Array<{ field?: string }>;
          const problem =
            res.type.includes("application/problem+json") &&
            res.body.status === res.status &&
            typeof res.body.code === "string";
          const peer = !problem && r.peerRefusal?.(res) === true;
          if (!problem && !peer) failures.push(`not a problem document: ${what}`);
          if (res.status === 400 && !peer) {
            const named =
              issues.length > 0 &&
              issues.every((i) => typeof i.field === "string" && i.field.length > 0) &&
              (!req.field ||
                r.invalidExample ||
                issues.some(
                  (i) =>
                    i.field === "body" ||
                    // A path that does not even decode is refused by the router, naming the path.
                    i.field === "path" ||
                    i.field!.includes(req.field!) ||
                    req.field!.includes(i.field!.replace(/^(body|query|params)\.?/, "")),
                ));
            if (!named) failures.push(`400 not naming ${req.field ?? "a field"}: ${what}`);
          }
        },
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );

    const after = await settled();
    const changed = Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k]);
    console.log(
      `fuzz: seed ${SEED}, ${driven.length} routes, requests ${stats.sent}, 2xx ${stats.ok2xx}, 4xx ${stats.refused4xx}, 5xx ${stats.server5xx}, ` +
        `side effects ${changed.length}, problems ${failures.length}, refusals audited ${refusalsAudited - refusalsAuditedBefore}; by status ${JSON.stringify(stats.byStatus)}; by family ${JSON.stringify(stats.byFamily)}`,
    );
    console.log(`fuzz: examples replayed: ${replays.join(", ")}`);
    console.log(`fuzz: answered past authentication ${JSON.stringify(stats.authorisedByFamily)}`);
    const audited = (await gatewayDb.query(
      `SELECT action, outcome, count(*)::int AS n FROM audit_entry WHERE seq > ${BigInt(auditSeqBefore)}
        GROUP BY action, outcome ORDER BY n DESC`,
    )) as Array<{ action: string; outcome: string; n: number }>;
    console.log(
      `fuzz: audited during the run: ${audited.map((a) => `${a.action} ${a.outcome} ×${a.n}`).join(", ")}`,
    );
    for (const f of failures.slice(0, 40)) console.log(f.slice(0, 400));
    for (const k of changed) console.log(`changed: ${k}: ${before[k]} → ${after[k]}`);
    expect(failures.slice(0, 20)).toEqual([]);
    expect(stats.server5xx).toBe(0);
    expect(changed.map((k) => `${k}: ${before[k]} → ${after[k]}`)).toEqual([]);
    expect(stats.refused4xx).toBeGreaterThan(stats.sent / 2);
    // The console's people are still signed in: their requests were judged on their input throughout.
    for (const who of ["sys", "sec", "aud"] as const) {
      expect((await people[who].session.request("GET", "/api/console/me")).status, who).toBe(200);
    }
    // Every document issuance holds is well-formed XML to a conforming parser.
    const ids = (await t.platform.databases.get("issuance")!.query("SELECT id FROM receipt")) as Array<{
      id: string;
    }>;
    expect(ids.length).toBeGreaterThan(0);
    for (const { id } of ids) {
      const path = `/v1/receipts/${id}/document`;
      const res = await fetch(`${t.platform.url}${path}`, {
        headers: {
          authorization: `Bearer ${t.env.PIAOJU_INTERNAL_TOKEN}`,
          ...callerHeaders({ "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": AGENCY }, "GET", path),
        },
      });
      expect(res.status, path).toBe(200);
      expect(parseXml(Buffer.from(await res.arrayBuffer())).error).toBeUndefined();
    }
  }, 300_000);
});

// ---- mutations -------------------------------------------------------------------------------

type Mutation =
  | { kind: "type" | "range" | "encoding" | "size" | "depth"; pick: number; variant: number }
  | { kind: "duplicate" | "unknown" | "utf8" | "param" | "query"; pick: number; variant: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom(
    "type",
    "range",
    "encoding",
    "size",
    "depth",
    "duplicate",
    "unknown",
    "utf8",
    "param",
    "query",
  ) as fc.Arbitrary<Mutation["kind"]>,
  pick: fc.nat(),
  variant: fc.nat(),
}) as fc.Arbitrary<Mutation>;

/** Characters no text field may hold (JSON escapes, so a lone surrogate survives serialisation). */
const BAD_TEXT = [
  "\u0000",
  "\u0001",
  "\u0008",
  "\u000b",
  "\u001b",
  "\u001f",
  "\ufffe",
  "\uffff",
  "\ud800",
  "\udfff",
  "a\udbff",
];
const TYPE_SWAPS: unknown[] = [12345, true, [], {}, ["x"], { x: 1 }, "12345"];
const RANGES: unknown[] = [-1, 0.5, 1e21, -1e21, Number.MAX_SAFE_INTEGER * 4, -2147483649];

/** Paths to every leaf of a value (objects and arrays walked), e.g. ["payer","name"], ["items",0,"amountFen"]. */
function leaves(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  }
  return [path];
}

function setAt(value: unknown, path: (string | number)[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const [head, ...rest] = path;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<
    string | number,
    unknown
  >;
  copy[head!] = setAt(copy[head!], rest, leaf);
  return copy;
}

function getAt(value: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)?.[k], value);
}

/** One mutated request: the path with its query, the body's bytes, and the field it aims at. */
function applyMutation(
  r: Route,
  m: Mutation,
  validAuth: boolean,
): { path: string; body: string | Buffer | undefined; field?: string } | undefined {
  const params = { ...(r.params ?? {}) };
  const query = { ...(r.query ?? {}) };
  let body: unknown = r.body;
  let raw: string | Buffer | undefined;
  let field: string | undefined;
  const bodyLeaves = body === undefined ? [] : leaves(body).filter((p) => p.length > 0);
  const pickLeaf = () => bodyLeaves[m.pick % bodyLeaves.length]!;

  // What a mutation may touch so that the request stays invalid: a route that changes something
  // is mutated in its body, or in a path parameter it checks; a query it does not read would leave
  // the request valid (a GET only reads, so anything goes there).
  const changes = r.method !== "GET";
  const hasParams = Object.keys(params).length > 0;
  let kind: Mutation["kind"] = m.kind;
  if (body === undefined && !["param", "query"].includes(kind)) kind = m.pick % 2 ? "param" : "query";
  if (changes && kind === "query") kind = "param";
  if (changes && body === undefined && !hasParams && validAuth && r.auth !== "public") return undefined;
  switch (kind) {
    case "type": {
      const p = pickLeaf();
      const current = getAt(body, p);
      const swaps = TYPE_SWAPS.filter((s) => typeof s !== typeof current || Array.isArray(s));
      body = setAt(body, p, swaps[m.variant % swaps.length]);
      field = p.join(".");
      break;
    }
    case "range": {
      const numeric = bodyLeaves.filter((p) => typeof getAt(body, p) === "number");
      const p = numeric.length ? numeric[m.pick % numeric.length]! : pickLeaf();
      body = setAt(body, p, RANGES[m.variant % RANGES.length]);
      field = p.join(".");
      break;
    }
    case "encoding": {
      const strings = bodyLeaves.filter((p) => typeof getAt(body, p) === "string");
      if (!strings.length) return undefined;
      const p = strings[m.pick % strings.length]!;
      const bad = BAD_TEXT[m.variant % BAD_TEXT.length]!;
      const s = String(getAt(body, p));
      body = setAt(body, p, `${s.slice(0, 1)}${bad}${s.slice(1)}`);
      field = p.join(".");
      break;
    }
    case "size": {
      const p = pickLeaf();
      body = setAt(body, p, m.variant % 2 ? "x".repeat(200_000) : Array.from({ length: 20_000 }, () => "x"));
      field = p.join(".");
      break;
    }
    case "depth": {
      const p = pickLeaf();
      const depth = [40, 5_000, 50_000][m.variant % 3]!;
      const marker = "\u0000DEPTH\u0000";
      raw = JSON.stringify(setAt(body, p, marker)).replace(
        JSON.stringify(marker),
        `${"[".repeat(depth)}${"]".repeat(depth)}`,
      );
      break;
    }
    case "duplicate": {
      const keys = Object.keys(body as object);
      const key = keys[m.pick % keys.length]!;
      const text = JSON.stringify(body);
      raw = `{${JSON.stringify(key)}:${JSON.stringify(m.variant % 2 ? "other" : 1)},${text.slice(1)}`;
      field = key;
      break;
    }
    case "unknown": {
      const extra = (
        [
          ["source", "online"],
          ["status", "ISSUED"],
          ["agencyCode", "440301"],
          ["__proto__", { admin: true }],
          ["constructor", { prototype: 1 }],
          ["createdBy", "root"],
        ] as Array<[string, unknown]>
      )[m.variant % 6]!;
      if (Object.hasOwn(body as object, extra[0])) return undefined;
      raw = `${JSON.stringify(body).slice(0, -1)},${JSON.stringify(extra[0])}:${JSON.stringify(extra[1])}}`;
      field = String(extra[0]);
      break;
    }
    case "utf8": {
      const text = Buffer.from(JSON.stringify(body));
      const bytes = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]][
        m.variant % 4
      ]!;
      const at = text.indexOf(0x22, 1) + 1; // inside the first string
      raw = Buffer.concat([text.subarray(0, at), Buffer.from(bytes), text.subarray(at)]);
      break;
    }
    case "param": {
      const names = Object.keys(params);
      if (!names.length) {
        if (changes) return validAuth ? undefined : { path: r.route, body: undefined };
        return applyMutation(r, { ...m, kind: "query" }, validAuth);
      }
      const name = names[m.pick % names.length]!;
      // Each invalid for every parameter (a "-1" would be a valid issuing point code, and a PUT would make it).
      const values = ["x%00y", "%ED%A0%80", "%FF", "x".repeat(3000), "%E2%80%AE", "a%01b", "%EF%BF%BE"];
      params[name] = `RAW:${values[m.variant % values.length]}`;
      field = name;
      break;
    }
    case "query": {
      const names = Object.keys(query);
      const values = ["a%00b", "%ED%A0%80", "%FF%FE", "x".repeat(5000), "%01", "%EF%BF%BF"];
      const value = values[m.variant % values.length]!;
      if (!names.length) {
        query.extra = `RAW:${value}`;
      } else {
        const name = names[m.pick % names.length]!;
        if (m.variant % 7 === 6) query[name] = `RAW:${encodeURIComponent(query[name]!)}&${name}=other`;
        else query[name] = `RAW:${value}`;
        field = name;
      }
      break;
    }
  }
  let path = r.route.replace(/:(\w+)/g, (_, n: string) => {
    const v = params[n]!;
    return v.startsWith("RAW:") ? v.slice(4) : encodeURIComponent(v);
  });
  const qs = Object.entries(query)
    .map(([k, v]) => `${k}=${v.startsWith("RAW:") ? v.slice(4) : encodeURIComponent(v)}`)
    .join("&");
  if (qs) path += `?${qs}`;
  if (raw === undefined && body !== undefined && r.method !== "GET") raw = JSON.stringify(body);
  if (r.method === "GET") raw = undefined;
  return { path, body: raw, ...(field ? { field } : {}) };
}
