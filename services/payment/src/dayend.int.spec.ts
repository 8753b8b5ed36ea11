import { randomBytes, randomUUID } from "node:crypto";
import { type Envelope, topics } from "@piaoju/contracts";
import { openDatabase } from "@piaoju/persistence";
import { callerHeaders, startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { Keyring, Sealer } from "@piaoju/sealing";
import ExcelJS from "exceljs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type AlipayRig,
  startAlipayRig,
  startWechatRig,
  until,
  type WechatRig,
} from "../../../test/support/payment.ts";
import { type IssuancePlayer, playIssuance } from "../../../test/support/receipts.ts";
import { AlipayChannel } from "./adapters/alipay/alipay-channel.ts";
import { WechatChannel } from "./adapters/wechat/wechat-channel.ts";
import { makeContext } from "./app/context.ts";
import { type DayEndPolicy, runDayEnd } from "./app/dayend.ts";
import { createPaymentService } from "./main.ts";

const AGENCY = "230107";
const OPS = { "x-piaoju-actor": "ops.li", "x-piaoju-agencies": AGENCY };
/** Payments of the seeded day (the planted ones come on top); more with PIAOJU_RECON_PAYMENTS. */
const SIZE = Number(process.env.PIAOJU_RECON_PAYMENTS ?? 150);
const shanghaiDay = (at: Date) => new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);

/**
 * The proof of issue 14's day-end (日终): a day of payments across Alipay and WeChat Pay through
 * the whole service and the channel simulators, faults planted at the channels and in the
 * receipts (issuance played on the bus), the scheduled day-end run by the service's own clock
 * (moved here, no sleeps), and every planted fault found and classified — nothing else.
 */
describe.each(["cluster", "embedded"] as const)("scheduled day-end, three-way (%s)", (mode) => {
  let t: TestPlatform;
  let alipay: AlipayRig;
  let wechat: WechatRig;
  let player: IssuancePlayer;
  const events: Envelope[] = [];
  let stopWatch = async () => {};
  // The service's clock: real time while the day is seeded, moved past midnight for the day-end.
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const day = shanghaiDay(new Date());
  const at = (hms: string) => new Date(`${day}T${hms}+08:00`);
  const nextDay = shanghaiDay(new Date(at("12:00:00").getTime() + 86_400_000));
  const secretsKey = randomBytes(16).toString("hex");
  const moveTo = (when: Date) => {
    offsetMs = when.getTime() - Date.now();
  };

  beforeAll(async () => {
    alipay = await startAlipayRig();
    wechat = await startWechatRig();
    alipay.sim.faults.notifyDelayMs = 0;
    wechat.sim.faults.notifyDelayMs = 0;
    t = await startTestPlatform({
      mode,
      services: [createPaymentService({ clock })],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "app:police", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: secretsKey,
        PIAOJU_PAYMENT_POLL_MS: "100",
        PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS: "1500",
        // Nothing settles by query before the day-end: lost notifies and lost refund answers stay lost.
        PIAOJU_PAYMENT_FIRST_QUERY_MS: String(48 * 3_600_000),
        PIAOJU_PAYMENT_REFUND_RETRY_MS: String(30 * 3_600_000),
        PIAOJU_RECONCILE_AT: "02:00",
        PIAOJU_RECONCILE_RETRY_MS: String(10 * 60_000),
        PIAOJU_RECONCILE_RECEIPT_GRACE_MS: String(30 * 60_000),
      },
    });
    const watch = await t.probe.subscribe({
      group: `watch-${randomUUID().slice(0, 8)}`,
      topics: [topics.payment],
      handler: async (m) => {
        events.push(m.envelope);
      },
    });
    stopWatch = () => watch.stop();
    player = await playIssuance(t.probe, { clock, agencyCode: AGENCY });
    for (const [channel, rig] of [
      ["alipay", alipay],
      ["wechat", wechat],
    ] as const) {
      const res = await t.call(
        "PUT",
        `/v1/payment/channel-accounts/${channel}`,
        { agencyCode: AGENCY, ...rig.account },
        OPS,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
  });
  afterAll(async () => {
    await player?.stop();
    await stopWatch();
    await t?.stop();
    await alipay?.sim.close();
    await wechat?.sim.close();
  });

  const completed = () => events.filter((e) => e.type === "payment.PaymentCompleted").length;
  const create = async (serial: string, amountFen: number) => {
    const res = await t.call("POST", "/v1/payments", {
      agencyCode: AGENCY,
      bizSerialNo: serial,
      payer: { type: 1, code: "230102199003077778", name: "王五" },
      items: [{ itemCode: "FK01", quantity: "1", amountFen }],
      issuingPointCode: "JJ-01",
      billCode: "23010526",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return String(res.body.id);
  };
  const order = async (paymentId: string, channel: "alipay" | "wechat", amountFen: number, scene = "qr") => {
    const res = await t.call("POST", `/v1/payments/${paymentId}/orders`, {
      channel,
      scene,
      expectedAmountFen: amountFen,
      ...(scene === "wap" ? { payerIp: "203.0.113.9" } : {}),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    if (scene === "wap") await fetch(String(res.body.payTarget));
    return String(res.body.orderId);
  };
  const sim = (channel: "alipay" | "wechat") => (channel === "alipay" ? alipay.sim : wechat.sim);
  /** One payment paid at `when`; its notify as the channel's fault mode says. */
  const paid = async (serial: string, channel: "alipay" | "wechat", amountFen: number, when: Date) => {
    const id = await create(serial, amountFen);
    const orderId = await order(id, channel, amountFen);
    await sim(channel).pay(orderId, when);
    return { id, orderId, serial, amountFen };
  };
  const statusOf = async (id: string) => (await t.call("GET", `/v1/payments/${id}`)).body;
  const refund = async (id: string, amountFen: number, serial: string) => {
    const res = await t.call("POST", `/v1/payments/${id}/refunds`, {
      refundSerialNo: serial,
      amountFen,
      reason: "撤销处罚决定",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return String(res.body.refundId);
  };
  const refundStatus = async (id: string, refundId: string) =>
    ((await t.call("GET", `/v1/payments/${id}/refunds`)).body.items as Array<Record<string, unknown>>).find(
      (r) => r.refundId === refundId,
    )?.status;

  it("finds every planted fault of a seeded day, classified, and nothing else; once, retrying a statement not ready", async () => {
    const started = Date.now();
    // ---- the day: SIZE ordinary payments, alternating channels, spread over 08:00-20:00 ----
    const base = at("08:00:00").getTime();
    const spread = (12 * 3_600_000) / SIZE;
    const ordinary: Array<{ id: string; orderId: string; serial: string }> = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < SIZE; i = next++) {
        const channel = i % 2 === 0 ? "alipay" : "wechat";
        const amountFen = 5_000 + (i % 20) * 1_000;
        ordinary.push(await paid(`DAY-${i}`, channel, amountFen, new Date(base + i * spread)));
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    await until(() => completed() >= SIZE, 120_000);
    const seededMs = Date.now() - started;

    // ---- planted at the channels ----
    // Duplicate notify (Alipay and WeChat Pay): matched, not reported.
    for (const channel of ["alipay", "wechat"] as const) {
      sim(channel).faults.notify = "duplicate";
      const p = await paid(`DUPNOTIFY-${channel}`, channel, 20_000, at("09:30:00"));
      await until(async () => (await statusOf(p.id)).status === "PAID");
      sim(channel).faults.notify = "deliver";
    }
    // Lost notify: paid at the channel, nothing told here.
    const lost: Record<string, { id: string; orderId: string }> = {};
    for (const channel of ["alipay", "wechat"] as const) {
      sim(channel).faults.notify = "drop";
      lost[channel] = await paid(`LOST-${channel}`, channel, 20_000, at("14:00:00"));
      sim(channel).faults.notify = "deliver";
    }
    // The amount the channel books is not what it told us.
    const amount = {
      alipay: await paid("AMOUNT-alipay", "alipay", 20_000, at("13:00:00")),
      wechat: await paid("AMOUNT-wechat", "wechat", 20_000, at("13:00:00")),
    };
    await until(async () => (await statusOf(amount.wechat.id)).status === "PAID");
    await until(async () => (await statusOf(amount.alipay.id)).status === "PAID");
    alipay.sim.billFaults.amount.set(amount.alipay.orderId, "199.00");
    wechat.sim.billFaults.amount.set(amount.wechat.orderId, 19_900);
    // A trade only the channel knows.
    const foreign = {
      alipay: alipay.sim.plantTrade(alipay.account.accountId, "PFOREIGN0001", "50.00", at("16:00:00"))
        .outTradeNo,
      wechat: wechat.sim.plantTrade(wechat.account.accountId, "WFOREIGN0001", 5_000, at("16:00:00"))
        .outTradeNo,
    };
    // A duplicate payment: two orders of one notice paid, the second refunded automatically.
    const dupId = await create("DUPPAY", 20_000);
    const dupOrders = [await order(dupId, "alipay", 20_000), await order(dupId, "alipay", 20_000, "wap")];
    await Promise.all(dupOrders.map((o, i) => alipay.sim.pay(o, at(`11:00:0${i}`))));
    await until(async () => {
      const items = (await t.call("GET", `/v1/payments/${dupId}/refunds`)).body.items as Array<
        Record<string, unknown>
      >;
      return items.some((r) => r.kind === "DUPLICATE" && r.status === "REFUNDED");
    });
    // A partial refund (轧差退付) and a full one: red-flushed, the partial re-issued for the rest.
    const partial = await paid("PARTIAL", "alipay", 20_000, at("10:00:00"));
    const full = await paid("FULL", "alipay", 8_000, at("10:05:00"));
    await until(() => player.receiptOf("PARTIAL") && player.receiptOf("FULL"));
    const partialRefund = await refund(partial.id, 5_000, "RF-PARTIAL");
    const fullRefund = await refund(full.id, 8_000, "RF-FULL");
    await until(async () => (await refundStatus(partial.id, partialRefund)) === "REFUNDED");
    await until(async () => (await refundStatus(full.id, fullRefund)) === "REFUNDED");
    await until(() => player.receiptOf("PARTIAL-R1"));
    // A refund Alipay made whose answer never came back (the next try is a day away).
    const unanswered = await paid("REFUND-LOST", "alipay", 20_000, at("10:10:00"));
    await until(() => player.receiptOf("REFUND-LOST"));
    alipay.sim.faults.answerDelayMs = 4_000;
    alipay.sim.faults.answerDelayMethods.add("alipay.trade.refund");
    const lostRefund = await refund(unanswered.id, 6_000, "RF-LOST");
    await until(async () => alipay.sim.trade(unanswered.orderId)?.refunds.size === 1);
    await until(async () => (await refundStatus(unanswered.id, lostRefund)) === "SENT");
    await until(async () => {
      const items = (await t.call("GET", `/v1/payments/${unanswered.id}/refunds`)).body.items as Array<
        Record<string, unknown>
      >;
      return items.find((r) => r.refundId === lostRefund)?.lastError !== undefined; // timed out, unheard
    });
    alipay.sim.faults.answerDelayMs = 0;
    alipay.sim.faults.answerDelayMethods.clear();
    expect(await refundStatus(unanswered.id, lostRefund)).toBe("SENT");
    // Paid at 23:59:59, booked by Alipay on the next day: held, not a difference.
    const late = await paid("LATE", "alipay", 20_000, at("23:59:59"));
    alipay.sim.billFaults.bookedOn.set(late.orderId, nextDay);

    // ---- planted in the receipts ----
    player.skip.add("NORECEIPT");
    const noReceipt = await paid("NORECEIPT", "wechat", 20_000, at("15:00:00"));
    player.wrongBy.set("WRONGRECEIPT", 100);
    const wrongReceipt = await paid("WRONGRECEIPT", "alipay", 20_000, at("15:10:00"));
    const redOnly = await paid("REDONLY", "wechat", 20_000, at("15:20:00"));
    await until(() => player.receiptOf("WRONGRECEIPT") && player.receiptOf("REDONLY"));
    const strayReceipt = await player.issueForeign("NOT-A-PAYMENT", 30_000, at("15:30:00"));
    const strayRed = await player.redFlushWithoutRefund("REDONLY", at("15:40:00"));
    const redOnlyReceipt = player.receiptOf("REDONLY");
    // Every payment of the day receipted (all but the one left out and the lost-notify ones).
    await until(async () => (await statusOf(redOnly.id)).receipt !== undefined);
    await until(async () => (await statusOf(noReceipt.id)).status === "PAID");
    await until(async () => (await statusOf(wrongReceipt.id)).receipt !== undefined);

    // ---- the day-end: WeChat Pay's bill not published yet at 02:00 ----
    wechat.sim.billFaults.notReady.add(day);
    const steps = async () => {
      const res = await t.call(
        "GET",
        `/v1/payment/reconciliations/${day}/differences?agencyCode=${AGENCY}`,
        undefined,
        OPS,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.dayEnd as Array<{ leg: string; status: string; lastError?: string; attempts: number }>;
    };
    const step = async (leg: string) => (await steps()).find((s) => s.leg === leg);
    moveTo(new Date(`${nextDay}T01:59:00+08:00`));
    // Not due yet: nothing planned.
    await new Promise<void>((resolve) => setTimeout(resolve, 400));
    expect(await steps()).toEqual([]);
    const dayEndStarted = Date.now();
    moveTo(new Date(`${nextDay}T02:00:00+08:00`));
    await until(async () => (await step("alipay"))?.status === "DONE", 60_000);
    await until(async () => (await step("wechat"))?.lastError !== undefined);
    expect(await step("wechat")).toMatchObject({ status: "PENDING" });
    expect((await step("wechat"))?.lastError).toMatch(/STATEMENT_CREATING|账单生成中/);
    expect((await step("receipt"))?.status).toBe("PENDING"); // waits for the agency's channel steps
    // Published later; the retry (10 min later by the service's clock) takes it.
    wechat.sim.billFaults.notReady.delete(day);
    moveTo(new Date(`${nextDay}T02:11:00+08:00`));
    await until(async () => (await step("wechat"))?.status === "DONE", 60_000);
    // The repaired lost notifies' receipts come after them; the receipt step holds until its grace ends.
    await until(async () => (await statusOf(lost.alipay!.id)).receipt !== undefined);
    await until(async () => (await statusOf(lost.wechat!.id)).receipt !== undefined);
    await until(() => player.receiptOf("REFUND-LOST-R1"));
    moveTo(new Date(`${nextDay}T03:00:00+08:00`));
    await until(async () => (await step("receipt"))?.status === "DONE", 60_000);
    const dayEndMs = Date.now() - dayEndStarted;

    // ---- what it found ----
    const list = await t.call(
      "GET",
      `/v1/payment/reconciliations/${day}/differences?agencyCode=${AGENCY}`,
      undefined,
      OPS,
    );
    expect(list.status).toBe(200);
    const items = list.body.items as Array<Record<string, string | undefined>>;
    const found = items.map((d) => [
      d.channel,
      d.kind,
      d.resolution,
      d.orderId ?? d.receiptId ?? d.paymentId ?? d.refundId,
    ]);
    expect(found.map((f) => f.join(" ")).sort()).toEqual(
      [
        ["alipay", "LOST_NOTIFY", "REPAIRED", lost.alipay!.orderId],
        ["alipay", "LOST_NOTIFY", "REPAIRED", unanswered.orderId], // the refund's lost answer
        ["alipay", "AMOUNT", "OPEN", amount.alipay.orderId],
        ["alipay", "ONLY_AT_CHANNEL", "OPEN", foreign.alipay],
        ["alipay", "CROSS_DAY", "HELD", late.orderId],
        ["wechat", "LOST_NOTIFY", "REPAIRED", lost.wechat!.orderId],
        ["wechat", "AMOUNT", "OPEN", amount.wechat.orderId],
        ["wechat", "ONLY_AT_CHANNEL", "OPEN", foreign.wechat],
        ["receipt", "RECEIPT_MISSING", "OPEN", noReceipt.id],
        ["receipt", "RECEIPT_AMOUNT", "OPEN", player.receiptOf("WRONGRECEIPT")!.receiptId],
        ["receipt", "RECEIPT_WITHOUT_PAYMENT", "OPEN", strayReceipt.receiptId],
        ["receipt", "RED_FLUSH_WITHOUT_REFUND", "OPEN", strayRed.receiptId],
      ]
        .map((f) => f.join(" "))
        .sort(),
    );
    const lostRefundFinding = items.find((d) => d.kind === "LOST_NOTIFY" && d.orderId === unanswered.orderId);
    expect(lostRefundFinding).toMatchObject({ subject: "refund", refundId: lostRefund });
    expect(items.find((d) => d.kind === "RED_FLUSH_WITHOUT_REFUND")).toMatchObject({ paymentId: redOnly.id });
    expect(redOnlyReceipt).toBeDefined();
    expect(await refundStatus(unanswered.id, lostRefund)).toBe("REFUNDED");
    expect(alipay.sim.trade(unanswered.orderId)?.refunds.size).toBe(1);
    // Once: one step per agency × leg, each done, whatever the rounds since.
    expect((await steps()).map((s) => `${s.leg}:${s.status}`).sort()).toEqual([
      "alipay:DONE",
      "receipt:DONE",
      "wechat:DONE",
    ]);
    // Each channel reconciled once (WeChat Pay's first try failed before it matched anything).
    await until(() =>
      events.some(
        (e) => e.type === "payment.ChannelReconciled" && (e.data as { channel: string }).channel === "wechat",
      ),
    );
    const reconciled = events.filter(
      (e) =>
        e.type === "payment.ChannelReconciled" && (e.data as { businessDay: string }).businessDay === day,
    );
    expect(reconciled.map((e) => (e.data as { channel: string }).channel).sort()).toEqual([
      "alipay",
      "wechat",
    ]);
    await until(() =>
      events.some(
        (e) =>
          e.type === "payment.ReceiptsReconciled" &&
          (e.data as { businessDay: string; held: number }).held === 0,
      ),
    );
    await until(() => events.filter((e) => e.type === "payment.ReceiptDifferenceFound").length >= 4);

    // ---- the unified statement ----
    const statement = await t.call(
      "GET",
      `/v1/payment/statements/${day}?agencyCode=${AGENCY}`,
      undefined,
      OPS,
    );
    expect(statement.status).toBe(200);
    const totals = statement.body.totals as Array<Record<string, number | string>>;
    const entries = statement.body.entries as Array<Record<string, unknown>>;
    const byType = (type: string) => entries.filter((e) => e.type === type).length;
    // Orders paid here that day: SIZE, 2 notified twice, 2 lost (repaired), 2 amount, the duplicate's first,
    // partial, full, the lost refund's, 3 of the receipt faults, and the one at 23:59:59.
    expect(byType("payment")).toBe(SIZE + 2 + 2 + 2 + 1 + 3 + 3 + 1);
    expect(byType("duplicate")).toBe(1);
    expect(byType("refund")).toBe(4); // the duplicate's, partial, full, the lost answer's
    expect(entries.find((e) => e.orderId === amount.alipay.orderId)?.status).toBe("AMOUNT");
    expect(entries.find((e) => e.orderId === noReceipt.orderId)?.status).toBe("RECEIPT_MISSING");
    expect(entries.find((e) => e.orderId === ordinary[0]?.orderId)).toMatchObject({ status: "MATCHED" });
    expect(entries.find((e) => e.orderId === ordinary[0]?.orderId)?.receiptNumber).toMatch(/^\d{10}$/);
    const sum = (channel: string, type: string) =>
      entries
        .filter((e) => e.channel === channel && e.type === type)
        .reduce((s, e) => s + Number(e.amountFen), 0);
    for (const channel of ["alipay", "wechat"]) {
      const total = totals.find((x) => x.channel === channel)!;
      expect(total.collectedFen).toBe(sum(channel, "payment") + sum(channel, "duplicate"));
      expect(total.refundedFen).toBe(sum(channel, "refund"));
    }
    const csv = await download(t, `/v1/payment/statements/${day}?agencyCode=${AGENCY}&format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const bytes = Buffer.from(await csv.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.subarray(3).toString("utf8");
    expect(text).toContain("支付宝");
    expect(text.split("\r\n").filter((l) => l.includes(amount.alipay.orderId))[0]).toContain("AMOUNT");
    const xlsx = await download(t, `/v1/payment/statements/${day}?agencyCode=${AGENCY}&format=xlsx`);
    expect(xlsx.status).toBe(200);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(await xlsx.arrayBuffer());
    const sheet = book.getWorksheet("对账明细")!;
    expect(sheet.rowCount).toBe(2 + entries.length);
    expect(book.getWorksheet("渠道汇总")!.getRow(2).getCell(1).value).toBe("支付宝");

    // The summary, for the closing note: each leg's last run (its event) and its findings.
    const last = (leg: string) =>
      events
        .filter(
          (e) =>
            (e.type === "payment.ChannelReconciled" || e.type === "payment.ReceiptsReconciled") &&
            (e.data as { businessDay: string }).businessDay === day &&
            (e.type === "payment.ReceiptsReconciled"
              ? "receipt"
              : (e.data as { channel: string }).channel) === leg,
        )
        .at(-1)?.data as Record<string, number> | undefined;
    const rows = [["leg", "matched", "open", "repaired", "held", "collected", "refunded", "kinds"]];
    for (const leg of ["alipay", "wechat", "receipt"]) {
      const mine = items.filter((d) => d.channel === leg);
      const count = (r: string) => String(mine.filter((d) => d.resolution === r).length);
      const figures = last(leg);
      rows.push([
        leg,
        String(figures?.matched ?? "?"),
        count("OPEN"),
        count("REPAIRED"),
        count("HELD"),
        figures?.collectedFen === undefined ? "" : (figures.collectedFen / 100).toFixed(2),
        figures?.refundedFen === undefined ? "" : (figures.refundedFen / 100).toFixed(2),
        [...new Set(mine.map((d) => `${d.kind}`))].join(" "),
      ]);
    }
    console.log(
      `day-end ${day} (${mode}): ${SIZE} payments seeded in ${seededMs} ms, day-end ${dayEndMs} ms\n${rows.map((r) => r.map((c) => c.padEnd(12)).join("")).join("\n")}`,
    );
  }, 600_000);

  // A second replica on the same database (cluster mode: PostgreSQL, shared), its own context and clock.
  it.runIf(mode === "cluster")(
    "plans a day once and runs each step once with two replicas; takes up a crashed replica's step when its lease ends",
    async () => {
      const url = new URL(t.env.PIAOJU_DATABASE_URL ?? "");
      url.pathname = `/${t.env.PIAOJU_DATABASE_PREFIX}payment`;
      const db = await openDatabase({ kind: "postgres", url: url.toString() });
      const channels = [new AlipayChannel({ timeoutMs: 1500 }), new WechatChannel({ timeoutMs: 1500 })];
      const other = makeContext({
        db,
        clock,
        published: () => {},
        sealer: new Sealer(Keyring.parse(secretsKey)),
        sealKey: Buffer.from(secretsKey, "hex"),
        codeRule: { region: "230100", check: "iso7064-mod11-10" },
        channels: new Map(channels.map((c) => [c.name, c])),
        publicUrl: () => t.platform.url,
        firstQueryAfterMs: 48 * 3_600_000,
        orderTtlMs: 30 * 60_000,
      });
      const policy: DayEndPolicy = {
        atMinutes: 120,
        retryMs: 600_000,
        maxAttempts: 24,
        receiptGraceMs: 1_800_000,
        leaseMs: 600_000,
      };
      try {
        // The next day's day-end: the service's rounds and this replica race for it.
        moveTo(
          new Date(`${shanghaiDay(new Date(at("12:00:00").getTime() + 2 * 86_400_000))}T02:00:00+08:00`),
        );
        let mine = 0;
        for (let i = 0; i < 20; i++) mine += await runDayEnd(other, policy);
        const tasks = () =>
          db.query<{ leg: string; status: string; attempts: number }>(
            "SELECT leg, status, attempts FROM payment_dayend_task WHERE business_day = $1 ORDER BY leg",
            [nextDay],
          );
        await until(
          async () => (await tasks()).every((r) => r.status === "DONE") && (await tasks()).length === 3,
        );
        expect(await tasks()).toEqual([
          { leg: "alipay", status: "DONE", attempts: 1 },
          { leg: "receipt", status: "DONE", attempts: 1 },
          { leg: "wechat", status: "DONE", attempts: 1 },
        ]);
        const planned = await db.query("SELECT 1 FROM payment_dayend WHERE business_day = $1", [nextDay]);
        expect(planned).toHaveLength(1);
        await until(
          () =>
            events.filter(
              (e) =>
                e.type === "payment.ChannelReconciled" &&
                (e.data as { businessDay: string }).businessDay === nextDay,
            ).length >= 2,
        );
        expect(
          events
            .filter(
              (e) =>
                e.type === "payment.ChannelReconciled" &&
                (e.data as { businessDay: string }).businessDay === nextDay,
            )
            .map((e) => (e.data as { channel: string }).channel)
            .sort(),
        ).toEqual(["alipay", "wechat"]);
        expect(mine).toBeLessThanOrEqual(3);

        // A replica died in the middle of a step (its lease still runs), another's lease ran out.
        const now = clock();
        const old = "2026-01-15";
        await db.query(
          "INSERT INTO payment_dayend (business_day, planned_at, planned_by) VALUES ($1, $2, 'payment-dead')",
          [old, now],
        );
        for (const [leg, leaseUntil] of [
          ["alipay", new Date(now.getTime() - 1_000)],
          ["wechat", new Date(now.getTime() + 300_000)],
        ] as const) {
          await db.query(
            `INSERT INTO payment_dayend_task (business_day, agency_code, leg, status, attempts, next_at, lease_until, claimed_by)
               VALUES ($1, $2, $3, 'PENDING', 1, $4, $5, 'payment-dead')`,
            [old, AGENCY, leg, now, leaseUntil],
          );
        }
        await until(async () => {
          const [row] = await db.query<{ status: string }>(
            "SELECT status FROM payment_dayend_task WHERE business_day = $1 AND leg = 'alipay'",
            [old],
          );
          return row?.status === "DONE";
        });
        const [held] = await db.query<{ status: string; attempts: number }>(
          "SELECT status, attempts FROM payment_dayend_task WHERE business_day = $1 AND leg = 'wechat'",
          [old],
        );
        expect(held).toEqual({ status: "PENDING", attempts: 1 });
      } finally {
        await db.close();
      }
    },
    120_000,
  );
});

/** A file download as an operator (t.call reads JSON). */
function download(t: TestPlatform, path: string): Promise<Response> {
  return fetch(`${t.platform.url}${path}`, {
    headers: { authorization: `Bearer ${t.env.PIAOJU_INTERNAL_TOKEN}`, ...callerHeaders(OPS, "GET", path) },
  });
}
