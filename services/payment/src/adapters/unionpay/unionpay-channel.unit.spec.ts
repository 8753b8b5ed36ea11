import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, createSign, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChannelAccount } from "../channel.ts";
import { acpTime, fromTraceTime, parseAnswer, signFields, signingString, verifySignature } from "./acp.ts";
import { readUnionpayFile, UnionpayChannel, uuidOf } from "./unionpay-channel.ts";

/**
 * The UnionPay adapter held to the protocol itself: notifies signed here by hand with node:crypto
 * (sorted key=value&, hex SHA-256, SHA256withRSA, base64) under certificates the openssl CLI makes
 * (an implementation nobody here wrote), neither the simulator nor the adapter's own signer.
 */
const dir = mkdtempSync(join(tmpdir(), "unionpay-unit-"));
const openssl = (args: string[]) =>
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
const MER_ID = "898110248160001";
const UNIONPAY_CN = "041@Z20260101@中国银联股份有限公司@00000001";

interface Made {
  pem: string;
  key: KeyObject;
}

function ca(name: string, issuer?: string): Made {
  writeFileSync(
    join(dir, `${name}.ext`),
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
  );
  if (!issuer) {
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
      ].concat(["-subj", `/C=CN/O=Test CA/CN=${name}`, "-days", "3650", "-extensions", "v3_ca"]),
    );
  } else {
    openssl(
      [
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
      ].concat(["-subj", `/C=CN/O=Test CA/CN=${name}`]),
    );
    openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        `${issuer}.pem`,
        "-CAkey",
        `${issuer}.key`,
        "-CAcreateserial",
      ].concat(["-out", `${name}.pem`, "-days", "3650", "-extfile", `${name}.ext`]),
    );
  }
  return read(name);
}

function leaf(name: string, cn: string, issuer: string): Made {
  writeFileSync(
    join(dir, `${name}.ext`),
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n",
  );
  openssl(
    [
      "req",
      "-new",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-utf8",
    ].concat(["-subj", `/C=CN/O=China Financial Certification Authority/OU=Enterprises/CN=${cn}`]),
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${issuer}.pem`,
      "-CAkey",
      `${issuer}.key`,
      "-CAcreateserial",
    ].concat(["-out", `${name}.pem`, "-days", "365", "-extfile", `${name}.ext`]),
  );
  return read(name);
}

function read(name: string): Made {
  return {
    pem: readFileSync(join(dir, `${name}.pem`), "utf8"),
    key: createPrivateKey(readFileSync(join(dir, `${name}.key`), "utf8")),
  };
}

let root: Made;
let middle: Made;
let signing: Made;
let merchant: Made;
const forged: Record<string, Made> = {};
let account: ChannelAccount;
const channel = new UnionpayChannel({ timeoutMs: 1000 });

beforeAll(() => {
  root = ca("root");
  middle = ca("middle", "root");
  signing = leaf("signing", UNIONPAY_CN, "middle");
  merchant = leaf("merchant", "041@Z20260101@某某公安局@00000009", "middle");
  forged.owner = leaf("owner", "041@Z20260101@某某科技有限公司@00000002", "middle");
  ca("otherRoot");
  ca("otherMiddle", "otherRoot");
  forged.chain = leaf("chain", UNIONPAY_CN, "otherMiddle");
  account = {
    accountId: MER_ID,
    config: {
      certId: "69026536290",
      privateKey: merchant.key.export({ type: "pkcs8", format: "pem" }).toString(),
      rootCert: root.pem,
      middleCert: middle.pem,
      gatewayUrl: "http://127.0.0.1:9/gateway/api/",
      fileUrl: "http://127.0.0.1:9/",
    },
  };
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The rule written out again, by hand: sorted key=value&, hex SHA-256, SHA256withRSA, base64. */
function handSign(fields: Record<string, string>, key: KeyObject): string {
  const text = Object.keys(fields)
    .filter((k) => k !== "signature")
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join("&");
  const hex = createHash("sha256").update(text, "utf8").digest("hex");
  return createSign("RSA-SHA256").update(hex, "utf8").sign(key, "base64");
}

function paidNotify(
  over: Record<string, string> = {},
  cert: Made = signing,
  key: KeyObject = cert.key,
): Record<string, string> {
  const fields: Record<string, string> = {
    version: "5.1.0",
    encoding: "UTF-8",
    signMethod: "01",
    accessType: "0",
    bizType: "000000",
    txnType: "01",
    txnSubType: "07",
    merId: MER_ID,
    orderId: "P20261203a1b2c3d4e5f6a7b8c9d0",
    txnTime: "20261203101500",
    txnAmt: "20000",
    currencyCode: "156",
    queryId: "812612031015001234567",
    traceNo: "123456",
    traceTime: "1203101530",
    settleAmt: "20000",
    settleCurrencyCode: "156",
    settleDate: "1203",
    respCode: "00",
    respMsg: "成功[0000000]",
    signPubKeyCert: cert.pem,
    ...over,
  };
  return { ...fields, signature: handSign(fields, key) };
}

const asNotify = (fields: Record<string, string>) => ({
  body: new URLSearchParams(fields).toString(),
  headers: { "content-type": "application/x-www-form-urlencoded" },
});

describe("UnionPay notify verification (ACP 5.1.0, signMethod 01)", () => {
  it("takes a notify signed by hand under UnionPay's certificate: paid, its queryId, amount and trace time", () => {
    const v = channel.verifyNotify(account, asNotify(paidNotify()));
    expect(v).toEqual({
      accountId: MER_ID,
      orderId: "P20261203a1b2c3d4e5f6a7b8c9d0",
      outcome: {
        kind: "paid",
        channelTradeNo: "812612031015001234567",
        amountFen: 20000,
        paidAt: new Date("2026-12-03T10:15:30+08:00"),
      },
    });
    expect(channel.notifyAccountId(asNotify(paidNotify()))).toBe(MER_ID);
  });

  it("refuses every forgery and every notify that is not a paid result of this merchant", () => {
    const good = paidNotify();
    const cases: Array<[string, Record<string, string>]> = [
      ["a field changed after signing", { ...good, txnAmt: "20001" }],
      ["the order changed after signing", { ...good, orderId: "P20261203000000000000000000000" }],
      ["a field added after signing", { ...good, reqReserved: "x" }],
      ["signed with another key", paidNotify({}, signing, merchant.key)],
      [
        "a certificate another root's chain issued, with UnionPay's name",
        paidNotify({}, forged.chain as Made),
      ],
      ["another company's certificate under the real middle", paidNotify({}, forged.owner as Made)],
      ["the middle certificate itself", paidNotify({}, middle)],
      [
        "no certificate",
        (() => {
          const { signPubKeyCert: _, ...rest } = good;
          return rest;
        })(),
      ],
      [
        "no signature",
        (() => {
          const { signature: _, ...rest } = good;
          return rest;
        })(),
      ],
      ["version 5.0.0", paidNotify({ version: "5.0.0" })],
      ["signMethod 11", paidNotify({ signMethod: "11" })],
      ["another merchant", paidNotify({ merId: "898110248169999" })],
      ["a failed payment", paidNotify({ respCode: "01", respMsg: "交易失败" })],
      ["a query, not a consume", paidNotify({ txnType: "00" })],
    ];
    for (const [name, fields] of cases) {
      expect(channel.verifyNotify(account, asNotify(fields)), name).toBeUndefined();
    }
    // A key given twice: which one the signature covers is not for us to guess.
    const twice = `${asNotify(good).body}&txnAmt=1`;
    expect(channel.verifyNotify(account, { body: twice, headers: {} })).toBeUndefined();
  });

  it("refuses UnionPay's own certificate once it has expired", () => {
    const later = new UnionpayChannel({
      timeoutMs: 1000,
      clock: () => new Date(Date.now() + 400 * 86_400_000),
    });
    expect(later.verifyNotify(account, asNotify(paidNotify()))).toBeUndefined();
  });

  it("reads a notify for another amount as that amount (the order match decides, not the notify)", () => {
    const v = channel.verifyNotify(account, asNotify(paidNotify({ txnAmt: "1", settleAmt: "1" })));
    expect(v?.outcome).toMatchObject({ kind: "paid", amountFen: 1 });
  });

  it("takes a refund's result as a refund's, naming our refund id", () => {
    const v = channel.verifyNotify(
      account,
      asNotify(paidNotify({ txnType: "04", txnSubType: "00", orderId: "0f8e6c1a2b3c4d5e8f90a1b2c3d4e5f6" })),
    );
    expect(v).toEqual({ accountId: MER_ID, refundId: "0f8e6c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6" });
    // A failed refund's result is taken too (else UnionPay would send it for ever): the query decides.
    const failed = paidNotify({
      txnType: "04",
      txnSubType: "00",
      orderId: "0f8e6c1a2b3c4d5e8f90a1b2c3d4e5f6",
      respCode: "01",
    });
    expect(channel.verifyNotify(account, asNotify(failed))).toMatchObject({ refundId: expect.any(String) });
    // Not one of our refund ids: refused.
    expect(
      channel.verifyNotify(account, asNotify(paidNotify({ txnType: "04", orderId: "R2026120300000001" }))),
    ).toBeUndefined();
  });
});

describe("UnionPay message rules", () => {
  it("signs as the rule says: blank fields out, the signature checks by hand", () => {
    const signed = signFields({ b: "2", a: "1", blank: " ", c: "x=y&z" }, merchant.key);
    expect(Object.keys(signed).sort()).toEqual(["a", "b", "c", "signature"]);
    expect(signingString(signed)).toBe("a=1&b=2&c=x=y&z");
    expect(signed.signature).toBe(handSign({ a: "1", b: "2", c: "x=y&z" }, merchant.key));
    expect(verifySignature(signed, merchant.key)).toBe(true);
    expect(verifySignature({ ...signed, a: "2" }, merchant.key)).toBe(false);
  });

  it("reads an answer as UnionPay's SDKs do: not percent-decoded, an & inside {} or [] kept", () => {
    expect(parseAnswer("respCode=00&reserved={a=1&b=2}&list=[x&y]&signature=ab+/c==")).toEqual({
      respCode: "00",
      reserved: "{a=1&b=2}",
      list: "[x&y]",
      signature: "ab+/c==",
    });
    expect(parseAnswer("respCode=00&respCode=11")).toBeUndefined();
    expect(parseAnswer("=00")).toBeUndefined();
  });

  it("writes txnTime in Beijing time and reads a year-less trace time near its day", () => {
    expect(acpTime(new Date("2026-12-31T16:30:05Z"))).toBe("20270101003005");
    expect(fromTraceTime("1231235959", new Date("2027-01-01T04:00:00Z"))).toEqual(
      new Date("2026-12-31T23:59:59+08:00"),
    );
    expect(fromTraceTime("1399999999", new Date())).toBeUndefined();
    expect(uuidOf("0f8e6c1a2b3c4d5e8f90a1b2c3d4e5f6")).toBe("0f8e6c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6");
    expect(uuidOf("P20261203a1b2c3")).toBeUndefined();
  });
});

describe("UnionPay reconciliation file (ZM)", () => {
  /**
   * A line laid out by byte offsets (0-based) added up by hand from the spec's widths, one space
   * between fields, independently of the adapter's table: traceNo 28, traceTime 35, txnAmt 66,
   * queryId 87, orderId 112, txnType 215, origQryId 271, merId 293, origOrderId 476; 607 bytes.
   */
  const line = (v: Record<number, string>) => {
    const b = Buffer.alloc(607, " ");
    for (const [at, value] of Object.entries(v)) b.write(value, Number(at), "latin1");
    return b.toString("latin1");
  };

  it("reads consumes and refunds by the documented layout", () => {
    const text = [
      line({
        0: "S22",
        28: "123456",
        35: "1203101530",
        66: "000000020000",
        87: "812612031015001234567",
        112: "P20261203a1b2c3d4e5f6a7b8c9d0",
        215: "01",
        293: MER_ID,
      }),
      line({
        0: "S30",
        35: "1203120000",
        66: "000000005000",
        87: "812612031200009876543",
        112: "0f8e6c1a2b3c4d5e8f90a1b2c3d4e5f6",
        215: "04",
        271: "812612031015001234567",
        293: MER_ID,
        476: "P20261203a1b2c3d4e5f6a7b8c9d0",
      }),
      "",
    ].join("\r\n");
    const zip = zipSync({ [`INN26120388ZM_${MER_ID}`]: new Uint8Array(Buffer.from(text, "latin1")) });
    expect(readUnionpayFile(zip, MER_ID, "2026-12-03")).toEqual([
      {
        kind: "payment",
        orderId: "P20261203a1b2c3d4e5f6a7b8c9d0",
        channelTradeNo: "812612031015001234567",
        amountFen: 20000,
        completedAt: new Date("2026-12-03T10:15:30+08:00"),
      },
      {
        kind: "refund",
        orderId: "P20261203a1b2c3d4e5f6a7b8c9d0",
        channelTradeNo: "812612031200009876543",
        amountFen: 5000,
        refundId: "0f8e6c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
        completedAt: new Date("2026-12-03T12:00:00+08:00"),
      },
    ]);
  });

  it("refuses a file of another merchant, an amount that is not one, and a zip without a ZM file", () => {
    const zipOf = (l: string) =>
      zipSync({ [`INN26120388ZM_${MER_ID}`]: new Uint8Array(Buffer.from(l, "latin1")) });
    const base = { 35: "1203101530", 66: "000000020000", 112: "P1", 215: "01", 293: MER_ID };
    expect(() =>
      readUnionpayFile(zipOf(line({ ...base, 293: "898110248169999" })), MER_ID, "2026-12-03"),
    ).toThrow(/another merchant/);
    expect(() =>
      readUnionpayFile(zipOf(line({ ...base, 66: "0000000200.0" })), MER_ID, "2026-12-03"),
    ).toThrow(/amount/);
    expect(() =>
      readUnionpayFile(zipSync({ "readme.txt": new Uint8Array([1]) }), MER_ID, "2026-12-03"),
    ).toThrow(/no ZM file/);
  });
});
