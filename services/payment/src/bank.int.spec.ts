import { randomBytes } from "node:crypto";
import type { Envelope } from "@piaoju/contracts";
import { decodeEvent } from "@piaoju/contracts";
import { businessDay } from "@piaoju/locale";
import { startTestPlatform, type TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type BankRig, startBankRig } from "../../../test/support/bank.ts";
import {
  type AlipayRig,
  startAlipayRig,
  startCallbackReceiver,
  startNontaxPeer,
  startPaymentTestPlatform,
  until,
} from "../../../test/support/payment.ts";
import { paymentService } from "./main.ts";

const AGENCY = "230101";
const APP = "police-business";
const ALIPAY_SETTLEMENT = "1001010119000000888";
const FINE = 20000;

const shiftDay = (day: string, days: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/**
 * 银行柜台按决定书编号查询缴款 and 到账资金对账, through the whole frame in both modes: the bank
 * simulator plays the agency bank's counter and front-end (HMAC-SM3 MAC both ways), the police
 * simulator knows the decisions, Alipay's simulator pays online beside them.
 */
describe.each(["cluster", "embedded"] as const)("payment service, bank counter (%s)", (mode) => {
  let t: TestPlatform;
  let rig: BankRig;
  let alipay: AlipayRig;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;
  const events: Envelope[] = [];
  let stopWatch = async () => {};
  let n = 0;
  const today = businessDay(new Date());
  const alipayOrders: string[] = [];

  beforeAll(async () => {
    // Alipay keeps 6‰ of each payment (服务费): its settlement is what it took less that.
    alipay = await startAlipayRig(undefined, { serviceFeePermille: 6 });
    const started = await startPaymentTestPlatform({
      mode,
      agencyCode: AGENCY,
      events,
      env: {
        PIAOJU_PAYMENT_FIRST_QUERY_MS: "400",
        PIAOJU_PAYMENT_CHANNEL_TIMEOUT_MS: "2000",
        PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: "100",
        PIAOJU_PAYMENT_REFUND_RETRY_MS: "100",
      },
    });
    t = started.t;
    stopWatch = started.stop;
    rig = await startBankRig(AGENCY, () => t.platform.url);
    receiver = await startCallbackReceiver(rig.policeSecret);
    const asApp = { "x-piaoju-actor": `app:${APP}`, "x-piaoju-agencies": AGENCY };
    for (const [method, path, body, headers] of [
      ["PUT", "/v1/payment/channel-accounts/bank", { agencyCode: AGENCY, ...rig.account }, undefined],
      [
        "PUT",
        "/v1/payment/channel-accounts/alipay",
        {
          agencyCode: AGENCY,
          accountId: alipay.account.accountId,
          config: { ...alipay.account.config, settlementAccount: ALIPAY_SETTLEMENT },
        },
        undefined,
      ],
      [
        "PUT",
        `/v1/payment/decision-sources/${APP}`,
        { agencyCode: AGENCY, url: rig.police.url, secret: rig.policeSecret },
        asApp,
      ],
      [
        "PUT",
        `/v1/payment/callback-targets/${APP}`,
        { agencyCode: AGENCY, url: receiver.url, secret: rig.policeSecret },
        asApp,
      ],
    ] as const) {
      const res = await t.call(method, path, body, headers);
      expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(200);
      expect(JSON.stringify(res.body)).not.toContain(rig.bank.macKey);
    }
  });
  afterAll(async () => {
    await stopWatch();
    await rig?.stop();
    await alipay?.sim.close();
    await receiver?.stop();
  });

  /** A decision the police system knows, its deadline `daysLate` days ago (3% of the fine a day after it). */
  const decision = (daysLate: number) => {
    n++;
    const decisionNo = `2301011${mode === "cluster" ? 1 : 2}${String(n).padStart(8, "0")}${randomBytes(2).toString("hex")}`;
    rig.police.addDecision({
      agencyCode: AGENCY,
      decisionNo,
      bizSerialNo: `JF-${decisionNo}`,
      payer: { type: 1, code: "230102199003077778", name: "王五", phone: "13800138000" },
      fineFen: FINE,
      deadline: shiftDay(today, -daysLate),
      issuingPointCode: "JJ-01",
      billCode: "23010126",
    });
    return decisionNo;
  };
  const byCode = async (code: string) =>
    (await t.call("GET", `/v1/payments/by-code/${code}`)).body as {
      id: string;
      status: string;
      paid: { orderId: string; paidFen: number };
    } & Record<string, unknown>;
  const completions = (paymentId: string) =>
    events.filter(
      (e) =>
        e.type === "payment.PaymentCompleted" && (e.data as { paymentId: string }).paymentId === paymentId,
    );
  const refundsOf = async (id: string) =>
    (await t.call("GET", `/v1/payments/${id}/refunds`)).body.items as Array<{
      refundId: string;
      status: string;
      kind: string;
      amountFen: number;
      channel: string;
      refundSerialNo: string;
    }>;

  it("queries by decision number, the bank collects the amount due with 加处罚款, the report completes the notice once", async () => {
    const no = decision(3);
    const asked = rig.police.queries;
    const q = await rig.bank.query(no);
    expect(q.status, JSON.stringify(q.body)).toBe(200);
    expect(rig.police.queries).toBe(asked + 1);
    // 3 days after the deadline: 9% of the fine.
    expect(q.body).toMatchObject({
      decisionNo: no,
      principalFen: FINE,
      surchargeFen: (FINE * 9) / 100,
      amountDueFen: FINE + (FINE * 9) / 100,
      daysLate: 3,
      payerName: "王*",
    });
    expect(String(q.body.paymentCode)).toMatch(/^\d{20}$/);
    // Asked again: the same notice, the police system not asked twice.
    const again = await rig.bank.query(no);
    expect(again.body.paymentCode).toBe(q.body.paymentCode);
    expect(rig.police.queries).toBe(asked + 1);

    const code = String(q.body.paymentCode);
    const due = Number(q.body.amountDueFen);
    const serial = rig.bank.nextSerial();
    const at = new Date();
    const paid = await rig.bank.pay({ paymentCode: code, amountFen: due, bankSerialNo: serial, paidAt: at });
    expect(paid.status, JSON.stringify(paid.body)).toBe(200);
    expect(paid.body).toMatchObject({ result: "PAID", paidFen: due, replayed: false });
    const p = await byCode(code);
    expect(p).toMatchObject({
      status: "PAID",
      decisionNo: no,
      paid: { paidFen: due, surchargeFen: due - FINE },
    });
    const completed = await until(() => completions(p.id)[0]);
    const data = decodeEvent(completed).data as { channel: string; settlement: Record<string, unknown> };
    expect(data.channel).toBe("bank");
    expect(data.settlement).toMatchObject({
      decisionNo: no,
      paidFen: due,
      surchargeFen: due - FINE,
      channelAccount: rig.bank.bankCode,
      channelTradeNo: `${rig.bank.bankCode}:${serial}`,
    });
    // The police system hears of it, signed, once.
    const pushed = await until(() => receiver.find("payment.paid", p.id));
    expect(pushed.body).toMatchObject({ paidFen: due, channel: "bank", paymentCode: code });

    // The same report again (the bank's retry): the same answer, nothing new.
    const replay = await rig.bank.pay({
      paymentCode: code,
      amountFen: due,
      bankSerialNo: serial,
      paidAt: at,
    });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ result: "PAID", orderNo: paid.body.orderNo, replayed: true });
    // The serial reused for another message: refused.
    const reused = await rig.bank.pay({
      paymentCode: code,
      amountFen: due + 1,
      bankSerialNo: serial,
      paidAt: at,
    });
    expect(reused.status).toBe(409);
    expect(reused.body.code).toBe("BANK_SERIAL_REUSED");
    // The counter queried again: paid already.
    const after = await rig.bank.query(no);
    expect(after.status).toBe(409);
    expect(after.body.code).toBe("ALREADY_PAID");
    await new Promise((r) => setTimeout(r, 300));
    expect(completions(p.id)).toHaveLength(1);
    const orders = (await t.call("GET", `/v1/payments/${p.id}/orders`)).body.items as unknown[];
    expect(orders).toHaveLength(1);
    expect(await refundsOf(p.id)).toEqual([]);
    expect(rig.bank.badSignatures).toBe(0);
  });

  it("reports arriving at once: the same serial twice takes one, two serials for one notice complete it once", async () => {
    const no = decision(0);
    const code = String((await rig.bank.query(no)).body.paymentCode);
    const serial = rig.bank.nextSerial();
    const at = new Date();
    const same = await Promise.all(
      [0, 1, 2].map(() =>
        rig.bank.pay({ paymentCode: code, amountFen: FINE, bankSerialNo: serial, paidAt: at }),
      ),
    );
    expect(same.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(same.filter((r) => r.body.replayed === false)).toHaveLength(1);
    expect(new Set(same.map((r) => r.body.orderNo)).size).toBe(1);
    const p = await byCode(code);
    expect(((await t.call("GET", `/v1/payments/${p.id}/orders`)).body.items as unknown[]).length).toBe(1);

    const no2 = decision(0);
    const code2 = String((await rig.bank.query(no2)).body.paymentCode);
    const two = await Promise.all([0, 1].map(() => rig.bank.pay({ paymentCode: code2, amountFen: FINE })));
    expect(two.map((r) => r.body.result).sort()).toEqual(["DUPLICATE", "PAID"]);
    const p2 = await byCode(code2);
    const refunds = await until(async () => {
      const r = await refundsOf(p2.id);
      return r[0]?.status === "REFUNDED" ? r : undefined;
    });
    expect(refunds).toMatchObject([{ kind: "DUPLICATE", channel: "bank", amountFen: FINE }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(completions(p.id)).toHaveLength(1);
    expect(completions(p2.id)).toHaveLength(1);
  });

  it("refuses a forged or tampered message (401 BANK_SIGNATURE_INVALID) before reading anything, and changes nothing", async () => {
    const no = decision(0);
    const asked = rig.police.queries;
    const otherKey = randomBytes(32).toString("hex");
    const forgedQuery = await rig.bank.send(
      "query",
      { agencyCode: AGENCY, decisionNo: no, bankSerialNo: "Q1" },
      { key: otherKey },
    );
    expect(forgedQuery.status).toBe(401);
    expect(forgedQuery.body.code).toBe("BANK_SIGNATURE_INVALID");
    expect(typeof forgedQuery.body.detailZh).toBe("string");
    expect(rig.police.queries).toBe(asked);

    const q = await rig.bank.query(no);
    const code = String(q.body.paymentCode);
    const body = {
      agencyCode: AGENCY,
      bankSerialNo: rig.bank.nextSerial(),
      paymentCode: code,
      amountFen: FINE,
      paidAt: new Date().toISOString(),
    };
    const attempts = [
      await rig.bank.send("pay", body, { key: otherKey }),
      // Signed, then the amount changed on the way.
      await rig.bank.send("pay", body, {
        tamper: (b) => Buffer.from(b.toString().replace(`"amountFen":${FINE}`, `"amountFen":${FINE - 1}`)),
      }),
      // Signed for another agency's account (none at this bank).
      await rig.bank.send("pay", { ...body, agencyCode: "230199" }),
    ];
    for (const a of attempts) {
      expect(a.status, JSON.stringify(a.body)).toBe(401);
      expect(a.body.code).toBe("BANK_SIGNATURE_INVALID");
    }
    const p = await byCode(code);
    expect(p.status).toBe("CREATED");
    expect((await t.call("GET", `/v1/payments/${p.id}/orders`)).body.items).toEqual([]);
    expect(completions(p.id)).toHaveLength(0);
  });

  it("refuses a report for an amount that is not due (409 AMOUNT_DUE_CHANGED), an unknown decision (404), bad bodies (400 naming the field)", async () => {
    const no = decision(2);
    const q = await rig.bank.query(no);
    const code = String(q.body.paymentCode);
    const wrong = await rig.bank.pay({ paymentCode: code, amountFen: FINE });
    expect(wrong.status).toBe(409);
    expect(wrong.body.code).toBe("AMOUNT_DUE_CHANGED");
    const p = await byCode(code);
    expect(p.status).toBe("CREATED");
    expect((await t.call("GET", `/v1/payments/${p.id}/orders`)).body.items).toEqual([]);

    // The bank is no order to open from the cashier or the API: it collects at its counter.
    const asOrder = await t.call("POST", `/v1/payments/${p.id}/orders`, {
      channel: "bank",
      scene: "qr",
      expectedAmountFen: Number(q.body.amountDueFen),
    });
    expect(asOrder.status).toBe(400);
    expect((asOrder.body.issues as Array<{ field: string }>)[0]?.field).toBe("body.channel");
    expect((await t.call("GET", `/v1/payments/${p.id}/orders`)).body.items).toEqual([]);

    const unknown = await rig.bank.query("2301019999999999");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({
      code: "DECISION_NOT_FOUND",
      detailZh: "交警业务系统中没有该处罚决定书",
    });

    const bad = await rig.bank.send("pay", {
      agencyCode: AGENCY,
      bankSerialNo: "S 1",
      paymentCode: code,
      amountFen: -5,
      paidAt: "yesterday",
    });
    expect(bad.status).toBe(400);
    const fields = (bad.body.issues as Array<{ field: string }>).map((i) => i.field).sort();
    expect(fields).toEqual(["body.amountFen", "body.bankSerialNo", "body.paidAt"]);
  });

  it("reverses (冲正) a payment reported by mistake: refunded by the bank's reversal, once", async () => {
    const no = decision(0);
    const q = await rig.bank.query(no);
    const code = String(q.body.paymentCode);
    const serial = rig.bank.nextSerial();
    const paid = await rig.bank.pay({ paymentCode: code, amountFen: FINE, bankSerialNo: serial });
    expect(paid.body.result).toBe("PAID");
    const p = await byCode(code);
    const calls = rig.bank.refundCalls;
    const revSerial = rig.bank.nextSerial();
    const rev = await rig.bank.reverse(serial, "柜员误操作", { bankSerialNo: revSerial });
    expect(rev.status, JSON.stringify(rev.body)).toBe(200);
    expect(rev.body).toMatchObject({ status: "REVERSED", originalBankSerialNo: serial, replayed: false });
    const refunded = await until(async () => {
      const r = await refundsOf(p.id);
      return r[0]?.status === "REFUNDED" ? r : undefined;
    });
    expect(refunded).toHaveLength(1);
    expect(refunded[0]).toMatchObject({
      kind: "REFUND",
      amountFen: FINE,
      channel: "bank",
      refundSerialNo: `REV-${revSerial}`,
    });
    expect((await byCode(code)).status).toBe("REFUNDED");
    expect(rig.bank.refundCalls).toBe(calls + 1);
    // Replayed: the same answer; reversed again under another serial: refused.
    const replay = await rig.bank.reverse(serial, "柜员误操作", { bankSerialNo: revSerial });
    expect(replay.body).toMatchObject({ status: "REVERSED", replayed: true, refundId: rev.body.refundId });
    const twice = await rig.bank.reverse(serial, "柜员误操作");
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe("ALREADY_REVERSED");
    const none = await rig.bank.reverse("19990101000000", "误操作");
    expect(none.status).toBe(404);
    expect(none.body.code).toBe("BANK_TRANSACTION_NOT_FOUND");
    expect(await refundsOf(p.id)).toHaveLength(1);
    expect(completions(p.id)).toHaveLength(1);
    await until(() => receiver.find("payment.refunded", p.id) ?? undefined);
  });

  it("a counter report racing an online payment: one completes, the other is a DUPLICATE_PAYMENT refunded by its own route", async () => {
    for (let round = 0; round < 2; round++) {
      const no = decision(1);
      const q = await rig.bank.query(no);
      const code = String(q.body.paymentCode);
      const due = Number(q.body.amountDueFen);
      const p = await byCode(code);
      const order = await t.call("POST", `/v1/payments/${p.id}/orders`, {
        channel: "alipay",
        scene: "qr",
        expectedAmountFen: due,
      });
      expect(order.status, JSON.stringify(order.body)).toBe(201);
      const orderId = String(order.body.orderId);
      alipayOrders.push(orderId);
      // Round 0: both at once; round 1: the online payment settles first and the counter reports after.
      if (round === 0) {
        await Promise.all([alipay.sim.pay(orderId), rig.bank.pay({ paymentCode: code, amountFen: due })]);
      } else {
        await alipay.sim.pay(orderId);
        await until(async () => (await byCode(code)).status === "PAID");
        const late = await rig.bank.pay({ paymentCode: code, amountFen: due });
        expect(late.body.result).toBe("DUPLICATE");
      }
      const refunds = await until(async () => {
        const r = await refundsOf(p.id);
        return r.length === 1 && r[0]?.status === "REFUNDED" ? r : undefined;
      });
      const settled = await byCode(code);
      expect(settled.status).toBe("PAID");
      const winner = (
        (await t.call("GET", `/v1/payments/${p.id}/orders`)).body.items as Array<{
          orderId: string;
          channel: string;
        }>
      ).find((o) => o.orderId === settled.paid.orderId);
      expect(refunds[0]?.kind).toBe("DUPLICATE");
      expect(refunds[0]?.amountFen).toBe(due);
      expect(refunds[0]?.channel).not.toBe(winner?.channel);
      if (round === 1) expect(refunds[0]?.channel).toBe("bank");
      await new Promise((r) => setTimeout(r, 300));
      expect(completions(p.id)).toHaveLength(1);
    }
  });

  it("matches the bank's day file like any channel's statement: nothing to report", async () => {
    const res = await t.call("POST", "/v1/payment/reconciliations", {
      agencyCode: AGENCY,
      channel: "bank",
      businessDay: today,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.differences).toEqual([]);
    expect(res.body.matched).toBeGreaterThanOrEqual(6);
  });

  it("funds arrival: the account statement (camt.053) against each channel's settlement, planted differences found and classified, nothing else", async () => {
    const alipayDay = await t.call("POST", "/v1/payment/reconciliations", {
      agencyCode: AGENCY,
      channel: "alipay",
      businessDay: today,
    });
    expect(alipayDay.body.differences).toEqual([]);
    const taken = Number(alipayDay.body.collectedFen) - Number(alipayDay.body.refundedFen);
    // What Alipay settles, line by line as its bill has it: each payment less 6‰ (rounded to the
    // fen), each refund less the part of the fee it gives back.
    const fee = (fen: number) => Math.round((fen * 6) / 1000);
    const fen = (yuan: string) => Math.round(Number(yuan) * 100);
    let alipayNet = 0;
    for (const id of alipayOrders) {
      const trade = alipay.sim.trade(id);
      if (!trade?.paidAt) continue;
      alipayNet += fen(trade.totalAmount) - fee(fen(trade.totalAmount));
      for (const r of trade.refunds.values()) alipayNet -= fen(r.amount) - fee(fen(r.amount));
    }
    expect(taken).toBeGreaterThan(alipayNet);
    expect(alipayNet).toBeGreaterThan(0);
    const arrival = shiftDay(today, 1);
    // Alipay's settlement arrives whole; a credit from an account no channel settles from; a pending
    // credit and a debit (neither counts); the bank's own counter collections do not arrive.
    rig.bank.credit({
      amountFen: alipayNet,
      debtorAccount: ALIPAY_SETTLEMENT,
      debtorName: "支付宝（中国）网络技术有限公司",
      bookingDay: arrival,
      remittance: `支付宝结算 ${today}`,
    });
    rig.bank.credit({
      amountFen: 12345,
      debtorAccount: "6222000011112222",
      debtorName: "某公司",
      bookingDay: arrival,
      remittance: "往来款",
    });
    rig.bank.credit({
      amountFen: 500,
      debtorAccount: ALIPAY_SETTLEMENT,
      debtorName: "支付宝（中国）网络技术有限公司",
      bookingDay: arrival,
      status: "PDNG",
    });
    rig.bank.credit({
      amountFen: 800,
      debtorAccount: rig.bank.clearingAccount,
      debtorName: "手续费",
      bookingDay: arrival,
      credit: false,
    });
    const run = await t.call("POST", "/v1/payment/funds-arrivals", {
      agencyCode: AGENCY,
      settlementDay: today,
    });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    expect(run.body.arrivalDay).toBe(arrival);
    expect(run.body.matched).toBe(1);
    const bankNet = (run.body.settlements as Array<{ channel: string; expectedFen: number }>).find(
      (s) => s.channel === "bank",
    )?.expectedFen;
    expect(bankNet).toBeGreaterThan(0);
    expect(run.body.differences).toEqual([
      {
        kind: "SETTLED_NOT_ARRIVED",
        channel: "bank",
        expectedFen: bankNet,
        debtorAccount: rig.bank.clearingAccount,
      },
      {
        kind: "ARRIVED_NOT_SETTLED",
        entryRef: expect.any(String),
        arrivedFen: 12345,
        debtorAccount: "6222000011112222",
      },
    ]);

    // The next day's statement: the counter's collections arrive 1 fen short, Alipay's whole.
    const later = shiftDay(today, 2);
    const credited = rig.bank.settleCounterDay(today, later);
    expect(credited).toBe(bankNet);
    rig.bank.credit({
      amountFen: credited - 1,
      debtorAccount: rig.bank.clearingAccount,
      debtorName: "x",
      bookingDay: shiftDay(today, 3),
    });
    rig.bank.credit({
      amountFen: alipayNet,
      debtorAccount: ALIPAY_SETTLEMENT,
      debtorName: "支付宝（中国）网络技术有限公司",
      bookingDay: shiftDay(today, 3),
    });
    rig.bank.credit({
      amountFen: 1,
      debtorAccount: rig.bank.clearingAccount,
      debtorName: "x",
      bookingDay: shiftDay(today, 3),
      credit: false,
    });
    const rerun = await t.call("POST", "/v1/payment/funds-arrivals", {
      agencyCode: AGENCY,
      settlementDay: today,
      arrivalDay: later,
    });
    expect(rerun.body.differences).toEqual([
      {
        kind: "SETTLED_NOT_ARRIVED",
        channel: "alipay",
        expectedFen: alipayNet,
        debtorAccount: ALIPAY_SETTLEMENT,
      },
    ]);
    expect(rerun.body.matched).toBe(1);
    const third = await t.call("POST", "/v1/payment/funds-arrivals", {
      agencyCode: AGENCY,
      settlementDay: today,
      arrivalDay: shiftDay(today, 3),
    });
    expect(third.body.differences).toEqual([
      {
        kind: "AMOUNT_DIFFERS",
        channel: "bank",
        expectedFen: bankNet,
        arrivedFen: (bankNet ?? 0) - 1,
        entryRef: expect.any(String),
        debtorAccount: rig.bank.clearingAccount,
      },
    ]);
    // Stored: the last run's result, read back; the event for reporting.
    const stored = await t.call("GET", `/v1/payment/funds-arrivals/${today}?agencyCode=${AGENCY}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({
      arrivalDay: shiftDay(today, 3),
      matched: 1,
      differences: third.body.differences,
    });
    const ev = await until(() =>
      events.filter((e) => e.type === "payment.FundsArrivalReconciled").length >= 3
        ? events.filter((e) => e.type === "payment.FundsArrivalReconciled")
        : undefined,
    );
    expect((decodeEvent(ev[2] as Envelope).data as { differences: unknown[] }).differences).toHaveLength(1);
    const missing = await t.call(
      "GET",
      `/v1/payment/funds-arrivals/${shiftDay(today, -30)}?agencyCode=${AGENCY}`,
    );
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("FUNDS_RECONCILIATION_NOT_FOUND");

    // The finance office marks the 1 fen handled, with a note; a rerun that finds it again keeps it.
    const [short] = (stored.body as { differences: Array<{ id: string; resolution: string }> }).differences;
    expect(short!.resolution).toBe("OPEN");
    const handle = (body: unknown) =>
      t.call("POST", `/v1/payment/funds-differences/${short!.id}/handle`, body);
    const noNote = await handle({ agencyCode: AGENCY, note: "" });
    expect([noNote.status, noNote.body.issues?.map((i) => i.field)]).toEqual([400, ["body.note"]]);
    const note = "银行手续费 1 分，已与开户行核实";
    expect((await handle({ agencyCode: AGENCY, note })).body).toMatchObject({
      resolution: "HANDLED",
      handledNote: note,
    });
    expect((await handle({ agencyCode: AGENCY, note })).body.code).toBe("DIFFERENCE_NOT_OPEN");
    await t.call("POST", "/v1/payment/funds-arrivals", {
      agencyCode: AGENCY,
      settlementDay: today,
      arrivalDay: shiftDay(today, 3),
    });
    const kept = await t.call("GET", `/v1/payment/funds-arrivals/${today}?agencyCode=${AGENCY}`);
    expect(kept.body.differences).toMatchObject([
      { kind: "AMOUNT_DIFFERS", resolution: "HANDLED", handledNote: note },
    ]);
    const listed = await t.call(
      "GET",
      `/v1/payment/differences?agencyCode=${AGENCY}&leg=funds&from=${today}&to=${today}`,
    );
    expect(
      (listed.body.items as Array<Record<string, unknown>>).map((d) => [
        d.source,
        d.kind,
        d.ourFen,
        d.otherFen,
        d.resolution,
      ]),
    ).toEqual([["funds", "AMOUNT_DIFFERS", bankNet, (bankNet ?? 0) - 1, "HANDLED"]]);
  });
});

/**
 * The same counter with finance's non-tax system making the notices (the finance simulator): the
 * code the bank is given is the non-tax system's, the counter's payment is reported to it, and a
 * reversal's refund waits for its approval and is reported back. Embedded, as nontax.int.spec is.
 */
describe("payment service, bank counter with the non-tax system (embedded)", () => {
  let t: TestPlatform;
  let rig: BankRig;
  let peer: Awaited<ReturnType<typeof startNontaxPeer>>;
  const today = businessDay(new Date());

  beforeAll(async () => {
    peer = await startNontaxPeer(AGENCY, "230100");
    t = await startTestPlatform({
      mode: "embedded",
      services: [paymentService],
      kafkaBrokers: inject("kafkaBrokers"),
      caller: { "x-piaoju-actor": "ops.li", "x-piaoju-agencies": AGENCY },
      env: {
        PIAOJU_SECRETS_KEY: randomBytes(16).toString("hex"),
        PIAOJU_PAYMENT_POLL_MS: "100",
        PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: "100",
        PIAOJU_PAYMENT_REFUND_RETRY_MS: "100",
        ...peer.env,
      },
    });
    rig = await startBankRig(AGENCY, () => t.platform.url);
    const asApp = { "x-piaoju-actor": `app:${APP}`, "x-piaoju-agencies": AGENCY };
    expect(
      (await t.call("PUT", "/v1/payment/channel-accounts/bank", { agencyCode: AGENCY, ...rig.account }))
        .status,
    ).toBe(200);
    const source = await t.call(
      "PUT",
      `/v1/payment/decision-sources/${APP}`,
      { agencyCode: AGENCY, url: rig.police.url, secret: rig.policeSecret },
      asApp,
    );
    expect(source.status).toBe(200);
  });
  afterAll(async () => {
    await t?.stop();
    await rig?.stop();
    await peer?.stop();
  });

  it("the bank is given the non-tax system's code; its payment and its reversal reach the non-tax system", async () => {
    const decisionNo = `23010130${randomBytes(4).toString("hex")}`;
    rig.police.addDecision({
      agencyCode: AGENCY,
      decisionNo,
      bizSerialNo: `JF-${decisionNo}`,
      payer: { type: 1, code: "230102199003077778", name: "王五" },
      fineFen: FINE,
      deadline: shiftDay(today, -1),
      issuingPointCode: "JJ-01",
      billCode: "23010126",
    });
    const q = await rig.bank.query(decisionNo);
    expect(q.status, JSON.stringify(q.body)).toBe(200);
    const code = String(q.body.paymentCode);
    expect((await peer.notice(code)).status).toBe("ISSUED");
    const due = Number(q.body.amountDueFen);
    expect(due).toBe(FINE + (FINE * 3) / 100);
    const serial = rig.bank.nextSerial();
    expect(
      (await rig.bank.pay({ paymentCode: code, amountFen: due, bankSerialNo: serial })).body.result,
    ).toBe("PAID");
    const notice = await until(async () => {
      const n = await peer.notice(code);
      return n.status === "PAID" ? n : undefined;
    });
    expect(notice.paid).toMatchObject({
      paidFen: due,
      surchargeFen: due - FINE,
      channel: "bank",
      channelTradeNo: `${rig.bank.bankCode}:${serial}`,
    });

    // The finance officer decides by hand here: the reversal's refund waits for the approval.
    await peer.sim.admin.setAutoApprove(false);
    const rev = await rig.bank.reverse(serial, "柜员误操作");
    expect(rev.status, JSON.stringify(rev.body)).toBe(200);
    const refundId = String(rev.body.refundId);
    const payment = (await t.call("GET", `/v1/payments/by-code/${code}`)).body as { id: string };
    const refundOf = async () =>
      (
        (await t.call("GET", `/v1/payments/${payment.id}/refunds`)).body.items as Array<{
          refundId: string;
          status: string;
          reportedToNontax: boolean;
        }>
      )[0];
    await until(async () => ((await refundOf())?.status === "AWAITING_APPROVAL" ? true : undefined));
    const calls = rig.bank.refundCalls;
    expect(calls).toBe(0);
    await peer.sim.admin.approveRefund(refundId);
    const done = await until(async () => {
      const r = await refundOf();
      return r?.status === "REFUNDED" && r.reportedToNontax ? r : undefined;
    });
    expect(done.refundId).toBe(refundId);
    expect(rig.bank.refundCalls).toBe(1);
  });
});
