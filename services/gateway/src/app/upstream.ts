import { context, propagation } from "@opentelemetry/api";
import { AppError } from "@piaoju/runtime";
import type { FastifyInstance } from "fastify";

/** How the gateway reaches the services behind it, as a caller with a data scope. */
export interface Upstream {
  request(
    method: "GET" | "POST" | "PUT",
    path: string,
    caller: { actor: string; agencies: string },
    body?: unknown,
  ): Promise<{ status: number; body: unknown }>;
}

/** Embedded: the services share this process's HTTP server; calls go in without a socket. */
export function inProcessUpstream(http: FastifyInstance, token: string): Upstream {
  return {
    async request(method, path, caller, body) {
      const res = await http.inject({
        method,
        url: path,
        headers: headersFor(token, caller, body),
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
      return { status: res.statusCode, body: res.json() };
    },
  };
}

/** Cluster: the service's own address (a Kubernetes Service), with a deadline. */
export function httpUpstream(baseUrl: string, token: string, timeoutMs = 10_000): Upstream {
  return {
    async request(method, path, caller, body) {
      try {
        const res = await fetch(new URL(path, baseUrl), {
          method,
          headers: headersFor(token, caller, body),
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        return { status: res.status, body: await res.json() };
      } catch (error) {
        throw new AppError("unavailable", "the receipt service did not answer in time", {
          code: "UPSTREAM_UNAVAILABLE",
          cause: error,
        });
      }
    },
  };
}

/** The internal token, the caller's scope, and the active trace (so the hop joins the trace). */
function headersFor(
  token: string,
  caller: { actor: string; agencies: string },
  body: unknown,
): Record<string, string> {
  const trace: Record<string, string> = {};
  propagation.inject(context.active(), trace);
  return {
    ...trace,
    authorization: `Bearer ${token}`,
    "x-piaoju-actor": caller.actor,
    "x-piaoju-agencies": caller.agencies,
    ...(body === undefined ? {} : { "content-type": "application/json" }),
  };
}
