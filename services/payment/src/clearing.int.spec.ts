import type { Envelope } from "@piaoju/contracts";
import type { TestPlatform } from "@piaoju/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AlipayRig,
  startAlipayRig,
  startCallbackReceiver,
  startNontaxPeer,
  startPaymentTestPlatform,
  until,
} from "../../../test/support/payment.ts";

const APP = "police-clearing";
const SECRET = "k".repeat(40);

type Batch = {
  batchId: string;
  status: string;
  collectedFen: number;
  refundedFen: number;
  payments: number;
  instructions: Array<{
    instructionId: string;
    accountNo: string;
    amountFen: number;
    collectedFen: number;
    refundedFen: number;
    status: string;
    attempts: number;
    lastError?: string;
    note?: string;
  }>;
};

/**
 * 资金清分 through the whole frame, in both modes: rules kept by operators, a day's money split to
 * the finance special accounts once the day reconciled clean with Alipay, the instructions sent to
 * the non-tax system (the finance simulator, signed as every non-tax call) and followed to their
 * end, the police system told payment by payment.
 */
describe.each(["cluster", "embedded"] as const)("clearing (%s)", (mode) => {
  const AGENCY = mode === "cluster" ? "230107" : "230108";
  let t: TestPlatform;
  let peer: Awaited<ReturnType<typeof startNontaxPeer>>;
  let alipay: AlipayRig;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;
  const events: Envelope[] = [];
  let stopWatch = async () => {};
  let serial = 0;
  const asOps = { "x-piaoju-actor": "ops.zhao", "x-piaoju-agencies": AGENCY };
  const asApp = { "x-piaoju-actor": `app:${APP}`, "x-piaoju-agencies": AGENCY };

  beforeAll(async () => {
    peer = await startNontaxPeer(AGENCY, "230100");
    alipay = await startAlipayRig();
    receiver = await startCallbackReceiver(SECRET);
    const started = await startPaymentTestPlatform({
      mode,
      agencyCode: AGENCY,
      events,
      callbacks: { appId: APP, url: receiver.url, secret: SECRET },
      caller: asOps,
      env: {
        PIAOJU_PAYMENT_CALLBACK_BACKOFF_MS: "100",
        PIAOJU_PAYMENT_CALLBACK_ATTEMPTS: "12",
        PIAOJU_PAYMENT_REFUND_RETRY_MS: "100",
        ...peer.env,
      },
    });
    t = started.t;
    stopWatch = started.stop;
    expect(
      (await t.call("PUT", "/v1/payment/channel-accounts/alipay", { agencyCode: AGENCY, ...alipay.account }))
        .status,
    ).toBe(200);
  });
  afterAll(async () => {
    await stopWatch();
    await peer?.stop();
    await alipay?.sim.close();
    await receiver?.stop();
  });

  const daysAgo = (n: number) =>
    new Date(Date.now() + 8 * 3_600_000 - n * 86_400_000).toISOString().slice(0, 10);
  const at = (day: string, hms: string) => new Date(`${day}T${hms}+08:00`);
  const paidOn = async (day: string, hms: string, items: Array<{ itemCode: string; amountFen: number }>) => {
    const created = await t.call(
      "POST",
      "/v1/payments",
      {
        agencyCode: AGENCY,
        bizSerialNo: `CL-${mode}-${++serial}`,
        payer: { type: 1, code: "230102199003077778", name: "王五" },
        items: items.map((i) => ({ ...i, quantity: "1" })),
        issuingPointCode: "JJ-01",
        billCode: "23010526",
      },
      asApp,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = String(created.body.id);
    const total = items.reduce((s, i) => s + i.amountFen, 0);
    const order = await t.call(
      "POST",
      `/v1/payments/${id}/orders`,
      { channel: "alipay", scene: "qr", expectedAmountFen: total },
      asApp,
    );
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    await alipay.sim.pay(String(order.body.orderId), at(day, hms));
    await until(
      async () => (await t.call("GET", `/v1/payments/${id}`, undefined, asApp)).body.status === "PAID",
    );
    return { id, orderId: String(order.body.orderId), total };
  };
  const reconcile = async (day: string) => {
    const res = await t.call("POST", "/v1/payment/reconciliations", {
      agencyCode: AGENCY,
      channel: "alipay",
      businessDay: day,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { differences: Array<{ kind: string; resolution: string }> };
  };
  const batchOf = async (day: string) => {
    const res = await t.call("GET", `/v1/payment/clearings/${day}?agencyCode=${AGENCY}`);
    return res.status === 200 ? (res.body as unknown as Batch) : undefined;
  };
  const atNontax = async (day: string) =>
    (await peer.sim.admin.listClearings()).items.filter(
      (i) => i.agencyCode === AGENCY && i.businessDay === day,
    );
  const eventsOf = (type: string, day: string) =>
    events.filter((e) => e.type === type && (e.data as { businessDay: string }).businessDay === day);

  it("keeps a rule only if its shares add up to 100 % of known accounts, naming the field", async () => {
    for (const [accountNo, name] of [
      ["6217000010001", "市财政局非税收入专户"],
      ["6217000010002", "区财政局非税收入专户"],
    ]) {
      const res = await t.call("PUT", `/v1/payment/clearing-accounts/${accountNo}`, {
        agencyCode: AGENCY,
        name,
        bankName: "建设银行哈尔滨分行",
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const put = (itemCode: string, shares: unknown, headers = asOps) =>
      t.call("PUT", `/v1/payment/clearing-rules/${itemCode}`, { agencyCode: AGENCY, shares }, headers);
    const short = await put("FK03", [
      { accountNo: "6217000010001", basisPoints: 6000 },
      { accountNo: "6217000010002", basisPoints: 3999 },
    ]);
    expect(short.status).toBe(400);
    expect(short.body.issues?.map((i) => [i.field, i.rule])).toEqual([["body.shares", "sum_100_percent"]]);
    const unknown = await put("FK03", [
      { accountNo: "6217000010001", basisPoints: 5000 },
      { accountNo: "6217000099999", basisPoints: 5000 },
    ]);
    expect(unknown.status).toBe(400);
    expect(unknown.body.issues?.map((i) => i.field)).toEqual(["body.shares.1.accountNo"]);
    const zero = await put("FK03", [{ accountNo: "6217000010001", basisPoints: 0 }]);
    expect(zero.status).toBe(400);
    expect(zero.body.issues?.map((i) => i.field)).toEqual(["body.shares.0.basisPoints"]);
    const badNo = await t.call("PUT", "/v1/payment/clearing-accounts/x%20y", {
      agencyCode: AGENCY,
      name: "n",
      bankName: "b",
    });
    expect(badNo.status).toBe(400);
    expect(badNo.body.issues?.map((i) => i.field)).toEqual(["params.accountNo"]);
    const noName = await t.call("PUT", "/v1/payment/clearing-accounts/6217000010003", {
      agencyCode: AGENCY,
      name: "",
      bankName: "b",
    });
    expect(noName.status).toBe(400);
    expect(noName.body.issues?.map((i) => i.field)).toEqual(["body.name"]);
    // A business system does not set clearing.
    expect((await put("FK01", [{ accountNo: "6217000010001", basisPoints: 10000 }], asApp)).status).toBe(403);
    // Nothing was kept.
    expect((await t.call("GET", `/v1/payment/clearing-rules?agencyCode=${AGENCY}`)).body.items).toEqual([]);

    expect((await put("FK01", [{ accountNo: "6217000010001", basisPoints: 10000 }])).status).toBe(200);
    expect(
      (
        await put("FK03", [
          { accountNo: "6217000010001", basisPoints: 6000 },
          { accountNo: "6217000010002", basisPoints: 4000 },
        ])
      ).status,
    ).toBe(200);
    const rules = (await t.call("GET", `/v1/payment/clearing-rules?agencyCode=${AGENCY}`)).body
      .items as Array<{ itemCode: string }>;
    expect(rules.map((r) => r.itemCode)).toEqual(["FK01", "FK03"]);
  });

  it("clears a reconciled day per rules, to the fen: Σ instructions = collected − refunded, once", async () => {
    const day = daysAgo(3);
    const paid = [
      await paidOn(day, "09:00:00", [
        { itemCode: "FK01", amountFen: 20000 },
        { itemCode: "FK03", amountFen: 999 },
      ]),
      await paidOn(day, "10:00:00", [
        { itemCode: "FK01", amountFen: 15050 },
        { itemCode: "FK03", amountFen: 1001 },
      ]),
      await paidOn(day, "11:00:00", [
        { itemCode: "FK01", amountFen: 12345 },
        { itemCode: "FK03", amountFen: 333 },
      ]),
    ];
    // A partial refund of the first, paid back on the day: off its last line (FK03) first.
    alipay.sim.billFaults.refundAt = at(day, "15:00:00");
    try {
      const r = await t.call(
        "POST",
        `/v1/payments/${paid[0]!.id}/refunds`,
        { refundSerialNo: `CLR-${mode}`, amountFen: 500, reason: "部分撤销" },
        asApp,
      );
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      await until(async () => {
        const items = (await t.call("GET", `/v1/payments/${paid[0]!.id}/refunds`, undefined, asApp)).body
          .items as Array<{ status: string }>;
        return items[0]?.status === "REFUNDED";
      });
    } finally {
      alipay.sim.billFaults.refundAt = undefined;
    }
    // Not reconciled yet: no clearing.
    const early = await t.call("POST", "/v1/payment/clearings", { agencyCode: AGENCY, businessDay: day });
    expect(early.status).toBe(409);
    expect(early.body.code).toBe("CLEARING_NOT_RECONCILED");

    expect((await reconcile(day)).differences.filter((d) => d.resolution === "OPEN")).toEqual([]);
    // The background round clears it, and follows the instructions to DONE.
    const batch = await until(async () => {
      const b = await batchOf(day);
      return b?.status === "SETTLED" ? b : undefined;
    });
    // FK01 47 395 all to …001; FK03 2 333 split 60/40 = 1 399.8 / 933.2 → 1 400 / 933;
    // the refund's 500 off FK03 → 300 / 200.
    expect(batch).toMatchObject({ collectedFen: 49728, refundedFen: 500, payments: 3 });
    expect(
      batch.instructions.map((i) => [i.accountNo, i.collectedFen, i.refundedFen, i.amountFen, i.status]),
    ).toEqual([
      ["6217000010001", 47395 + 1400, 300, 48495, "DONE"],
      ["6217000010002", 933, 200, 733, "DONE"],
    ]);
    expect(batch.instructions.reduce((s, i) => s + i.amountFen, 0)).toBe(49728 - 500);
    const sent = await atNontax(day);
    expect(sent.map((i) => [i.instructionId, i.amountFen, i.status]).sort()).toEqual(
      batch.instructions.map((i) => [i.instructionId, i.amountFen, "DONE"]).sort(),
    );
    // Rerun by hand and reconciling again: the same batch, nothing sent again.
    const again = await t.call("POST", "/v1/payment/clearings", { agencyCode: AGENCY, businessDay: day });
    expect(again.status).toBe(200);
    expect(again.body.batchId).toBe(batch.batchId);
    await reconcile(day);
    await new Promise((r) => setTimeout(r, 500));
    expect((await atNontax(day)).length).toBe(2);
    expect((await batchOf(day))?.batchId).toBe(batch.batchId);
    await until(() => eventsOf("payment.ClearingSettled", day).length === 2);
    expect(eventsOf("payment.ClearingInstructed", day)).toHaveLength(1);
    expect(eventsOf("payment.ClearingInstructed", day)[0]?.data).toMatchObject({
      batchId: batch.batchId,
      collectedFen: 49728,
      refundedFen: 500,
    });
    // The police system is told, payment by payment.
    for (const p of paid) {
      const pushed = await until(() => receiver.find("payment.cleared", p.id));
      expect(pushed.body).toMatchObject({ businessDay: day, batchId: batch.batchId });
    }
  });

  it("does not clear a day while a difference is open; clears it once a rerun finds none", async () => {
    const day = daysAgo(4);
    const p = await paidOn(day, "09:30:00", [{ itemCode: "FK01", amountFen: 8800 }]);
    alipay.sim.billFaults.amount.set(p.orderId, "87.00");
    const found = await reconcile(day);
    expect(found.differences.map((d) => [d.kind, d.resolution])).toEqual([["AMOUNT", "OPEN"]]);
    const res = await t.call("POST", "/v1/payment/clearings", { agencyCode: AGENCY, businessDay: day });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("CLEARING_DIFFERENCES_OPEN");
    await new Promise((r) => setTimeout(r, 600));
    expect(await batchOf(day)).toBeUndefined();
    expect(await atNontax(day)).toEqual([]);
    // The channel corrects its statement; the rerun finds nothing open, and the day is cleared.
    alipay.sim.billFaults.amount.delete(p.orderId);
    expect((await reconcile(day)).differences).toEqual([]);
    const batch = await until(() => batchOf(day));
    expect(batch.instructions.map((i) => [i.accountNo, i.amountFen])).toEqual([["6217000010001", 8800]]);
  });

  it("an item without a rule holds the day, naming the item", async () => {
    const day = daysAgo(7);
    await paidOn(day, "08:00:00", [{ itemCode: "FK07", amountFen: 100 }]);
    await reconcile(day);
    const res = await t.call("POST", "/v1/payment/clearings", { agencyCode: AGENCY, businessDay: day });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("CLEARING_RULE_MISSING");
    expect(String(res.body.detail)).toContain("FK07");
  });

  it("retries while the non-tax system is down or its answer is lost, and it takes the instruction once", async () => {
    const day = daysAgo(5);
    await paidOn(day, "09:00:00", [{ itemCode: "FK03", amountFen: 777 }]);
    await peer.sim.admin.setFaults({ down: "unavailable" });
    try {
      await reconcile(day);
      await until(async () => {
        const b = await batchOf(day);
        return b?.instructions.every((i) => i.status === "PENDING" && i.attempts >= 2 && i.lastError)
          ? b
          : undefined;
      });
      expect(await atNontax(day)).toEqual([]);
      // Back, but every answer is lost after the instruction was taken: sent again, same id.
      await peer.sim.admin.setFaults({ lostReplyRate: 1 });
      await until(async () => (await atNontax(day)).length === 2);
      const before = (await batchOf(day))!.instructions.map((i) => i.attempts);
      await until(async () => {
        const b = await batchOf(day);
        return b?.instructions.every((i, n) => i.attempts > (before[n] ?? 0) + 1);
      });
    } finally {
      await peer.sim.admin.clearFaults();
    }
    const batch = await until(async () => {
      const b = await batchOf(day);
      return b?.status === "SETTLED" ? b : undefined;
    });
    // 777 × 60 % = 466.2, × 40 % = 310.8: the leftover fen goes to the larger remainder.
    expect(batch.instructions.map((i) => [i.accountNo, i.amountFen])).toEqual([
      ["6217000010001", 466],
      ["6217000010002", 311],
    ]);
    const there = await atNontax(day);
    expect(there.map((i) => i.instructionId).sort()).toEqual(
      batch.instructions.map((i) => i.instructionId).sort(),
    );
  });

  it("keeps a refused instruction for a person, and tells nobody the day is cleared", async () => {
    const day = daysAgo(6);
    const p = await paidOn(day, "09:00:00", [{ itemCode: "FK03", amountFen: 1000 }]);
    await peer.sim.admin.setAutoApprove(false);
    try {
      await reconcile(day);
      const accepted = await until(async () => {
        const b = await batchOf(day);
        return b?.instructions.every((i) => i.status === "ACCEPTED") ? b : undefined;
      });
      const [first, second] = accepted.instructions;
      await peer.sim.admin.refuseClearing(first!.instructionId, "账户已冻结");
      await peer.sim.admin.completeClearing(second!.instructionId);
      const batch = await until(async () => {
        const b = await batchOf(day);
        return b?.status === "REFUSED" ? b : undefined;
      });
      expect(batch.instructions.map((i) => [i.status, i.note])).toEqual([
        ["REFUSED", "账户已冻结"],
        ["DONE", undefined],
      ]);
      const settled = await until(() => {
        const e = eventsOf("payment.ClearingSettled", day);
        return e.length === 2 ? e : undefined;
      });
      expect(settled.map((e) => (e.data as { status: string }).status).sort()).toEqual(["DONE", "REFUSED"]);
      await new Promise((r) => setTimeout(r, 500));
      expect(receiver.find("payment.cleared", p.id)).toBeUndefined();
    } finally {
      await peer.sim.admin.setAutoApprove(true);
    }
  });

  it("a person marks an open difference handled, with a note: audited, kept by a rerun, and the day clears", async () => {
    const day = daysAgo(9);
    const p = await paidOn(day, "10:30:00", [{ itemCode: "FK01", amountFen: 6600 }]);
    alipay.sim.billFaults.amount.set(p.orderId, "65.00");
    try {
      expect((await reconcile(day)).differences.map((d) => [d.kind, d.resolution])).toEqual([
        ["AMOUNT", "OPEN"],
      ]);
      const list = await t.call(
        "GET",
        `/v1/payment/differences?agencyCode=${AGENCY}&status=OPEN&from=${day}&to=${day}`,
      );
      expect(list.status, JSON.stringify(list.body)).toBe(200);
      const items = list.body.items as Array<Record<string, unknown>>;
      expect(
        items.map((d) => [d.source, d.leg, d.channel, d.kind, d.ourFen, d.otherFen, d.resolution]),
      ).toEqual([["reconciliation", "channel", "alipay", "AMOUNT", 6600, 6500, "OPEN"]]);
      const id = String(items[0]!.id);
      const handle = (body: unknown, diffId = id) =>
        t.call("POST", `/v1/payment/differences/${diffId}/handle`, body);
      // Bad input names the field; nothing is marked.
      const noNote = await handle({ agencyCode: AGENCY });
      expect(noNote.status).toBe(400);
      expect(noNote.body.issues?.map((i) => i.field)).toEqual(["body.note"]);
      const blank = await handle({ agencyCode: AGENCY, note: "   " });
      expect(blank.body.issues?.map((i) => i.field)).toEqual(["body.note"]);
      const badId = await handle({ agencyCode: AGENCY, note: "x" }, "abc");
      expect(badId.body.issues?.map((i) => i.field)).toEqual(["params.id"]);
      expect((await handle({ agencyCode: AGENCY, note: "x" }, "999999999")).body.code).toBe(
        "DIFFERENCE_NOT_FOUND",
      );
      expect(await batchOf(day)).toBeUndefined();

      const note = "渠道少结 1 元，已与支付宝核实为渠道侧错账，次日补结";
      const done = await handle({ agencyCode: AGENCY, note });
      expect(done.status, JSON.stringify(done.body)).toBe(200);
      expect(done.body).toMatchObject({ resolution: "HANDLED", handledBy: "ops.zhao", handledNote: note });
      const twice = await handle({ agencyCode: AGENCY, note: "again" });
      expect([twice.status, twice.body.code]).toEqual([409, "DIFFERENCE_NOT_OPEN"]);
      const [entry] = (await t.platform.databases
        .get("payment")!
        .query("SELECT actor, detail FROM audit_log WHERE action = 'difference.handled' AND subject = $1", [
          `difference:reconciliation:${id}`,
        ])) as Array<{ actor: string; detail: { note: string; kind: string } }>;
      expect(entry).toMatchObject({ actor: "ops.zhao", detail: { note, kind: "AMOUNT" } });

      // The channel's statement still says 65.00: the rerun finds it again and it stays handled.
      await reconcile(day);
      const after = await t.call("GET", `/v1/payment/differences?agencyCode=${AGENCY}&from=${day}&to=${day}`);
      expect(
        (after.body.items as Array<Record<string, unknown>>).map((d) => [
          d.kind,
          d.resolution,
          d.handledNote,
        ]),
      ).toEqual([["AMOUNT", "HANDLED", note]]);
      // Nothing open: the background round clears the day.
      const batch = await until(() => batchOf(day));
      expect(batch.instructions.map((i) => [i.accountNo, i.amountFen])).toEqual([["6217000010001", 6600]]);
    } finally {
      alipay.sim.billFaults.amount.delete(p.orderId);
    }
  });

  it("re-sends a refused instruction once, after a person's decision, as a new attempt; never a DONE one", async () => {
    const day = daysAgo(8);
    const p = await paidOn(day, "09:00:00", [{ itemCode: "FK03", amountFen: 1000 }]);
    await peer.sim.admin.setAutoApprove(false);
    try {
      await reconcile(day);
      const accepted = await until(async () => {
        const b = await batchOf(day);
        return b?.instructions.every((i) => i.status === "ACCEPTED") ? b : undefined;
      });
      const [first, second] = accepted.instructions as [Batch["instructions"][0], Batch["instructions"][0]];
      await peer.sim.admin.refuseClearing(first.instructionId, "账户已冻结");
      await peer.sim.admin.completeClearing(second.instructionId);
      await until(async () => (await batchOf(day))?.status === "REFUSED");
      const resend = (id: string, body: unknown) =>
        t.call("POST", `/v1/payment/clearing-instructions/${id}/resend`, body);
      const note = "专户已解冻，财务科确认重发";

      // Bad input names the field; an unknown instruction is 404; a DONE one is never sent again.
      expect(
        (await resend(first.instructionId, { agencyCode: AGENCY })).body.issues?.map((i) => i.field),
      ).toEqual(["body.note"]);
      expect(
        (await resend("not-a-uuid", { agencyCode: AGENCY, note })).body.issues?.map((i) => i.field),
      ).toEqual(["params.id"]);
      expect(
        (await resend("00000000-0000-4000-8000-000000000000", { agencyCode: AGENCY, note })).status,
      ).toBe(404);
      const doneOne = await resend(second.instructionId, { agencyCode: AGENCY, note });
      expect([doneOne.status, doneOne.body.code]).toEqual([409, "CLEARING_INSTRUCTION_DONE"]);

      // A double click: one re-send, the other refused while it is in flight.
      const both = await Promise.all([
        resend(first.instructionId, { agencyCode: AGENCY, note }),
        resend(first.instructionId, { agencyCode: AGENCY, note }),
      ]);
      expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(both.find((r) => r.status === 409)?.body.code).toBe("CLEARING_RESEND_IN_FLIGHT");
      expect(both.find((r) => r.status === 200)?.body).toMatchObject({
        status: "PENDING",
        resends: 1,
        sendKey: `${first.instructionId}-R1`,
      });
      // A new attempt there, under its own key; the refusal under the old key stays as it was.
      const there = await until(async () => {
        const all = await atNontax(day);
        return all.length === 3 ? all : undefined;
      });
      expect(there.map((i) => [i.instructionId, i.amountFen, i.status]).sort()).toEqual(
        [
          [first.instructionId, first.amountFen, "REFUSED"],
          [`${first.instructionId}-R1`, first.amountFen, "ACCEPTED"],
          [second.instructionId, second.amountFen, "DONE"],
        ].sort(),
      );
      const inFlight = await until(async () => {
        const b = await batchOf(day);
        return b?.instructions[0]?.status === "ACCEPTED" ? b : undefined;
      });
      expect(inFlight.status).toBe("INSTRUCTED");
      expect((await resend(first.instructionId, { agencyCode: AGENCY, note })).body.code).toBe(
        "CLEARING_RESEND_IN_FLIGHT",
      );
      await peer.sim.admin.completeClearing(`${first.instructionId}-R1`);
      const settled = await until(async () => {
        const b = await batchOf(day);
        return b?.status === "SETTLED" ? b : undefined;
      });
      expect(settled.instructions.map((i) => [i.instructionId, i.status])).toEqual([
        [first.instructionId, "DONE"],
        [second.instructionId, "DONE"],
      ]);
      expect(settled.instructions[0]).toMatchObject({ resends: 1, resentBy: "ops.zhao", resendNote: note });
      expect((await resend(first.instructionId, { agencyCode: AGENCY, note })).body.code).toBe(
        "CLEARING_INSTRUCTION_DONE",
      );
      await new Promise((r) => setTimeout(r, 400));
      expect(await atNontax(day)).toHaveLength(3);
      const audited = (await t.platform.databases
        .get("payment")!
        .query(
          "SELECT actor, detail FROM audit_log WHERE action = 'clearing-instruction.resend' AND subject = $1",
          [`clearing-instruction:${first.instructionId}`],
        )) as Array<{ actor: string; detail: { note: string; before: { status: string; refusal: string } } }>;
      expect(audited).toHaveLength(1);
      expect(audited[0]).toMatchObject({
        actor: "ops.zhao",
        detail: { note, before: { status: "REFUSED", refusal: "账户已冻结" } },
      });
      // Cleared at last: the police system is told.
      await until(() => receiver.find("payment.cleared", p.id));
    } finally {
      await peer.sim.admin.setAutoApprove(true);
    }
  });
});
