import { describe, expect, it } from "vitest";
import {
  checkSignature,
  readSignatureHeaders,
  SIGNATURE_WINDOW_MS,
  signRequest,
  stringToSign,
} from "./signed-request.ts";

const secret = "s3cr3t-of-the-traffic-police-system";
const body = Buffer.from('{"bizSerialNo":"JJ-2026-0001"}');
const now = new Date("2026-11-22T08:00:00Z");
const base = {
  method: "POST",
  pathWithQuery: "/api/v1/receipts",
  timestamp: String(now.getTime()),
  nonce: "n".repeat(16),
  body,
};

describe("signed business requests", () => {
  it("signs method, path, timestamp, nonce and the body's SM3 in that order", () => {
    expect(stringToSign(base).split("\n")).toEqual([
      "POST",
      "/api/v1/receipts",
      String(now.getTime()),
      "n".repeat(16),
      expect.stringMatching(/^[0-9a-f]{64}$/),
    ]);
  });

  const headers = (over: Partial<typeof base> = {}, sig?: string) => ({
    appId: "app-0001",
    timestamp: over.timestamp ?? base.timestamp,
    nonce: over.nonce ?? base.nonce,
    signature: sig ?? signRequest(secret, { ...base, ...over }),
  });

  it("accepts the signature of the request as sent", () => {
    expect(() => checkSignature(secret, headers(), base, now)).not.toThrow();
  });

  it("refuses a signature of another body, path or method", () => {
    expect(() => checkSignature(secret, headers(), { ...base, body: Buffer.from("{}") }, now)).toThrowError(
      /does not match/,
    );
    expect(() =>
      checkSignature(secret, headers(), { ...base, pathWithQuery: "/api/v1/receipts?x=1" }, now),
    ).toThrowError(/does not match/);
    expect(() => checkSignature(secret, headers(), { ...base, method: "GET" }, now)).toThrowError(
      /does not match/,
    );
    expect(() => checkSignature("another secret", headers(), base, now)).toThrowError(/does not match/);
  });

  it("refuses a request outside the time window, however well signed", () => {
    const old = String(now.getTime() - SIGNATURE_WINDOW_MS - 1000);
    expect(() => checkSignature(secret, headers({ timestamp: old }), base, now)).toThrowError(
      /off the server's clock/,
    );
  });

  it("names each missing or malformed signature header", () => {
    expect(() =>
      readSignatureHeaders({ "x-piaoju-app-id": "app-0001", "x-piaoju-timestamp": "12" }),
    ).toThrowError(/x-piaoju-timestamp.*x-piaoju-nonce.*x-piaoju-signature/);
  });
});
