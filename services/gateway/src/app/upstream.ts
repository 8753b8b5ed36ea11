import { context, propagation } from "@opentelemetry/api";
import { ASSERTION_HEADER, type AssertedIdentity, type AssertionSigner } from "@piaoju/access";
import { AppError } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";

/**
 * How the gateway reaches the services behind it: with the platform's token (the gateway is a
 * service) and, signed, the person or business system it authenticated and their grants.
 */
export interface Upstream {
  request(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    caller: AssertedIdentity,
    /** A value to send as JSON, or a JSON body's bytes exactly as they came (forwarded, never re-serialised). */
    body?: unknown,
  ): Promise<UpstreamAnswer>;
}

/** The bytes to send: a Buffer as it is (a body relayed byte for byte), anything else as JSON. */
function payloadOf(body: unknown): string | Buffer {
  return Buffer.isBuffer(body) ? body : JSON.stringify(body);
}

export interface UpstreamAnswer {
  status: number;
  /** Parsed, when the answer is JSON. */
  body: unknown;
  contentType?: string;
  raw?: Buffer;
  headers?: Partial<Record<"content-disposition" | "cache-control", string>>;
}

/** Embedded: the services share this process's HTTP server; calls go in without a socket. */
export function inProcessUpstream(http: FastifyInstance, token: string, signer: AssertionSigner): Upstream {
  return {
    async request(method, path, caller, body) {
      const res = await http.inject({
        method,
        url: path,
        headers: headersFor(token, signer, method, path, caller, body),
        ...(body === undefined ? {} : { payload: payloadOf(body) }),
      });
      const contentType = String(res.headers["content-type"] ?? "");
      const raw = res.rawPayload;
      return {
        status: res.statusCode,
        body: contentType.includes("json") ? res.json() : undefined,
        contentType,
        raw,
        headers: pick((h) => res.headers[h]),
      };
    },
  };
}

/** Cluster: the service's own address (a Kubernetes Service), with a deadline. */
export function httpUpstream(
  service: string,
  baseUrl: string,
  token: string,
  signer: AssertionSigner,
  timeoutMs = 10_000,
): Upstream {
  return {
    async request(method, path, caller, body) {
      try {
        const res = await fetch(new URL(path, baseUrl), {
          method,
          headers: headersFor(token, signer, method, path, caller, body),
          ...(body === undefined ? {} : { body: payloadOf(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const contentType = res.headers.get("content-type") ?? "";
        const raw = Buffer.from(await res.arrayBuffer());
        return {
          status: res.status,
          body: contentType.includes("json") ? JSON.parse(raw.toString("utf8")) : undefined,
          contentType,
          raw,
          headers: pick((h) => res.headers.get(h) ?? undefined),
        };
      } catch (error) {
        throw new AppError("unavailable", `the ${service} service did not answer in time`, {
          code: "UPSTREAM_UNAVAILABLE",
          cause: error,
        });
      }
    },
  };
}

/** The internal token, the signed assertion of who calls, and the active trace (so the hop joins the trace). */
function headersFor(
  token: string,
  signer: AssertionSigner,
  method: string,
  path: string,
  caller: AssertedIdentity,
  body: unknown,
): Record<string, string> {
  const trace: Record<string, string> = {};
  propagation.inject(context.active(), trace);
  const target = new URL(path, "http://upstream.invalid");
  return {
    ...trace,
    authorization: `Bearer ${token}`,
    [ASSERTION_HEADER]: signer.sign(caller, { method, url: `${target.pathname}${target.search}` }),
    ...(body === undefined ? {} : { "content-type": "application/json" }),
  };
}

function pick(get: (name: string) => unknown): UpstreamAnswer["headers"] {
  const out: NonNullable<UpstreamAnswer["headers"]> = {};
  for (const h of ["content-disposition", "cache-control"] as const) {
    const v = get(h);
    if (typeof v === "string") out[h] = v;
  }
  return out;
}
