import { hmacSm3, sm3 } from "@piaoju/gm-crypto";
import { Keyring, Sealer } from "@piaoju/sealing";
import { describe, expect, it } from "vitest";
import { planChannels } from "./channels.ts";
import { Protector } from "./protect.ts";
import { parseQrText, qrText, readDocumentFields } from "./receipt-text.ts";
import { afterFailure } from "./schedule.ts";
import { withoutContacts } from "./scrub.ts";

describe("the QR code's text", () => {
  const fields = {
    billCode: "11010126",
    number: "0000012345",
    checkCode: "482913",
    issuedAt: new Date("2026-11-30T17:30:00Z"),
    totalYuan: "160.50",
  };

  it("starts with EInvoiceTag and lists code, number, check code, China date and amount, comma-separated", () => {
    expect(qrText(fields)).toBe("CZ-EI-11,11010126,0000012345,482913,20261201,160.50");
  });

  it("reads back code, number and check code, and refuses text that is not a receipt's", () => {
    expect(parseQrText(qrText(fields))).toEqual({
      billCode: "11010126",
      number: "0000012345",
      checkCode: "482913",
    });
    expect(parseQrText("https://evil.example/?a=1")).toBeUndefined();
    expect(parseQrText("CZ-EI-11,1101,0000012345,482913")).toBeUndefined();
  });
});

describe("reading the signed document", () => {
  it("takes the bill name, agency name and red receipt's original from the XML, unescaped", () => {
    const xml =
      "<EInvoice><EInvoiceName>北京市非税收入统一票据（电子）</EInvoiceName><InvoicingPartyName>A &amp; B</InvoicingPartyName>" +
      "<RelatedInvoiceCode>11010126</RelatedInvoiceCode><RelatedInvoiceNumber>0000000001</RelatedInvoiceNumber></EInvoice>";
    expect(readDocumentFields(xml)).toEqual({
      billName: "北京市非税收入统一票据（电子）",
      agencyName: "A & B",
      relatedBillCode: "11010126",
      relatedNumber: "0000000001",
    });
  });
});

describe("retries", () => {
  const policy = { maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 3000 };
  const now = new Date("2026-11-30T00:00:00Z");

  it("back off exponentially up to a cap, then park after the last try", () => {
    const delays = [1, 2, 3].map((n) => {
      const next = afterFailure(n, policy, now);
      return next.status === "PENDING" ? next.nextAttemptAt.getTime() - now.getTime() : -1;
    });
    expect(delays).toEqual([1000, 2000, 3000]);
    expect(afterFailure(4, policy, now)).toEqual({ status: "PARKED" });
  });
});

describe("channels", () => {
  it("go out only where the agency authorized, the platform can send and the payer gave a contact", () => {
    const all = new Set(["EMAIL", "SMS", "WEBHOOK"] as const);
    expect(planChannels({ email: true, sms: true, webhook: true }, all, { email: "a@b.c" })).toEqual([
      "EMAIL",
      "WEBHOOK",
    ]);
    expect(
      planChannels({ email: true, sms: true, webhook: false }, new Set(["WEBHOOK"] as const), {
        email: "a@b.c",
        phone: "1",
      }),
    ).toEqual([]);
    expect(planChannels({ email: false, sms: true, webhook: false }, all, { phone: "13800138000" })).toEqual([
      "SMS",
    ]);
  });
});

describe("protection of personal data", () => {
  const key = Buffer.from("00112233445566778899aabbccddeeff", "hex");
  const protector = new Protector(new Sealer(new Keyring(key)));

  it("seals with SM4 so that the clear text is not in the bytes, and refuses altered bytes or another row", () => {
    const sealed = protector.seal("receipt/1/payer", "13800138000");
    expect(sealed.includes(Buffer.from("13800138000"))).toBe(false);
    expect(protector.unseal("receipt/1/payer", sealed).toString()).toBe("13800138000");
    expect(() => protector.unseal("receipt/2/payer", sealed)).toThrow(/altered/);
    sealed[20]! ^= 1;
    expect(() => protector.unseal("receipt/1/payer", sealed)).toThrow(/altered/);
  });

  it("keeps the digests of rows stored before the shared sealing format (no migration of lookups)", () => {
    const before = hmacSm3(
      sm3(Buffer.concat([Buffer.from("piaoju/delivery/lookup\0"), key])),
      "phone\n13800138000",
    );
    expect(protector.digest("phone", "13800138000")).toBe(before.toString("hex"));
  });

  it("opens a document kept in clear before documents were sealed, and seals new ones", () => {
    const xml = Buffer.from("<?xml version='1.0'?><EInvoice>张三</EInvoice>").toString("base64");
    expect(protector.openDocument("r1", xml)).toBe(xml);
    const stored = protector.sealDocument("r1", xml);
    expect(Buffer.from(stored, "base64").includes(Buffer.from("张三"))).toBe(false);
    expect(protector.openDocument("r1", stored)).toBe(xml);
  });

  it("digests phones by their digits and names without blanks, keyed", () => {
    expect(protector.digest("phone", "+86 138-0013-8000")).toBe(protector.digest("phone", "13800138000"));
    expect(protector.digest("name", " 王 小明")).toBe(protector.digest("name", "王小明"));
    const other = new Protector(new Sealer(new Keyring(Buffer.alloc(16, 7))));
    expect(other.digest("name", "王小明")).not.toBe(protector.digest("name", "王小明"));
  });

  it("opens a pick-up token until it expires, and never a forged one", () => {
    const id = "0b7c1e7e-4a51-4f61-9a43-6f0f3f1b2a10";
    const token = protector.pickupToken(id, new Date(now() + 60_000));
    expect(protector.openPickupToken(token, new Date(now()))).toBe(id);
    expect(protector.openPickupToken(token, new Date(now() + 120_000))).toBeUndefined();
    const forged = Buffer.from(token, "base64url");
    forged[3]! ^= 1;
    expect(protector.openPickupToken(forged.toString("base64url"), new Date(now()))).toBeUndefined();
  });
});

function now(): number {
  return Date.parse("2026-11-30T00:00:00Z");
}

describe("errors kept and logged", () => {
  it("carry no e-mail address or phone number of the payer", () => {
    const message =
      "Can't send mail - all recipients were rejected: 550 5.1.1 <wang@example.test>: no such user; sms to +86 138-0013-8000 failed";
    const scrubbed = withoutContacts(message);
    expect(scrubbed).toBe(
      "Can't send mail - all recipients were rejected: 550 5.1.1 <<e-mail>>: no such user; sms to <phone> failed",
    );
    expect(withoutContacts("webhook answered 503")).toBe("webhook answered 503");
  });
});
