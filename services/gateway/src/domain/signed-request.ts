import { randomUUID, timingSafeEqual } from "node:crypto";
import { hmacSm3, sm3 } from "@piaoju/gm-crypto";
import { AppError } from "@piaoju/runtime";

/**
 * How a business system signs a call to the business API (the scheme is in the README):
 *
 *   string to sign = METHOD "\n" PATH_WITH_QUERY "\n" TIMESTAMP "\n" NONCE "\n" hex(SM3(body))
 *   signature      = hex(HMAC-SM3(appSecret, string to sign))
 *
 * sent as X-Piaoju-App-Id, X-Piaoju-Timestamp (Unix milliseconds), X-Piaoju-Nonce (16-64
 * characters, new for every call) and X-Piaoju-Signature. Signing the body's hash binds
 * the body; signing the path and method stops a signature moving to another call.
 */
export interface SignedRequest {
  method: string;
  pathWithQuery: string;
  timestamp: string;
  nonce: string;
  body: Uint8Array;
}

/** Requests older or newer than this are refused, and nonces are remembered this long (and a bit). */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;

export function stringToSign(req: SignedRequest): string {
  return [
    req.method.toUpperCase(),
    req.pathWithQuery,
    req.timestamp,
    req.nonce,
    sm3(req.body).toString("hex"),
  ].join("\n");
}

export function signRequest(secret: string, req: SignedRequest): string {
  return hmacSm3(Buffer.from(secret, "utf8"), stringToSign(req)).toString("hex");
}

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

/**
 * A business system's side of the scheme: calls the business API with each request signed.
 * What an integrator writes in their own language; here for the demo and the tests.
 */
export function businessClient(options: { baseUrl: string; appId: string; appSecret: string }) {
  return async (
    method: "GET" | "POST",
    pathWithQuery: string,
    body?: unknown,
    override: { secret?: string; timestamp?: number; nonce?: string; appId?: string } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const timestamp = String(override.timestamp ?? Date.now());
    const nonce = override.nonce ?? randomUUID().replaceAll("-", "");
    const signature = signRequest(override.secret ?? options.appSecret, {
      method,
      pathWithQuery,
      timestamp,
      nonce,
      body: raw,
    });
    const res = await fetch(`${options.baseUrl}${pathWithQuery}`, {
      method,
      headers: {
        "x-piaoju-app-id": override.appId ?? options.appId,
        "x-piaoju-timestamp": timestamp,
        "x-piaoju-nonce": nonce,
        "x-piaoju-signature": signature,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: raw }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}
