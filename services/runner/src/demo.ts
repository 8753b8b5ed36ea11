import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ASSERTION_HEADER, type AssertedIdentity, AssertionSigner, BUILT_IN_ROLES } from "@piaoju/access";
import { businessClient } from "@piaoju/business-client";

/**
 * Shows a running Piaoju working, end to end, as an agency would use it:
 *   piaoju demo [--url http://127.0.0.1:8080] [--data-dir .data] [--no-finance]
 * A ticket manager registers a bill kind, applies to finance for a segment (申领) and takes it into
 * stock (入库), and sets a distribution rule (分发); the receipt service learns the numbers over the
 * bus; a business system registered with the gateway issues a receipt with a signed request; the
 * demo follows it through the agency's SM2 signature and finance's supervision to ISSUED and to
 * delivery. `./piaoju start` runs it once the platform is ready. Re-runnable: done steps are skipped.
 */

const AGENCY = "110101";
const BILL = "11010126";

export interface DemoOptions {
  url: string;
  dataDir: string;
  /** Take the segment from finance (申领) and follow the receipt to ISSUED (default true). */
  finance?: boolean;
  /** How long to follow the receipt to ISSUED (default 180 s: the first receipt makes the agency's key). */
  issuedWithinMs?: number;
  print?: (line: string) => void;
}

/** What the demo saw, for the runner's summary and for tests. */
export interface DemoResult {
  receiptId: string;
  number: string;
  checkCode: string;
  status: string;
  agencySigned: boolean;
  supervised: boolean;
  deliveryKnown: boolean;
  deliveries: Array<{ channel: string; status: string }>;
  pickupUrl: string;
  pdfUrl?: string;
}

export class DemoFailed extends Error {}

type Json = Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const base = options.url.replace(/\/$/, "");
  const print = options.print ?? ((line: string) => console.log(line));
  const finance = options.finance ?? true;
  const secrets = join(resolve(options.dataDir), "secrets");
  const token = (await readFile(join(secrets, "internal-token"), "utf8")).trim();
  // The demo plays a person of the agency (a ticket manager who also sets the agency up). It runs on
  // the host that holds the gateway's assertion key, so it asserts that person the way the gateway
  // would for a signed-in user with these two roles.
  const signer = new AssertionSigner((await readFile(join(secrets, "assertion-key"), "utf8")).trim());
  const demoManager: AssertedIdentity = {
    actor: "demo.manager",
    kind: "person",
    agency: AGENCY,
    grants: (["system-admin", "ticket-manager"] as const).map((r) => ({
      permissions: BUILT_IN_ROLES[r].permissions,
      scope: "agency" as const,
    })),
  };

  async function manager(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        [ASSERTION_HEADER]: signer.sign(demoManager, { method, url: path }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Json };
  }

  /** A step that may already have been done by an earlier run of the demo (409 is fine). */
  async function step(title: string, method: string, path: string, body?: unknown): Promise<Json> {
    const res = await manager(method, path, body);
    const outcome =
      res.status < 300
        ? "done"
        : res.status === 409
          ? "already done"
          : `failed: ${res.status} ${JSON.stringify(res.body)}`;
    print(`  ${title.padEnd(46)} ${outcome}`);
    if (res.status >= 300 && res.status !== 409) throw new DemoFailed(`${title}: HTTP ${res.status}`);
    return res.body;
  }

  /** Polls `probe` until it returns a value; `dots` shows progress on one line. */
  async function until<T>(what: string, withinMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline)
        throw new DemoFailed(`${what}: nothing after ${Math.round(withinMs / 1000)} s`);
      await sleep(200);
    }
  }

  const segments = async () =>
    (await manager("GET", `/v1/stock/segments?agencyCode=${AGENCY}&billCode=${BILL}`)).body.items as Array<{
      id: string;
      status: string;
      startNumber: string;
      endNumber: string;
    }>;

  print(`Piaoju demo against ${base}\n`);
  print(`A ticket manager of agency ${AGENCY} prepares:`);
  await step(`bill kind ${BILL} (票据种类)`, "POST", "/v1/stock/bill-kinds", {
    agencyCode: AGENCY,
    billCode: BILL,
    name: "非税收入一般缴款书（电子）",
  });
  let held = await segments();
  if (held.length === 0 && finance) {
    await step(
      "申领: apply to finance for 10000 numbers",
      "POST",
      "/v1/finance-exchange/stock-applications",
      {
        agencyCode: AGENCY,
        billCode: BILL,
        quantity: 10000,
      },
    );
    held = await until(
      "the segment from finance (is finance configured? --no-finance skips it)",
      60_000,
      async () => {
        const items = await segments();
        return items.length > 0 ? items : undefined;
      },
    );
    print(`  ${`finance issued ${held[0]?.startNumber}-${held[0]?.endNumber}`.padEnd(46)} received`);
  } else if (held.length === 0) {
    held = [
      (await step("segment 0000000001-0000010000 (manual)", "POST", "/v1/stock/segments", {
        agencyCode: AGENCY,
        billCode: BILL,
        startNumber: "0000000001",
        endNumber: "0000010000",
      })) as (typeof held)[number],
    ];
  }
  const received = held.find((s) => s.status === "RECEIVED");
  if (received)
    await step("入库: confirm it into stock", "POST", `/v1/stock/segments/${received.id}/confirm`);
  else print(`  ${"segment in stock".padEnd(46)} already done`);
  await step("issuing point WIN-01 (开票点)", "POST", "/v1/issuance/issuing-points", {
    agencyCode: AGENCY,
    code: "WIN-01",
    name: "出入境大厅一号窗口",
  });
  await step("income item 001 护照工本费, 120.00 元", "POST", "/v1/issuance/items", {
    agencyCode: AGENCY,
    code: "001",
    name: "护照工本费",
    unit: "本",
    standardFen: 12000,
  });
  await step(
    "分发 rule: keep WIN-01 above 100 numbers",
    "PUT",
    `/v1/stock/distribution-rules/${AGENCY}/${BILL}/WIN-01`,
    {
      threshold: 100,
      batchSize: 200,
    },
  );
  const app = (await step("business system 出入境业务系统 → app id + secret", "POST", "/v1/gateway/apps", {
    name: "出入境业务系统",
    agencyCode: AGENCY,
    issuingPoints: ["WIN-01"],
  })) as { appId: string; appSecret: string };

  await until("WIN-01's numbers at the receipt service", 30_000, async () => {
    const runs = (
      await manager("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}&issuingPointCode=WIN-01`)
    ).body.items as unknown[];
    return runs.length > 0 ? true : undefined;
  });
  print("\nThe receipt service has WIN-01's numbers (over the bus).\n");

  const bizSerialNo = `CRJ-${new Date().toISOString().slice(0, 10).replaceAll("-", "")}-${randomUUID().slice(0, 8)}`;
  print(
    `The business system issues a receipt for payment ${bizSerialNo} (POST /api/v1/receipts, SM3-HMAC signed):`,
  );
  const res = await businessClient({ baseUrl: base, ...app })("POST", "/api/v1/receipts", {
    issuingPointCode: "WIN-01",
    billCode: BILL,
    bizSerialNo,
    payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
    items: [{ itemCode: "001", quantity: "1", amountFen: 12000 }],
    totalFen: 12000,
    payMode: "wechat",
    handlingPerson: "window-01",
  });
  const receipt = res.body as Json;
  print(
    `  HTTP ${res.status}: receipt ${String(receipt.billCode)}-${String(receipt.number)}, status ${String(receipt.status)}`,
  );
  if (res.status >= 300)
    throw new DemoFailed(`issuing the receipt: HTTP ${res.status} ${JSON.stringify(receipt)}`);
  const id = String(receipt.id);

  const pickupUrl = `${base}/h5/pickup`;
  if (!finance) {
    print(`\nWithout finance the receipt stays ${String(receipt.status)} (awaiting supervision).`);
    return {
      receiptId: id,
      number: String(receipt.number),
      checkCode: String(receipt.checkCode),
      status: String(receipt.status),
      agencySigned: false,
      supervised: false,
      deliveryKnown: false,
      deliveries: [],
      pickupUrl,
    };
  }

  print("\nFollowing it: agency SM2 signature (signing gateway) → finance supervision (监制) → ISSUED ...");
  let last = "";
  const status = await until("the receipt reaching ISSUED", options.issuedWithinMs ?? 180_000, async () => {
    const s = (await manager("GET", `/v1/receipts/${id}/status`)).body;
    if (s.status !== last) {
      last = String(s.status);
      print(`  status ${last}${s.reason ? ` (${String(s.reason)})` : ""}`);
    }
    if (s.status === "VOIDED") throw new DemoFailed(`the receipt was voided: ${String(s.reason ?? "")}`);
    return s.status === "ISSUED" ? s : undefined;
  });
  const deliveries = await until("delivery taking the receipt", 30_000, async () => {
    const d = await manager("GET", `/v1/delivery/receipts/${id}/deliveries`);
    return d.status === 200 ? (d.body.items as Array<{ channel: string; status: string }>) : undefined;
  });
  const found = await fetch(`${base}/h5/api/find`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      method: "check",
      billCode: BILL,
      number: receipt.number,
      checkCode: receipt.checkCode,
    }),
  });
  const pickupToken = ((await found.json()) as { items?: Array<{ token: string }> }).items?.[0]?.token;
  const pdfUrl = pickupToken ? `${base}/h5/api/receipts/${pickupToken}/pdf` : undefined;

  const result: DemoResult = {
    receiptId: id,
    number: String(receipt.number),
    checkCode: String(receipt.checkCode),
    status: String(status.status),
    agencySigned: status.agencySigned === true,
    supervised: status.supervised === true,
    deliveryKnown: true,
    deliveries: deliveries.map((d) => ({ channel: d.channel, status: d.status })),
    ...(pdfUrl ? { pdfUrl } : {}),
    pickupUrl,
  };
  const yes = (b: boolean) => (b ? "present" : "MISSING");
  print("");
  print("The receipt:");
  print(`  number            ${BILL}-${result.number}`);
  print(`  check code        ${result.checkCode}`);
  print(`  status            ${result.status}`);
  print(
    `  agency signature  ${yes(result.agencySigned)} (SM2 PKCS#7, signing gateway, local software device)`,
  );
  print(`  finance signature ${yes(result.supervised)} (监制 by the finance simulator)`);
  print(
    `  delivery          ${
      result.deliveries.length > 0
        ? result.deliveries.map((d) => `${d.channel} ${d.status}`).join(", ")
        : "recorded (no channel authorized for the agency: the payer picks it up on H5)"
    }`,
  );
  print(
    `  H5 pick-up page   ${pickupUrl}  (bill code ${BILL}, number ${result.number}, check code ${result.checkCode})`,
  );
  print(`  PDF               ${pdfUrl ?? "(not found on the pick-up API)"}`);
  print(`  trust list        ${base}/api/v1/trust  (the CA and finance certificate 查验 chains to)`);
  print(`\nOpenAPI of the business API: ${base}/api/docs`);
  return result;
}
