import { timingSafeEqual } from "node:crypto";
import { type SignedRequest, signRequest } from "@piaoju/business-client";
import { AppError } from "@piaoju/runtime/errors";

/** The scheme (string to sign, HMAC-SM3) is the business client's; the gateway verifies with it. */
export { type SignedRequest, signRequest, stringToSign } from "@piaoju/business-client";

/** Requests older or newer than this are refused, and nonces are remembered this long (and a bit). */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;

/** The signature's headers, as read from a request. */
export interface SignatureHeaders {
  appId: string;
  timestamp: string;
  nonce: string;
  signature: string;
}

export function readSignatureHeaders(
  headers: Record<string, string | string[] | undefined>,
): SignatureHeaders {
  const one = (name: string) => {
    const v = headers[name];
    return typeof v === "string" ? v.trim() : "";
  };
  const got = {
    appId: one("x-piaoju-app-id"),
    timestamp: one("x-piaoju-timestamp"),
    nonce: one("x-piaoju-nonce"),
    signature: one("x-piaoju-signature"),
  };
  const issues = [
    !/^[A-Za-z0-9_-]{4,64}$/.test(got.appId) && {
      field: "header.x-piaoju-app-id",
      message: "the app id given at registration",
    },
    !/^\d{13}$/.test(got.timestamp) && {
      field: "header.x-piaoju-timestamp",
      message: "Unix time in milliseconds",
    },
    !/^[A-Za-z0-9_-]{16,64}$/.test(got.nonce) && {
      field: "header.x-piaoju-nonce",
      message: "16-64 letters, digits, _ or -, new for every call",
    },
    !/^[0-9a-f]{64}$/.test(got.signature) && {
      field: "header.x-piaoju-signature",
      message: "hex HMAC-SM3, 64 characters",
    },
  ].filter((i): i is { field: string; message: string } => Boolean(i));
  if (issues.length > 0) {
    throw new AppError("unauthenticated", issues.map((i) => `${i.field}: ${i.message}`).join("; "), {
      code: "SIGNATURE_HEADERS",
      issues: issues.map((i) => ({ ...i, rule: "required" })),
    });
  }
  return got;
}

/** Refuses a stale or future timestamp, then a wrong signature (in constant time). */
export function checkSignature(
  secret: string,
  headers: SignatureHeaders,
  req: Omit<SignedRequest, "timestamp" | "nonce">,
  now: Date,
): void {
  const skew = Math.abs(now.getTime() - Number(headers.timestamp));
  if (skew > SIGNATURE_WINDOW_MS) {
    throw new AppError(
      "unauthenticated",
      `timestamp is ${Math.round(skew / 1000)} s off the server's clock (at most ${SIGNATURE_WINDOW_MS / 1000} s)`,
      {
        code: "STALE_REQUEST",
      },
    );
  }
  const expected = Buffer.from(
    signRequest(secret, { ...req, timestamp: headers.timestamp, nonce: headers.nonce }),
    "hex",
  );
  const presented = Buffer.from(headers.signature, "hex");
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    throw new AppError("unauthenticated", "signature does not match the request", { code: "BAD_SIGNATURE" });
  }
}
