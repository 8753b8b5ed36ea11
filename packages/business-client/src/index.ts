import { randomUUID } from "node:crypto";
import { hmacSm3, sm3 } from "@piaoju/gm-crypto";

/**
 * How a business system signs a call to the business API (the scheme is in the gateway's README):
 *
 *   string to sign = METHOD "\n" PATH_WITH_QUERY "\n" TIMESTAMP "\n" NONCE "\n" hex(SM3(body))
 *   signature      = hex(HMAC-SM3(appSecret, string to sign))
 *
 * sent as X-Piaoju-App-Id, X-Piaoju-Timestamp (Unix milliseconds), X-Piaoju-Nonce (16-64
 * characters, new for every call) and X-Piaoju-Signature. Signing the body's hash binds
 * the body; signing the path and method stops a signature moving to another call.
 * The gateway verifies with these same functions: the scheme is written once, here.
 */
export interface SignedRequest {
  method: string;
  pathWithQuery: string;
  timestamp: string;
  nonce: string;
  body: Uint8Array;
}

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

export interface BusinessClientOptions {
  /** The gateway's address, e.g. http://127.0.0.1:8080 (paths start with /api/v1/…). */
  baseUrl: string;
  appId: string;
  appSecret: string;
}

/** What a test may change in one call, to prove the gateway refuses it. */
export interface SigningOverride {
  secret?: string;
  timestamp?: number;
  nonce?: string;
  appId?: string;
  /** Send (and sign) exactly these bytes instead of the body's JSON. */
  rawBody?: Uint8Array | string;
  /** Send this content type instead of application/json. */
  contentType?: string;
}

export type BusinessCall = (
  method: "GET" | "POST" | "PUT",
  pathWithQuery: string,
  body?: unknown,
  override?: SigningOverride,
) => Promise<{ status: number; body: Record<string, unknown>; raw: Buffer; contentType: string }>;

/**
 * A business system's side of the scheme: calls the business API with each request signed.
 * What an integrator writes in their own language; here for the demo, the tests and the benches.
 */
export function businessClient(options: BusinessClientOptions): BusinessCall {
  return async (method, pathWithQuery, body, override = {}) => {
    const raw =
      override.rawBody !== undefined
        ? Buffer.from(override.rawBody)
        : body === undefined
          ? Buffer.alloc(0)
          : Buffer.from(JSON.stringify(body));
    const sendsBody = body !== undefined || override.rawBody !== undefined;
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
        ...(sendsBody ? { "content-type": override.contentType ?? "application/json" } : {}),
      },
      ...(sendsBody ? { body: raw } : {}),
    });
    // JSON answers are parsed; any other (the receipt's XML document) is in `raw`, exactly as sent.
    const contentType = res.headers.get("content-type") ?? "";
    const bytes = Buffer.from(await res.arrayBuffer());
    const parsed = contentType.includes("json")
      ? (JSON.parse(bytes.toString("utf8")) as Record<string, unknown>)
      : {};
    return { status: res.status, body: parsed, raw: bytes, contentType };
  };
}

/**
 * How Piaoju signs what it pushes to a business system (delivery's receipts, payment results);
 * the receiving side checks it the same way:
 *
 *   string to sign = "POST" "\n" TIMESTAMP "\n" DELIVERY_ID "\n" hex(SM3(body))
 *   signature      = hex(HMAC-SM3(secret, string to sign))
 *
 * sent as X-Piaoju-Timestamp (Unix ms), X-Piaoju-Delivery (the same on every try, so the
 * receiver drops duplicates by it) and X-Piaoju-Signature.
 */
export function callbackStringToSign(timestamp: string, deliveryId: string, body: Uint8Array): string {
  return ["POST", timestamp, deliveryId, sm3(body).toString("hex")].join("\n");
}

export function signCallback(
  secret: string,
  timestamp: string,
  deliveryId: string,
  body: Uint8Array,
): string {
  return hmacSm3(Buffer.from(secret, "utf8"), callbackStringToSign(timestamp, deliveryId, body)).toString(
    "hex",
  );
}
