import { randomUUID } from "node:crypto";
import type { z } from "zod";
import {
  type agencyUpsert,
  authHeaders,
  type baseDataUpsert,
  type Faults,
  type faults as faultsSchema,
  type NontaxClearing,
  type NontaxRefund,
  signFinanceRequest,
} from "./api.ts";

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

async function readReply<T>(res: Response): Promise<Reply<T>> {
  const text = await res.text();
  return { status: res.status, body: (text.length > 0 ? JSON.parse(text) : {}) as T };
}

/**
 * An agency's side of the API: every call signed with HMAC-SM3 (README, "Authentication"). For
 * tests and as a reference for a client in another language.
 */
export function createAgencyClient(options: { url: string; agencyCode: string; secret: string }) {
  const request = async <T = Record<string, unknown>>(
    method: "GET" | "POST",
    pathWithQuery: string,
    body?: unknown,
    override: { secret?: string; timestamp?: number; nonce?: string; agencyCode?: string } = {},
  ): Promise<Reply<T>> => {
    const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const timestamp = String(override.timestamp ?? Date.now());
    const nonce = override.nonce ?? randomUUID().replaceAll("-", "");
    const signature = signFinanceRequest(override.secret ?? options.secret, {
      method,
      pathWithQuery,
      timestamp,
      nonce,
      body: raw,
    });
    const res = await fetch(`${options.url}${pathWithQuery}`, {
      method,
      headers: {
        [authHeaders.agency]: override.agencyCode ?? options.agencyCode,
        [authHeaders.timestamp]: timestamp,
        [authHeaders.nonce]: nonce,
        [authHeaders.signature]: signature,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: raw }),
    });
    return readReply<T>(res);
  };
  return {
    request,
    get: <T = Record<string, unknown>>(p: string) => request<T>("GET", p),
    post: <T = Record<string, unknown>>(p: string, b: unknown) => request<T>("POST", p, b),
  };
}
export type AgencyClient = ReturnType<typeof createAgencyClient>;

/** The admin API (separate listener, Bearer token). Methods throw on an unexpected status. */
export function createAdminClient(options: { adminUrl: string; token: string }) {
  const call = async <T>(
    method: "GET" | "PUT" | "POST" | "DELETE",
    path: string,
    body?: unknown,
  ): Promise<T> => {
    const res = await fetch(`${options.adminUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const reply = await readReply<T>(res);
    if (reply.status >= 300) {
      throw new Error(`admin ${method} ${path} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    }
    return reply.body;
  };
  return {
    call,
    registerAgency: (code: string, input: z.input<typeof agencyUpsert>) =>
      call("PUT", `/admin/v1/agencies/${code}`, input),
    putBaseData: (code: string, input: z.input<typeof baseDataUpsert>) =>
      call("PUT", `/admin/v1/agencies/${code}/base-data`, input),
    /** Finance's CA certifies the agency's public key (PEM); the certificate is bound to the agency. */
    issueAgencyCertificate: (code: string, publicKeyPem: string, commonName?: string) =>
      call<{ certificatePem: string; fingerprintSm3: string }>(
        "POST",
        `/admin/v1/agencies/${code}/certificates`,
        {
          publicKeyPem,
          ...(commonName ? { commonName } : {}),
        },
      ),
    bindCertificate: (code: string, certificatePem: string) =>
      call<{ certificatePem: string; fingerprintSm3: string }>(
        "POST",
        `/admin/v1/agencies/${code}/certificates`,
        {
          certificatePem,
        },
      ),
    revokeCertificate: (code: string, fingerprintSm3: string) =>
      call<{ revokedAt: string }>("DELETE", `/admin/v1/agencies/${code}/certificates/${fingerprintSm3}`),
    listApplications: (status?: "PENDING" | "APPROVED" | "REJECTED") =>
      call<{ items: Array<{ financeRef: string; status: string }> }>(
        "GET",
        `/admin/v1/stock-applications${status ? `?status=${status}` : ""}`,
      ),
    approve: (financeRef: string, quantity?: number) =>
      call(
        "POST",
        `/admin/v1/stock-applications/${financeRef}/approve`,
        quantity === undefined ? {} : { quantity },
      ),
    reject: (financeRef: string, reason: string) =>
      call("POST", `/admin/v1/stock-applications/${financeRef}/reject`, { reason }),
    setBooked: (billCode: string, number: string, booked = true) =>
      call("POST", "/admin/v1/receipts/booked", { billCode, number, booked }),
    listRefunds: (status?: "PENDING" | "APPROVED" | "REJECTED" | "REFUNDED") =>
      call<{ items: NontaxRefund[] }>("GET", `/admin/v1/nontax/refunds${status ? `?status=${status}` : ""}`),
    approveRefund: (refundId: string) =>
      call<NontaxRefund>("POST", `/admin/v1/nontax/refunds/${refundId}/approve`, {}),
    rejectRefund: (refundId: string, reason: string) =>
      call<NontaxRefund>("POST", `/admin/v1/nontax/refunds/${refundId}/reject`, { reason }),
    listClearings: (status?: "ACCEPTED" | "DONE" | "REFUSED") =>
      call<{ items: NontaxClearing[] }>(
        "GET",
        `/admin/v1/nontax/clearing-instructions${status ? `?status=${status}` : ""}`,
      ),
    completeClearing: (instructionId: string) =>
      call<NontaxClearing>("POST", `/admin/v1/nontax/clearing-instructions/${instructionId}/complete`, {}),
    refuseClearing: (instructionId: string, reason: string) =>
      call<NontaxClearing>("POST", `/admin/v1/nontax/clearing-instructions/${instructionId}/refuse`, {
        reason,
      }),
    setAutoApprove: (autoApprove: boolean) => call("PUT", "/admin/v1/settings", { autoApprove }),
    /** Replaces the faults in force (unset fields off). */
    setFaults: (faults: z.input<typeof faultsSchema>) => call<Faults>("PUT", "/admin/v1/faults", faults),
    clearFaults: () => call<Faults>("DELETE", "/admin/v1/faults"),
    stats: () =>
      call<{
        supervised: number;
        rejected: number;
        resubmissions: number;
        segments: number;
        crypto: { workers: number; inlineFallbacks: number };
        faultsInjected: { errors: number; lostReplies: number; unavailable: number };
      }>("GET", "/admin/v1/stats"),
  };
}
export type AdminClient = ReturnType<typeof createAdminClient>;
