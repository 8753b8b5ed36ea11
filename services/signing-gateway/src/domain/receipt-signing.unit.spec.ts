import { randomUUID } from "node:crypto";
import { sm3 } from "@piaoju/gm-crypto";
import { GrpcStatus } from "@piaoju/runtime";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  answerEventId,
  checkDocument,
  judgeSignFailure,
  keyIdFor,
  parseKeyMapping,
} from "./receipt-signing.ts";

describe("receipt signing decisions", () => {
  it("takes an agency's key from the mapping, else from the pattern", () => {
    const mapping = parseKeyMapping("110101=agency-110101-2026, 220202=shared");
    expect(keyIdFor("110101", mapping, "agency-{agencyCode}")).toBe("agency-110101-2026");
    expect(keyIdFor("330303", mapping, "agency-{agencyCode}")).toBe("agency-330303");
    expect(() => parseKeyMapping("110101")).toThrow(/agencyCode=keyId/);
  });

  it("accepts a document only when its SM3 is the announced digest", () => {
    const document = Buffer.from("<Receipt/>");
    const digest = sm3(document).toString("hex");
    expect(checkDocument(document.toString("base64"), digest).ok).toBe(true);
    const wrong = checkDocument(Buffer.from("<Receipt>x</Receipt>").toString("base64"), digest);
    expect(wrong).toMatchObject({ ok: false, code: "DOCUMENT_DIGEST_MISMATCH" });
  });

  it("signs Header + EInvoiceData of a 1.2.0 document, and refuses one that lacks them", () => {
    const head = '<?xml version="1.0" encoding="UTF-8"?><EInvoice>';
    const body =
      "<Header><Version>1.2.0</Version></Header><EInvoiceData><EInvoiceNumber>1</EInvoiceNumber></EInvoiceData>";
    const document = Buffer.from(`${head}${body}</EInvoice>`);
    const checked = checkDocument(document.toString("base64"), sm3(document).toString("hex"));
    expect(checked.ok && checked.content.toString()).toBe(body);
    const broken = Buffer.from(`${head}<Header><Version>1.2.0</Version></Header></EInvoice>`);
    expect(checkDocument(broken.toString("base64"), sm3(broken).toString("hex"))).toMatchObject({
      ok: false,
      code: "DOCUMENT_MALFORMED",
    });
  });

  it("refuses for good only what the request itself caused; device trouble is retried", () => {
    expect(judgeSignFailure(GrpcStatus.NOT_FOUND, "no key", "k").kind).toBe("no-key");
    expect(judgeSignFailure(GrpcStatus.FAILED_PRECONDITION, "no cert", "k")).toMatchObject({
      kind: "refuse",
      code: "NO_CERTIFICATE",
    });
    for (const code of [
      GrpcStatus.UNAVAILABLE,
      GrpcStatus.DEADLINE_EXCEEDED,
      GrpcStatus.RESOURCE_EXHAUSTED,
      GrpcStatus.INTERNAL,
      GrpcStatus.UNIMPLEMENTED,
    ]) {
      expect(judgeSignFailure(code, "x", "k").kind).toBe("retry");
    }
  });

  it("answers a receipt with the same event id every time, a valid UUID", () => {
    const receiptId = randomUUID();
    expect(answerEventId(receiptId)).toBe(answerEventId(receiptId));
    expect(answerEventId(receiptId)).not.toBe(answerEventId(randomUUID()));
    expect(z.uuid().safeParse(answerEventId(receiptId)).success).toBe(true);
  });
});
