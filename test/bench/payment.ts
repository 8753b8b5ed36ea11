// pnpm bench:payment — payments collected end to end through the channel simulators, on the
// embedded platform (issue 13's proof: payments/s at 300 concurrent payers, beside the HTTP floor).
//
// Embedded: `./piaoju start --no-demo` as a child process (every service, PGlite, the embedded bus,
// two software signing devices, the finance simulator) on a new temporary data folder; the Alipay,
// WeChat Pay and UnionPay simulators (services/channel-simulator, merchants made at run time by
// test/support/channel-rigs.ts) and the business system's callback receiver in this process. The
// bench sets the agency up (stock, issuing points, the fine's income items, a business app, the
// three merchant accounts, the callback target), then --payers payers, --concurrency at once,
// channels in turn, each the real way:
//   1. the internet service platform asks for the payment (POST /api/v1/payments, signed): the
//      notice, its payment code, the cashier's link (qrUrl);
//   2. the payer opens the cashier (its page and GET /h5/pay/api/:token) and chooses the channel
//      (POST /h5/pay/api/:token/orders): the H5 order placed through the real SDK path;
//   3. the payer goes through the channel's pay pages (payOnChannelPages: Alipay WAP, WeChat Pay
//      H5, UnionPay's gateway through our hand-over page) and back to the cashier; the simulator
//      notifies the payment service (signed, WeChat Pay's encrypted);
//   4. the payer's page polls the cashier (every 2.5 s, as cashier.js does) until PAID and the
//      receipt's pick-up link: issuance issued the receipt (即缴即开; agency-signed and supervised).
// Figures: payments/s and receipts ISSUED/s (first notice to the last), p50/p99 from the notice to
// the payment completed and to the receipt ISSUED (from the services' own databases, read after
// the platform stopped), each beside floors measured in the same run: the gateway's /healthz at
// the same concurrency and PGlite INSERTs at the same concurrency. Counts, from the databases:
// every payer's payment PAID once (one completion, one paid order, no anomaly), one receipt
// ISSUED per payment for its amount, none lost, none duplicated; and the pushes to the business
// system. Bounded: --payers and --timeout seconds for the load phase.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openDatabase } from "@piaoju/persistence";
import { Pool } from "undici";
import {
  payOnChannelPages,
  startAlipayRig,
  startCallbackReceiver,
  startUnionpayRig,
  startWechatRig,
} from "../support/channel-rigs.ts";
import {
  cpuReport,
  cpuTree,
  drive,
  line,
  ms,
  pgliteFloor,
  quantile,
  type Run,
  rateOf,
  sleep,
} from "./measure.ts";
import {
  businessCaller,
  internalCaller,
  type Platform,
  prepareBenchAgency,
  startEmbedded,
  stopPlatform,
} from "./platform.ts";

const { values } = parseArgs({
  options: {
    payers: { type: "string", default: "300" },
    concurrency: { type: "string", default: "300" },
    points: { type: "string", default: "5" },
    channels: { type: "string", default: "alipay,wechat,unionpay" },
    timeout: { type: "string", default: "600" },
    "start-timeout": { type: "string", default: "120" },
  },
});
const PAYERS = Number(values.payers);
const CONCURRENCY = Math.min(Number(values.concurrency), PAYERS);
const POINTS = Number(values.points);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const CHANNELS = values.channels.split(",").map((c) => c.trim()) as Array<"alipay" | "wechat" | "unionpay">;
const AGENCY = "110101";
const BILL = "11010126";
const FINE_FEN = 20000;
/** How often the cashier page asks again while it waits for PAID and the receipt (cashier.js). */
const PAGE_POLL_MS = 2500;
const CALLBACK_SECRET = `bench-${randomUUID()}`;
if (!(PAYERS > 0 && CONCURRENCY > 0 && POINTS > 0 && TIMEOUT_MS > 0)) {
  console.error("--payers, --concurrency, --points and --timeout are positive numbers");
  process.exit(2);
}
for (const c of CHANNELS) {
  if (!["alipay", "wechat", "unionpay"].includes(c)) {
    console.error(`--channels: ${c} is not one of alipay, wechat, unionpay`);
    process.exit(2);
  }
}

/** Whole-machine CPU (every process, other users' too) from /proc/stat: busy and total ticks. */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((s, v) => s + v, 0);
  return { busy: total - idle, total };
}

/** What one payer went through, in performance.now() milliseconds (undefined: not reached). */
interface Payer {
  serial: string;
  channel: string;
  started: number;
  created?: number;
  ordered?: number;
  back?: number;
  seenPaid?: number;
  seenReceipt?: number;
  paymentId?: string;
  amountFen?: number;
  error?: string;
}

const dataDir = mkdtempSync(join(tmpdir(), "piaoju-bench-payment-"));
let platform: Platform | undefined;
let pool: Pool | undefined;
const rigs = await Promise.all([startAlipayRig(), startWechatRig(), startUnionpayRig()]);
const [alipay, wechat, unionpay] = rigs;
const receiver = await startCallbackReceiver(CALLBACK_SECRET);
try {
  console.log(
    `payment bench (embedded): ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        " ",
      )}; ${PAYERS} payers, ${CONCURRENCY} at once, channels ${CHANNELS.join(", ")}, ${POINTS} issuing points`,
  );
  process.stdout.write("  ./piaoju start --no-demo on a new data folder … ");
  platform = await startEmbedded(dataDir, {
    startTimeoutS: Number(values["start-timeout"]),
    // Every payer comes from this one loopback address, where each phone has its own: the
    // cashier's per-address budget (120/min) would measure the limiter, not the platform.
    env: { PIAOJU_CASHIER_RATE_LIMIT: String(1_000_000) },
  });
  console.log(`ready in ${(platform.readyMs / 1000).toFixed(1)} s at ${platform.url}`);
  pool = new Pool(platform.url, { connections: CONCURRENCY, pipelining: 1 });
  const http = pool;
  const asManager = internalCaller(http, dataDir, {
    actor: "bench.manager",
    agency: AGENCY,
    roles: ["system-admin", "ticket-manager"],
  });

  process.stdout.write("  setting up the agency (申领, 入库, 分发, items, app, merchant accounts) … ");
  const tSetup = performance.now();
  const points = Array.from({ length: POINTS }, (_, p) => `JJ-${String(p + 1).padStart(2, "0")}`);
  const warmups = CHANNELS.length;
  const app = await prepareBenchAgency(asManager, {
    agency: AGENCY,
    bill: BILL,
    points,
    perPoint: Math.ceil((PAYERS + warmups) / POINTS) + 10,
    items: [
      { code: "FK01", name: "交通违法罚款", unit: "次", standardFen: null },
      { code: "FK02", name: "加处罚款", unit: "次", standardFen: null },
    ],
    appName: "互联网交通安全综合服务管理平台 (bench)",
  });
  await asManager("PUT", "/v1/payment/channel-accounts/alipay", { agencyCode: AGENCY, ...alipay.account });
  await asManager("PUT", "/v1/payment/channel-accounts/wechat", { agencyCode: AGENCY, ...wechat.account });
  await asManager("PUT", "/v1/payment/channel-accounts/unionpay", {
    agencyCode: AGENCY,
    ...unionpay.account,
  });
  const business = businessCaller(http, app);
  const target = await business("PUT", "/api/v1/payments/callback-target", {
    url: receiver.url,
    secret: CALLBACK_SECRET,
  });
  if (target.status !== 200)
    throw new Error(`callback target: ${target.status} ${JSON.stringify(target.body)}`);
  console.log(`${((performance.now() - tSetup) / 1000).toFixed(1)} s`);

  const runTag = randomUUID().slice(0, 8).toUpperCase();
  const cashier = async (method: "GET" | "POST", path: string, body?: unknown) => {
    const res = await http.request({
      method,
      path,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  };

  /** One payer, the whole way; resolves when the cashier shows the receipt, or at `deadline`. */
  const pay = async (p: Payer, i: number, deadline: number): Promise<void> => {
    // Every other payer is past the decision's deadline: the amount due carries the 加处罚款.
    const late = i % 2 === 1;
    const deadlineDay = new Date(Date.now() + (late ? -10 : 30) * 86_400_000).toISOString().slice(0, 10);
    const created = await business("POST", "/api/v1/payments", {
      bizSerialNo: p.serial,
      decisionNo: `${AGENCY}${String(i).padStart(10, "0")}`,
      payer: { type: 1, code: "11010519491231002X", name: "张三", phone: "13800138000" },
      items: [{ itemCode: "FK01", quantity: "1", amountFen: FINE_FEN }],
      surcharge: { fineItemCode: "FK01", deadline: deadlineDay, itemCode: "FK02" },
      issuingPointCode: points[i % POINTS],
      billCode: BILL,
    });
    if (created.status !== 201)
      throw new Error(`POST /api/v1/payments: ${created.status} ${JSON.stringify(created.body)}`);
    p.created = performance.now();
    p.paymentId = String(created.body.id);
    const qrUrl = String(created.body.qrUrl);
    const token = new URL(qrUrl).pathname.split("/").pop()!;
    // The payer opens the link: the page, then its view of the notice.
    const page = await cashier("GET", `/h5/pay/${token}`);
    if (page.status !== 200) throw new Error(`GET the cashier page: ${page.status}`);
    const view = await cashier("GET", `/h5/pay/api/${token}`);
    if (view.status !== 200) throw new Error(`GET the cashier's view: ${view.status} ${view.text}`);
    const due = (JSON.parse(view.text) as { amountDue: { totalFen: number } }).amountDue.totalFen;
    p.amountFen = due;
    const order = await cashier("POST", `/h5/pay/api/${token}/orders`, {
      channel: p.channel,
      expectedAmountFen: due,
    });
    if (order.status !== 201) throw new Error(`POST the cashier's order: ${order.status} ${order.text}`);
    p.ordered = performance.now();
    await payOnChannelPages(String((JSON.parse(order.text) as { payUrl: string }).payUrl), qrUrl);
    p.back = performance.now();
    // Back on the cashier: the page follows the payment until the receipt's link shows.
    for (;;) {
      const v = await cashier("GET", `/h5/pay/api/${token}`);
      if (v.status !== 200) throw new Error(`GET the cashier's view: ${v.status} ${v.text}`);
      const seen = JSON.parse(v.text) as { status: string; receipt?: { pickupUrl?: string } };
      if (seen.status === "PAID") p.seenPaid ??= performance.now();
      if (seen.receipt?.pickupUrl) {
        p.seenReceipt = performance.now();
        return;
      }
      if (performance.now() + PAGE_POLL_MS > deadline)
        throw new Error(`still ${seen.status} at the deadline`);
      await sleep(PAGE_POLL_MS);
    }
  };

  // Warm-up, one payer per channel (the agency's development signing key is made on first use,
  // each SDK's first call): not measured, not counted with the payers.
  process.stdout.write(`  warm-up: one payer per channel to the receipt … `);
  const tWarm = performance.now();
  await Promise.all(
    CHANNELS.map((channel, c) =>
      pay(
        { serial: `PAY-${runTag}-WARM-${c}`, channel, started: performance.now() },
        PAYERS + c,
        performance.now() + 180_000,
      ),
    ),
  );
  console.log(`${((performance.now() - tWarm) / 1000).toFixed(1)} s`);

  // Floors, at the payers' concurrency.
  process.stdout.write("  floors … ");
  const floorCount = Math.max(2000, PAYERS * 4);
  const healthz = await drive("gateway /healthz (floor)", floorCount, CONCURRENCY, async () => {
    const res = await http.request({ method: "GET", path: "/healthz" });
    await res.body.dump();
    return res.statusCode === 200 || `HTTP ${res.statusCode}`;
  });
  const pglite = await pgliteFloor(floorCount, CONCURRENCY);
  console.log("done");

  // The payers.
  console.log(`  ${PAYERS} payers, ${CONCURRENCY} at once:`);
  const payers: Payer[] = Array.from({ length: PAYERS }, (_, i) => ({
    serial: `PAY-${runTag}-${String(i).padStart(6, "0")}`,
    channel: CHANNELS[i % CHANNELS.length]!,
    started: 0,
  }));
  const cpuBefore = cpuTree(platform.child.pid!);
  const benchCpuBefore = process.cpuUsage();
  const machineBefore = machineTicks();
  const tLoad = performance.now();
  const deadline = tLoad + TIMEOUT_MS;
  const progress = setInterval(() => {
    const n = (f: (p: Payer) => unknown) => payers.filter(f).length;
    console.log(
      `    +${((performance.now() - tLoad) / 1000).toFixed(0).padStart(4)} s  notices ${n((p) => p.created)}, orders ${n((p) => p.ordered)}, paid at the channel ${n((p) => p.back)}, cashier shows PAID ${n((p) => p.seenPaid)}, receipt ${n((p) => p.seenReceipt)}, failed ${n((p) => p.error)}  (load ${loadavg()[0]!.toFixed(1)})`,
    );
  }, 5000);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < PAYERS; i = next++) {
        const p = payers[i]!;
        if (performance.now() > deadline) {
          p.error = "not started before the deadline";
          continue;
        }
        p.started = performance.now();
        await pay(p, i, deadline).catch((e: unknown) => {
          p.error = String(e instanceof Error ? e.message : e);
        });
      }
    }),
  );
  clearInterval(progress);
  const tDone = performance.now();
  const wall = (tDone - tLoad) / 1000;
  const cpuAfter = cpuTree(platform.child.pid!);
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const machineAfter = machineTicks();
  const loadAfter = loadavg();

  // The business system's pushes (sent by the background round, retried): paid and receiptIssued.
  const pushed = (event: string) =>
    new Set(
      [...receiver.received.values()]
        .filter((x) => x.body.event === event && String(x.body.bizSerialNo).startsWith(`PAY-${runTag}-0`))
        .map((x) => String(x.body.paymentId)),
    );
  const done = payers.filter((p) => p.seenReceipt).length;
  await Promise.race([
    (async () => {
      while (pushed("payment.receiptIssued").size < done || pushed("payment.paid").size < done)
        await sleep(200);
    })(),
    sleep(30_000),
  ]);
  const pushes = {
    paid: pushed("payment.paid").size,
    receiptIssued: pushed("payment.receiptIssued").size,
    tries: receiver.tries,
    badSignatures: receiver.badSignatures,
  };
  const channelBadSignatures =
    alipay.sim.badSignatures + wechat.sim.badSignatures + unionpay.sim.badSignatures;

  // The platform stops (drained, flushed); then the services' own databases are read.
  process.stdout.write("  stopping the platform, reading the payment and issuance databases … ");
  await pool.close();
  pool = undefined;
  await stopPlatform(platform.child);
  const paymentDb = await openDatabase({ kind: "pglite", dataDir: join(dataDir, "payment", "pg") });
  const like = `PAY-${runTag}-0%`;
  const paymentRows = await paymentDb.query<{
    id: string;
    biz_serial_no: string;
    status: string;
    paid_fen: string | number | null;
    created_at: Date;
    completions: string | number;
    completed_at: Date | null;
    paid_orders: string | number;
    anomalies: string | number;
    orders: string | null;
  }>(
    `SELECT p.id, p.biz_serial_no, p.status, p.paid_fen, p.created_at,
       (SELECT count(*) FROM audit_log a WHERE a.subject = 'payment:' || p.id AND a.action = 'payment.complete') AS completions,
       (SELECT min(a.occurred_at) FROM audit_log a WHERE a.subject = 'payment:' || p.id AND a.action = 'payment.complete') AS completed_at,
       (SELECT count(*) FROM payment_order o WHERE o.payment_id = p.id AND o.status = 'PAID') AS paid_orders,
       (SELECT count(*) FROM payment_anomaly x WHERE x.payment_id = p.id) AS anomalies,
       (SELECT string_agg(o.channel || ':' || o.id, ',') FROM payment_order o WHERE o.payment_id = p.id) AS orders
     FROM payment p WHERE p.agency_code = $1 AND p.biz_serial_no LIKE $2`,
    [AGENCY, like],
  );
  const notifies = await paymentDb.query<{
    channel: string;
    outcome: string;
    verified: boolean;
    n: string | number;
  }>(
    `SELECT n.channel, n.outcome, n.verified, count(*) AS n FROM channel_notify n
       JOIN payment_order o ON o.id = n.order_id JOIN payment p ON p.id = o.payment_id
     WHERE p.biz_serial_no LIKE $1 GROUP BY n.channel, n.outcome, n.verified ORDER BY 1, 4 DESC`,
    [like],
  );
  await paymentDb.close();
  const issuanceDb = await openDatabase({ kind: "pglite", dataDir: join(dataDir, "issuance", "pg") });
  const receiptRows = await issuanceDb.query<{
    biz_serial_no: string;
    status: string;
    total_fen: string | number;
    issued_at: Date | null;
  }>(
    `SELECT biz_serial_no, status, total_fen, GREATEST(agency_signed_at, supervised_at) AS issued_at
     FROM receipt WHERE agency_code = $1 AND biz_serial_no LIKE $2 AND kind = 'BLUE'`,
    [AGENCY, like],
  );
  await issuanceDb.close();
  console.log("done\n");

  // Counts
  const bySerial = new Map<string, typeof paymentRows>();
  for (const r of paymentRows) bySerial.set(r.biz_serial_no, [...(bySerial.get(r.biz_serial_no) ?? []), r]);
  const receiptsBySerial = new Map<string, typeof receiptRows>();
  for (const r of receiptRows)
    receiptsBySerial.set(r.biz_serial_no, [...(receiptsBySerial.get(r.biz_serial_no) ?? []), r]);
  /** How many of a payment's orders the channels say took the money (the simulators' own books). */
  const takenAtChannels = (orders: string | null) =>
    (orders ?? "")
      .split(",")
      .filter(Boolean)
      .filter((o) => {
        const [channel, id] = o.split(":") as [string, string];
        if (channel === "alipay") return alipay.sim.trade(id)?.status === "TRADE_SUCCESS";
        if (channel === "wechat") return ["SUCCESS", "REFUND"].includes(wechat.sim.trade(id)?.state ?? "");
        return unionpay.sim.trade(id)?.state === "PAID";
      }).length;
  let paidOnce = 0;
  let lost = 0;
  let notPaid = 0;
  let duplicated = 0;
  let issuedRight = 0;
  const paidLatency: number[] = [];
  const issuedLatency: number[] = [];
  let firstNotice = Number.POSITIVE_INFINITY;
  let lastPaid = 0;
  let lastIssued = 0;
  for (const p of payers) {
    const rows = bySerial.get(p.serial) ?? [];
    const receipts = receiptsBySerial.get(p.serial) ?? [];
    const row = rows[0];
    const taken = rows.reduce((n, r) => n + takenAtChannels(r.orders), 0);
    const twice =
      taken > 1 ||
      rows.length > 1 ||
      receipts.length > 1 ||
      rows.some((r) => Number(r.completions) > 1 || Number(r.paid_orders) > 1 || Number(r.anomalies) > 0);
    if (twice) duplicated++;
    else if (
      taken === 1 &&
      row?.status === "PAID" &&
      Number(row.completions) === 1 &&
      Number(row.paid_orders) === 1 &&
      Number(row.anomalies) === 0
    )
      paidOnce++;
    // Money a channel took that did not complete the payment here once: lost.
    else if (taken > 0) lost++;
    // The payer's attempt ended before any channel took money (an error, the deadline).
    else notPaid++;
    const receipt = receipts[0];
    if (
      receipts.length === 1 &&
      receipt?.status === "ISSUED" &&
      row &&
      Number(receipt.total_fen) === Number(row.paid_fen)
    )
      issuedRight++;
    if (row?.completed_at) {
      const created = new Date(row.created_at).getTime();
      const completed = new Date(row.completed_at).getTime();
      firstNotice = Math.min(firstNotice, created);
      lastPaid = Math.max(lastPaid, completed);
      paidLatency.push(completed - created);
      if (receipt?.status === "ISSUED" && receipt.issued_at) {
        const issued = new Date(receipt.issued_at).getTime();
        lastIssued = Math.max(lastIssued, issued);
        issuedLatency.push(issued - created);
      }
    }
  }
  const extraPayments = [...bySerial.keys()].filter((s) => !payers.some((p) => p.serial === s)).length;
  const failures = payers.filter((p) => p.error);
  paidLatency.sort((a, b) => a - b);
  issuedLatency.sort((a, b) => a - b);
  const paidRun: Run = {
    label: "payments completed",
    count: paidLatency.length,
    seconds: (lastPaid - firstNotice) / 1000,
    failures: PAYERS - paidOnce,
    latencies: paidLatency,
  };
  const issuedRun: Run = {
    label: "receipts ISSUED",
    count: issuedLatency.length,
    seconds: (lastIssued - firstNotice) / 1000,
    failures: PAYERS - issuedRight,
    latencies: issuedLatency,
  };
  const seen = payers.filter((p) => p.seenReceipt !== undefined && p.created !== undefined);
  const observed = seen.map((p) => p.seenReceipt! - p.created!).sort((a, b) => a - b);
  const channelPages = payers
    .filter((p) => p.back !== undefined && p.ordered !== undefined)
    .map((p) => p.back! - p.ordered!)
    .sort((a, b) => a - b);
  const cashierToOrder = payers
    .filter((p) => p.ordered !== undefined && p.created !== undefined)
    .map((p) => p.ordered! - p.created!)
    .sort((a, b) => a - b);

  const hz = healthz.latencies.slice().sort((a, b) => a - b);
  const ratio = (run: Run, floor: Run) => `${(rateOf(run) / rateOf(floor)).toFixed(4)}x of ${floor.label}`;
  console.log("figures (each beside its floor, measured in this run):");
  console.log(line(healthz));
  console.log(line(pglite));
  console.log(
    `  ${"payments completed, end to end".padEnd(34)} ${rateOf(paidRun).toFixed(1).padStart(8)}/s  (${paidRun.count} from the first notice to the last completion, ${paidRun.seconds.toFixed(1)} s)  ${ratio(paidRun, healthz)}  ${ratio(paidRun, pglite)}`,
  );
  console.log(
    `  ${"receipts ISSUED, end to end".padEnd(34)} ${rateOf(issuedRun).toFixed(1).padStart(8)}/s  (${issuedRun.count} from the first notice to the last ISSUED, ${issuedRun.seconds.toFixed(1)} s)  ${ratio(issuedRun, healthz)}  ${ratio(issuedRun, pglite)}`,
  );
  const lat = (label: string, sorted: number[]) =>
    `  ${label.padEnd(34)} p50 ${ms(quantile(sorted, 0.5)).padStart(10)} (${(quantile(sorted, 0.5) / quantile(hz, 0.5)).toFixed(0)}x /healthz p50)  p99 ${ms(quantile(sorted, 0.99)).padStart(10)} (${(quantile(sorted, 0.99) / quantile(hz, 0.99)).toFixed(0)}x /healthz p99)  n ${sorted.length}`;
  console.log(lat("notice → payment completed", paidLatency));
  console.log(lat("notice → receipt ISSUED", issuedLatency));
  console.log(lat("notice → order placed (cashier)", cashierToOrder));
  console.log(lat("the channel's pay pages and back", channelPages));
  console.log(lat(`notice → receipt on the cashier`, observed));
  console.log(
    `    (the cashier is polled every ${PAGE_POLL_MS / 1000} s as cashier.js does: this one is the payer's wait)`,
  );

  console.log("\ncounts (from the payment and issuance databases):");
  console.log(
    `  payers ${PAYERS}: paid once ${paidOnce}, lost ${lost} (taken at a channel, not completed here once), duplicated ${duplicated}, not paid ${notPaid} (the attempt failed before a channel took money); payments under no payer's serial ${extraPayments}`,
  );
  console.log(`  receipts ISSUED for the amount paid, one per payment: ${issuedRight} of ${PAYERS}`);
  console.log(
    `  notifies taken for these payments: ${notifies.map((n) => `${n.channel} ${n.outcome}${n.verified ? "" : " (unverified)"} ${n.n}`).join(", ") || "none"} (a channel sends again what was not answered in time); channel requests with a bad signature ${channelBadSignatures}`,
  );
  console.log(
    `  pushed to the business system: payment.paid ${pushes.paid}, payment.receiptIssued ${pushes.receiptIssued} (${pushes.tries} tries, ${pushes.badSignatures} bad signatures)`,
  );
  console.log(`  payers that failed or timed out: ${failures.length}`);
  for (const f of failures.slice(0, 5))
    console.log(`    ${f.serial} (${f.channel}): ${f.error?.slice(0, 300)}`);

  const busy = (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total);
  let platformCpu = 0;
  for (const [k, v] of cpuAfter) if (k.startsWith("platform")) platformCpu += v - (cpuBefore.get(k) ?? 0);
  const benchSeconds = (benchCpu.user + benchCpu.system) / 1e6;
  console.log(`\nmachine during the payers (${wall.toFixed(1)} s):`);
  console.log(
    `  load average ${loadAfter.map((l) => l.toFixed(1)).join(" ")} after; the ${cpus().length} cores ${(busy * 100).toFixed(0)} % busy (every process on the machine)`,
  );
  console.log(
    `  this process (payers, the three channel simulators, the callback receiver) ${((benchSeconds / wall) * 100).toFixed(0)} % of a core`,
  );
  for (const l of cpuReport(cpuBefore, cpuAfter, wall)) console.log(l);
  console.log(
    `  platform CPU per payment ${paidRun.count ? ((platformCpu / paidRun.count) * 1000).toFixed(1) : "-"} ms (less load-dependent than the rates on a shared machine)`,
  );
  if (paidOnce !== PAYERS || issuedRight !== PAYERS || duplicated > 0 || extraPayments > 0)
    process.exitCode = 1;
} finally {
  await pool?.close().catch(() => {});
  if (platform) await stopPlatform(platform.child);
  for (const rig of rigs) await rig.sim.close().catch(() => {});
  await receiver.stop().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
}
