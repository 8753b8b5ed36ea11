import { createCipheriv, createSign, generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { NotifyRequest } from "../channel.ts";
import { readWechatBill, rfc3339Shanghai, WechatChannel } from "./wechat-channel.ts";

// Keys made here; the notify built by hand from the documented format (not by the SDK, not by
// the simulator), so the adapter's verification is held to the protocol itself.
const platform = generateKeyPairSync("rsa", { modulusLength: 2048 });
const merchant = generateKeyPairSync("rsa", { modulusLength: 2048 });
const apiV3Key = randomBytes(16).toString("hex");
const MCHID = "1900000109";
const APPID = "wx0123456789abcdef";
const SERIAL = "PUB_KEY_ID_0114232134912410000000000000";
const account = {
  accountId: MCHID,
  config: {
    appId: APPID,
    serialNo: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
    privateKey: merchant.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    platformSerial: SERIAL,
    platformPublicKey: platform.publicKey.export({ type: "spki", format: "pem" }).toString(),
    apiV3Key,
    baseUrl: "http://127.0.0.1:9/",
  },
};
const channel = new WechatChannel({ timeoutMs: 1000 });

function notify(
  over: {
    transaction?: Record<string, unknown>;
    /** The whole resource instead of a transaction (a refund's), and its original_type / associated_data. */
    plain?: Record<string, unknown>;
    originalType?: string;
    eventType?: string;
    key?: string;
    timestamp?: number;
    serial?: string;
    signWith?: typeof platform.privateKey;
    after?: (body: string) => string;
  } = {},
): NotifyRequest {
  const transaction = {
    appid: APPID,
    mchid: MCHID,
    out_trade_no: "P20260101aabbccddeeff00112233",
    transaction_id: "4200000000202601010000000001",
    trade_type: "NATIVE",
    trade_state: "SUCCESS",
    success_time: "2026-01-01T10:00:05+08:00",
    amount: { total: 20000, payer_total: 20000, currency: "CNY", payer_currency: "CNY" },
    ...over.transaction,
  };
  const iv = "abcdef012345";
  const originalType = over.originalType ?? "transaction";
  const cipher = createCipheriv("aes-256-gcm", Buffer.from(over.key ?? apiV3Key), iv);
  cipher.setAAD(Buffer.from(originalType));
  const ciphertext = Buffer.concat([
    cipher.update(JSON.stringify(over.plain ?? transaction), "utf8"),
    cipher.final(),
    cipher.getAuthTag(),
  ]).toString("base64");
  const body = JSON.stringify({
    id: "EV-2018022511223320873",
    create_time: "2026-01-01T10:00:06+08:00",
    resource_type: "encrypt-resource",
    event_type: over.eventType ?? "TRANSACTION.SUCCESS",
    summary: "支付成功",
    resource: {
      original_type: originalType,
      algorithm: "AEAD_AES_256_GCM",
      ciphertext,
      associated_data: originalType,
      nonce: iv,
    },
  });
  const timestamp = String(over.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = "593BEC0C930BF1AFEB40B4A08C8FB242";
  const signature = createSign("RSA-SHA256")
    .update(`${timestamp}\n${nonce}\n${body}\n`)
    .sign(over.signWith ?? platform.privateKey, "base64");
  return {
    body: over.after ? over.after(body) : body,
    headers: {
      "wechatpay-timestamp": timestamp,
      "wechatpay-nonce": nonce,
      "wechatpay-serial": over.serial ?? SERIAL,
      "wechatpay-signature": signature,
    },
    pathAccountId: MCHID,
  };
}

/** 退款结果通知 as documented: the refund's resource (no appid), its status matching the event type. */
const refundResource = (over: Record<string, unknown> = {}) => ({
  mchid: MCHID,
  out_trade_no: "P20260101aabbccddeeff00112233",
  transaction_id: "4200000000202601010000000001",
  out_refund_no: "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
  refund_id: "50000000382019052709732678859",
  refund_status: "SUCCESS",
  success_time: "2026-01-02T09:30:00+08:00",
  user_received_account: "支付用户零钱",
  amount: { total: 20000, refund: 5000, payer_total: 20000, payer_refund: 5000 },
  ...over,
});
const refundNotify = (eventType: string, over: Record<string, unknown> = {}, extra = {}) =>
  notify({ eventType, plain: refundResource(over), originalType: "refund", ...extra });

describe("WeChat Pay refund notify (REFUND.SUCCESS / ABNORMAL / CLOSED)", () => {
  it("reads REFUND.SUCCESS as the refund paid back: which refund, which order, how much, when", () => {
    expect(channel.verifyNotify(account, refundNotify("REFUND.SUCCESS"))).toEqual({
      accountId: MCHID,
      refundId: "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
      orderId: "P20260101aabbccddeeff00112233",
      refund: {
        kind: "refunded",
        channelRefundNo: "50000000382019052709732678859",
        amountFen: 5000,
        refundedAt: new Date("2026-01-02T01:30:00Z"),
      },
    });
  });

  it("reads REFUND.ABNORMAL and REFUND.CLOSED", () => {
    expect(
      channel.verifyNotify(account, refundNotify("REFUND.ABNORMAL", { refund_status: "ABNORMAL" }))?.refund,
    ).toEqual({ kind: "abnormal" });
    expect(
      channel.verifyNotify(account, refundNotify("REFUND.CLOSED", { refund_status: "CLOSED" }))?.refund,
    ).toEqual({ kind: "closed" });
  });

  it.each([
    ["another key's signature", "REFUND.SUCCESS", {}, { signWith: merchant.privateKey }],
    ["encrypted with another APIv3 key", "REFUND.SUCCESS", {}, { key: randomBytes(16).toString("hex") }],
    ["a timestamp 6 minutes old", "REFUND.SUCCESS", {}, { timestamp: Math.floor(Date.now() / 1000) - 360 }],
    ["the event and the status inside disagreeing", "REFUND.SUCCESS", { refund_status: "CLOSED" }, {}],
    ["another merchant inside", "REFUND.SUCCESS", { mchid: "1900000999" }, {}],
    ["no out_refund_no", "REFUND.SUCCESS", { out_refund_no: undefined }, {}],
    ["an amount that is not one", "REFUND.SUCCESS", { amount: { refund: "50.00" } }, {}],
    ["an unknown refund event", "REFUND.PROCESSING", { refund_status: "PROCESSING" }, {}],
  ])("refuses %s", (_name, event, over, extra) => {
    expect(channel.verifyNotify(account, refundNotify(event, over, extra))).toBeUndefined();
  });
});

describe("WeChat Pay notify verification (AEAD_AES_256_GCM resource, SHA256withRSA headers)", () => {
  it("takes a notify signed by the platform key and decrypted with the APIv3 key", () => {
    const n = notify();
    expect(channel.notifyAccountId(n)).toBe(MCHID);
    expect(channel.verifyNotify(account, n)).toEqual({
      accountId: MCHID,
      orderId: "P20260101aabbccddeeff00112233",
      outcome: {
        kind: "paid",
        channelTradeNo: "4200000000202601010000000001",
        amountFen: 20000,
        paidAt: new Date("2026-01-01T02:00:05Z"),
      },
    });
  });

  it.each([
    ["another key's signature", { signWith: merchant.privateKey }],
    ["the body changed after signing", { after: (b: string) => b.replace("支付成功", "支付成功!") }],
    ["encrypted with another APIv3 key", { key: randomBytes(16).toString("hex") }],
    ["an unknown serial", { serial: "PUB_KEY_ID_0000" }],
    ["a timestamp 6 minutes old", { timestamp: Math.floor(Date.now() / 1000) - 360 }],
    ["a refund's event over a transaction", { eventType: "REFUND.SUCCESS" }],
    ["another merchant inside", { transaction: { mchid: "1900000999" } }],
    ["another appid inside", { transaction: { appid: "wx0000000000000000" } }],
  ])("refuses %s", (_name, over) => {
    expect(channel.verifyNotify(account, notify(over))).toBeUndefined();
  });

  it("refuses a notify missing any Wechatpay-* header", () => {
    for (const h of ["wechatpay-timestamp", "wechatpay-nonce", "wechatpay-serial", "wechatpay-signature"]) {
      const n = notify();
      delete n.headers[h];
      expect(channel.verifyNotify(account, n), h).toBeUndefined();
    }
  });

  it("reads a notify for another amount as that amount (the order match decides, not the notify)", () => {
    const v = channel.verifyNotify(account, notify({ transaction: { amount: { total: 1 } } }));
    expect(v?.outcome).toMatchObject({ kind: "paid", amountFen: 1 });
  });
});

describe("WeChat Pay trade bill and times", () => {
  it("reads SUCCESS and REFUND rows by column name, the backquotes dropped, and stops at the totals", () => {
    const header =
      "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
    const row = (values: string[]) => values.map((v) => `\`${v}`).join(",");
    const text = [
      header,
      row([
        "2026-01-01 10:00:05",
        APPID,
        MCHID,
        "0",
        "",
        "4200000001",
        "P1",
        "o",
        "NATIVE",
        "SUCCESS",
        "OTHERS",
        "CNY",
        "200.00",
        "0.00",
        "0",
        "0",
        "0.00",
        "0.00",
        "",
        "",
        "罚款",
        "",
        "0.00000",
        "0.00%",
        "200.00",
        "0.00",
        "",
      ]),
      row([
        "2026-01-01 11:00:00",
        APPID,
        MCHID,
        "0",
        "",
        "4200000001",
        "P1",
        "o",
        "NATIVE",
        "REFUND",
        "OTHERS",
        "CNY",
        "0.00",
        "0.00",
        "50300001",
        "R-1",
        "50.00",
        "0.00",
        "ORIGINAL",
        "SUCCESS",
        "罚款",
        "",
        "0.00000",
        "0.00%",
        "0.00",
        "50.00",
        "",
      ]),
      "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
      row(["2", "200.00", "50.00", "0.00", "0.00000", "200.00", "50.00"]),
    ].join("\r\n");
    expect(readWechatBill(text)).toEqual([
      {
        kind: "payment",
        orderId: "P1",
        channelTradeNo: "4200000001",
        amountFen: 20000,
        completedAt: new Date("2026-01-01T02:00:05Z"),
      },
      {
        kind: "refund",
        orderId: "P1",
        channelTradeNo: "50300001",
        amountFen: 5000,
        refundId: "R-1",
        completedAt: new Date("2026-01-01T03:00:00Z"),
      },
    ]);
  });

  it("writes RFC 3339 in Beijing time", () => {
    expect(rfc3339Shanghai(new Date("2026-01-01T16:30:00Z"))).toBe("2026-01-02T00:30:00+08:00");
  });
});
