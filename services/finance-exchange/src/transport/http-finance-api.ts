import { randomBytes } from "node:crypto";
import { Certificate, hmacSm3, sm3 } from "@piaoju/gm-crypto";
import { z } from "zod";
import type { AnswerBody, RequestPayload } from "../domain/messages.ts";
import { type FinanceApi, FinanceRefusal } from "./finance-api.ts";
import { FinanceUnavailable } from "./transport.ts";

export interface HttpFinanceApiOptions {
  /** Finance's agency API, e.g. https://finance.example/ (routes under /fin/v1). */
  baseUrl: string;
  /** Each agency's HMAC-SM3 secret with finance, by agency code. */
  secrets: ReadonlyMap<string, string>;
  timeoutMs?: number;
  pageSize?: number;
}

// What the daemon reads from finance's replies: only the fields it uses, checked.
const supervisionResult = z.discriminatedUnion("status", [
  z.object({
    receiptId: z.uuid(),
    status: z.literal("SUPERVISED"),
    financeSignature: z.base64(),
    financeCertificateSm3: z.string(),
    financeRef: z.string(),
    supervisedAt: z.string(),
  }),
  z.object({
    receiptId: z.uuid(),
    status: z.literal("REJECTED"),
    code: z.string(),
    reason: z.string(),
    rejectedAt: z.string(),
  }),
]);
const supervisionBatchResponse = z.object({ results: z.array(supervisionResult) });
const versioned = z.object({ version: z.number().int() }).passthrough();
const baseDataResponse = z.object({
  agency: versioned.extend({ agencyCode: z.string() }).nullable(),
  billKinds: z.array(versioned.extend({ billCode: z.string() })),
  incomeItems: z.array(versioned.extend({ itemCode: z.string() })),
  regions: z.array(versioned.extend({ regionCode: z.string() })),
});
const stockApplicationResponse = z.object({
  financeRef: z.string(),
  status: z.enum(["PENDING", "APPROVED", "REJECTED"]),
  decisionReason: z.string().nullable(),
  segments: z.array(
    z.object({
      financeRef: z.string(),
      billCode: z.string(),
      startNumber: z.string(),
      endNumber: z.string(),
      issuedAt: z.string(),
    }),
  ),
});
const supervisedReceiptsResponse = z.object({
  items: z.array(
    z.object({
      receiptId: z.uuid(),
      agencyCode: z.string(),
      billCode: z.string(),
      number: z.string(),
      supervisedAt: z.string(),
      financeRef: z.string(),
      document: z.string(),
      documentSm3: z.string(),
      agencySignature: z.string(),
      financeSignature: z.string(),
      financeCertificateSm3: z.string(),
    }),
  ),
  nextCursor: z.string().nullable(),
});
const auditReportResponse = z.object({
  result: z.enum(["PASSED", "FINDINGS"]),
  findingCount: z.number().int(),
  findings: z.array(z.object({ code: z.string(), number: z.string(), message: z.string() })),
});
const statusUpdateResponse = z.object({
  results: z.array(
    z.object({
      updateId: z.string(),
      outcome: z.enum(["APPLIED", "REFUSED"]),
      code: z.string().nullable(),
      reason: z.string().nullable(),
    }),
  ),
});
const certificatesResponse = z.object({
  financeCertificatePem: z.string(),
  financeCertificateSm3: z.string(),
  caCertificatePem: z.string(),
});
const problem = z.object({ code: z.string().optional(), detail: z.string().optional() }).passthrough();

/**
 * Finance's agency API over HTTP(S), every call signed with the agency's HMAC-SM3 secret
 * (METHOD, path with query, timestamp, nonce, SM3 of the body). Connection failures, timeouts
 * and 5xx are outages (FinanceUnavailable: retried later); 401/403/408/429 too, since a clock
 * skew or a rotated secret is fixed by an operator, not by giving up; any other 4xx is finance
 * refusing the request (FinanceRefusal: a final answer).
 */
export class HttpFinanceApi implements FinanceApi {
  readonly #base: string;
  readonly #timeoutMs: number;
  readonly #pageSize: number;

  constructor(private readonly options: HttpFinanceApiOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#pageSize = options.pageSize ?? 200;
  }

  /**
   * Finance's public certificates (GET /fin/v1/public/certificates, no signature): its signing
   * certificate and the CA that issued it, checked to belong together. Outages throw
   * FinanceUnavailable; an answer that does not hold together throws FinanceRefusal.
   */
  async certificates(): Promise<{ certificate: Certificate; ca: Certificate }> {
    let res: Response;
    try {
      res = await fetch(`${this.#base}/fin/v1/public/certificates`, {
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (cause) {
      throw new FinanceUnavailable(`finance's certificates: ${(cause as Error).message}`);
    }
    if (!res.ok) throw new FinanceUnavailable(`finance's certificates: HTTP ${res.status}`);
    const body = certificatesResponse.safeParse(await res.json().catch(() => undefined));
    if (!body.success) throw new FinanceRefusal("BAD_ANSWER", "finance's certificates: unreadable answer");
    const certificate = Certificate.fromPem(body.data.financeCertificatePem);
    const ca = Certificate.fromPem(body.data.caCertificatePem);
    if (
      certificate.fingerprintSm3() !== body.data.financeCertificateSm3 ||
      !ca.isCa ||
      !certificate.isSignedBy(ca)
    ) {
      throw new FinanceRefusal("BAD_ANSWER", "finance's certificates: the certificate is not its CA's");
    }
    return { certificate, ca };
  }

  async supervise(p: RequestPayload<"supervise">, messageId: string): Promise<AnswerBody<"supervise">> {
    const agency = p.receipts[0]!.agencyCode;
    const reply = await this.#call(agency, "POST", "/fin/v1/supervision/batches", supervisionBatchResponse, {
      batchId: messageId,
      receipts: p.receipts.map(({ agencyCode: _agency, ...receipt }) => receipt),
    });
    return {
      results: reply.results.map((r) =>
        r.status === "SUPERVISED"
          ? {
              receiptId: r.receiptId,
              outcome: "supervised" as const,
              financeRef: r.financeRef,
              financeSignature: r.financeSignature,
              financeCertificateSm3: r.financeCertificateSm3,
              supervisedAt: r.supervisedAt,
            }
          : {
              receiptId: r.receiptId,
              outcome: "rejected" as const,
              code: r.code,
              reason: r.reason,
              rejectedAt: r.rejectedAt,
            },
      ),
    };
  }

  async baseData(p: RequestPayload<"baseData">): Promise<AnswerBody<"baseData">> {
    const reply = await this.#call(p.agencyCode, "GET", "/fin/v1/base-data?since=0", baseDataResponse);
    const entries: AnswerBody<"baseData">["entries"] = [];
    if (reply.agency) entries.push({ kind: "agency", code: reply.agency.agencyCode, payload: reply.agency });
    for (const k of reply.billKinds) entries.push({ kind: "billKind", code: k.billCode, payload: k });
    for (const i of reply.incomeItems) entries.push({ kind: "incomeItem", code: i.itemCode, payload: i });
    for (const r of reply.regions) entries.push({ kind: "region", code: r.regionCode, payload: r });
    return { entries };
  }

  async applyStock(p: RequestPayload<"applyStock">): Promise<AnswerBody<"applyStock">> {
    // Idempotent by applicationId: asking again returns the application as it stands.
    const reply = await this.#call(
      p.agencyCode,
      "POST",
      "/fin/v1/stock-applications",
      stockApplicationResponse,
      {
        applicationId: p.applicationId,
        billCode: p.billCode,
        quantity: p.quantity,
      },
    );
    if (reply.status === "PENDING") return { status: "pending" };
    if (reply.status === "REJECTED") return { status: "refused", reason: reply.decisionReason ?? "rejected" };
    return { status: "approved", financeRef: reply.financeRef, segments: reply.segments };
  }

  async downloadSupervised(
    p: RequestPayload<"downloadSupervised">,
  ): Promise<AnswerBody<"downloadSupervised">> {
    const receipts: AnswerBody<"downloadSupervised">["receipts"] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ date: p.day, by: "issuedAt", limit: String(this.#pageSize) });
      if (cursor) query.set("cursor", cursor);
      const page: z.infer<typeof supervisedReceiptsResponse> = await this.#call(
        p.agencyCode,
        "GET",
        `/fin/v1/supervised-receipts?${query}`,
        supervisedReceiptsResponse,
      );
      for (const r of page.items) receipts.push(r);
      cursor = page.nextCursor;
    } while (cursor);
    return { receipts };
  }

  async submitAudit(p: RequestPayload<"submitAudit">): Promise<AnswerBody<"submitAudit">> {
    const { agencyCode, ...report } = p;
    return this.#call(agencyCode, "POST", "/fin/v1/audit-reports", auditReportResponse, report);
  }

  async statusUpdate(p: RequestPayload<"statusUpdate">): Promise<AnswerBody<"statusUpdate">> {
    return this.#call(p.agencyCode, "POST", "/fin/v1/receipt-status", statusUpdateResponse, {
      updates: p.updates,
    });
  }

  async #call<S extends z.ZodType>(
    agencyCode: string,
    method: "GET" | "POST",
    pathWithQuery: string,
    schema: S,
    body?: unknown,
  ): Promise<z.infer<S>> {
    const secret = this.options.secrets.get(agencyCode);
    if (!secret)
      throw new FinanceRefusal("NO_AGENCY_SECRET", `no finance secret is configured for ${agencyCode}`);
    const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body), "utf8");
    const timestamp = String(Date.now());
    const nonce = randomBytes(16).toString("hex");
    const toSign = [method, pathWithQuery, timestamp, nonce, sm3(bytes).toString("hex")].join("\n");
    let res: Response;
    try {
      res = await fetch(`${this.#base}${pathWithQuery}`, {
        method,
        headers: {
          "x-fin-agency": agencyCode,
          "x-fin-timestamp": timestamp,
          "x-fin-nonce": nonce,
          "x-fin-signature": hmacSm3(Buffer.from(secret, "utf8"), toSign).toString("hex"),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: bytes }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (cause) {
      throw new FinanceUnavailable(`finance unreachable: ${(cause as Error).message}`, { cause });
    }
    const text = await res.text().catch(() => "");
    if (res.ok) return schema.parse(JSON.parse(text));
    const details = problem.safeParse(safeJson(text));
    const code = details.success ? (details.data.code ?? `HTTP_${res.status}`) : `HTTP_${res.status}`;
    const detail = details.success ? (details.data.detail ?? text.slice(0, 300)) : text.slice(0, 300);
    if (res.status >= 500 || [401, 403, 408, 429].includes(res.status)) {
      throw new FinanceUnavailable(`finance answered ${res.status} ${code}: ${detail}`);
    }
    throw new FinanceRefusal(code, detail);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
