import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { businessClient } from "@piaoju/gateway/signing";

/**
 * Shows a running Piaoju working, end to end, as an agency would use it:
 *   pnpm demo [--url http://127.0.0.1:8080] [--data-dir .data]
 * A ticket manager registers a bill kind, takes a segment from finance into stock (入库)
 * and sets a distribution rule (分发); the receipt service learns the numbers over the bus;
 * a business system registered with the gateway issues a receipt with a signed request.
 */
const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:8080" },
    "data-dir": { type: "string", default: ".data" },
  },
});
const base = values.url;
const token = (await readFile(join(resolve(values["data-dir"]), "secrets", "internal-token"), "utf8")).trim();
const AGENCY = "110101";
const BILL = "11010126";

async function manager(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      "x-piaoju-actor": "demo.manager",
      "x-piaoju-agencies": AGENCY,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A step that may already have been done by an earlier run of the demo (409 is fine). */
async function step(title: string, method: string, path: string, body?: unknown) {
  const res = await manager(method, path, body);
  const outcome =
    res.status < 300
      ? "done"
      : res.status === 409
        ? "already done"
        : `failed: ${res.status} ${JSON.stringify(res.body)}`;
  console.log(`  ${title.padEnd(46)} ${outcome}`);
  if (res.status >= 300 && res.status !== 409) process.exit(1);
  return res.body;
}

console.log(`Piaoju demo against ${base}\n`);
console.log("A ticket manager of agency 110101 prepares:");
await step("bill kind 11010126 (票据种类)", "POST", "/v1/stock/bill-kinds", {
  agencyCode: AGENCY,
  billCode: BILL,
  name: "非税收入一般缴款书（电子）",
});
const segments = (await manager("GET", `/v1/stock/segments?agencyCode=${AGENCY}&billCode=${BILL}`)).body
  .items as Array<{ id: string; status: string }>;
if (segments.length === 0) {
  const segment = await step("segment 0000000001-0000010000 from finance", "POST", "/v1/stock/segments", {
    agencyCode: AGENCY,
    billCode: BILL,
    startNumber: "0000000001",
    endNumber: "0000010000",
  });
  await step("入库: confirm it into stock", "POST", `/v1/stock/segments/${String(segment.id)}/confirm`);
} else {
  console.log(`  ${"segment in stock".padEnd(46)} already done`);
}
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

process.stdout.write("\nThe receipt service receives WIN-01's numbers over the bus ");
for (let i = 0; ; i++) {
  const runs = (await manager("GET", `/v1/issuance/number-runs?agencyCode=${AGENCY}&issuingPointCode=WIN-01`))
    .body.items as unknown[];
  if (runs.length > 0) break;
  if (i > 200) throw new Error("no numbers reached the receipt service");
  process.stdout.write(".");
  await new Promise((r) => setTimeout(r, 50));
}
console.log(" ok\n");

const bizSerialNo = `CRJ-${new Date().toISOString().slice(0, 10).replaceAll("-", "")}-${randomUUID().slice(0, 8)}`;
console.log(
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
const receipt = res.body;
console.log(`  HTTP ${res.status}`);
console.log(JSON.stringify(receipt, null, 2).replace(/^/gm, "  "));
if (res.status >= 300) process.exit(1);
const doc = await fetch(`${base}/v1/receipts/${String(receipt.id)}/document`, {
  headers: {
    authorization: `Bearer ${token}`,
    "x-piaoju-actor": "demo.manager",
    "x-piaoju-agencies": AGENCY,
  },
});
console.log(
  `\nIts document (the bytes the agency's SM2 signature will cover):\n${(await doc.text()).replace(/^/gm, "  ")}`,
);
console.log(`\nOpenAPI of the business API: ${base}/api/docs`);
