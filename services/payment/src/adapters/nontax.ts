import { randomUUID } from "node:crypto";
import { signRequest } from "@piaoju/business-client";
import { AppError } from "@piaoju/runtime";
import { isValidPaymentCode } from "../domain/payment-code.ts";

/**
 * Who makes payment notices and their codes. In production that is finance's non-tax system
 * (非税收入收缴系统): the seed has the payment platform "call the non-tax system to make the
 * 非税一般缴款书 and its 缴款识别码". Without one configured (development), the payment service
 * makes them itself under the region's rule (src/domain/payment-code.ts).
 */
export interface NoticeIssuer {
  issue(
    agencyCode: string,
    request: {
      bizSerialNo: string;
      payerName: string;
      items: Array<{ itemCode: string; amountFen: number }>;
    },
  ): Promise<{ noticeNo: string; paymentCode: string }>;
  /**
   * Tells the non-tax system the notice was paid (缴款结果). "refused": it said no (an amount or
   * a second payment it does not accept) and a person must look; an outage throws (retried).
   */
  reportPaid(agencyCode: string, paymentCode: string, result: PaidResult): Promise<"taken" | "refused">;
  /** Applies for a refund of the notice (idempotent by refundId); an outage throws. */
  applyRefund(
    agencyCode: string,
    paymentCode: string,
    application: RefundApplication,
  ): Promise<RefundDecision>;
  /** The application's state now (waiting for the finance officer's approval, or decided). */
  refundDecision(agencyCode: string, refundId: string): Promise<RefundDecision>;
  /** Tells the non-tax system the channel paid the refund back (退付结果). */
  reportRefunded(
    agencyCode: string,
    refundId: string,
    result: { channelRefundNo: string; refundedAt: string },
  ): Promise<"taken" | "refused">;
}

/**
 * Where clearing instructions (资金清分指令) go: the non-tax system, which passes them to the
 * agency bank (代理银行) through the adapter and answers for the transfer. The instruction's id is
 * the idempotency key there: sending it again (after a crash or a lost answer) is the same one.
 */
export interface ClearingSender {
  /** Sends one instruction; its answer, or "REFUSED" with the reason; an outage throws (retried). */
  instructClearing(agencyCode: string, instruction: ClearingOrder): Promise<ClearingAnswer>;
  /** The instruction's state there now. */
  clearingState(agencyCode: string, instructionId: string): Promise<ClearingAnswer>;
}

/** A clearing instruction as the non-tax system takes it. */
export interface ClearingOrder {
  instructionId: string;
  businessDay: string;
  accountNo: string;
  accountName: string;
  bankName: string;
  /** Negative: refunds above the day's takings come off the account (冲减). */
  amountFen: number;
  items: Array<{ itemCode: string; collectedFen: number; refundedFen: number }>;
}

/** ACCEPTED: taken, the transfer under way; DONE: transferred; REFUSED: it will not be done. */
export type ClearingAnswer =
  | { status: "ACCEPTED" }
  | { status: "DONE" }
  | { status: "REFUSED"; note: string };

/** A refund application (退付申请) as the non-tax system takes it. */
export interface RefundApplication {
  refundId: string;
  kind: "REFUND" | "DUPLICATE";
  channel: string;
  channelTradeNo: string;
  amountFen: number;
  reason: string;
}

/** The non-tax system's word on a refund application. */
export type RefundDecision = { status: "PENDING" | "APPROVED" } | { status: "REJECTED"; note: string };

export interface PaidResult {
  paidFen: number;
  surchargeFen: number;
  paidAt: string;
  channel: string;
  channelTradeNo: string;
}

/**
 * The non-tax system over HTTP (the finance simulator's `/fin/v1/nontax/*` in tests), each call
 * signed HMAC-SM3 with the agency's secret (X-Fin-Agency, -Timestamp, -Nonce, -Signature over
 * METHOD, path, time, nonce and the body's SM3). Idempotent there by the agency's serial, so a
 * retry after a lost answer gets the same code.
 */
export class HttpNontaxIssuer implements NoticeIssuer, ClearingSender {
  constructor(
    private readonly baseUrl: string,
    private readonly secrets: ReadonlyMap<string, string>,
    private readonly timeoutMs = 10_000,
  ) {}

  private async call(
    agencyCode: string,
    path: string,
    payload: unknown,
    method: "POST" | "GET" = "POST",
  ): Promise<{ status: number; answer: Record<string, unknown> }> {
    const secret = this.secrets.get(agencyCode);
    if (!secret) {
      throw new AppError("conflict", `agency ${agencyCode} has no secret with the non-tax system`, {
        code: "NONTAX_NOT_CONFIGURED",
      });
    }
    const body = method === "GET" ? Buffer.alloc(0) : Buffer.from(JSON.stringify(payload));
    const timestamp = String(Date.now());
    const nonce = randomUUID().replaceAll("-", "");
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: {
          ...(method === "POST" ? { "content-type": "application/json" } : {}),
          "x-fin-agency": agencyCode,
          "x-fin-timestamp": timestamp,
          "x-fin-nonce": nonce,
          "x-fin-signature": signRequest(secret, {
            method,
            pathWithQuery: path,
            timestamp,
            nonce,
            body,
          }),
        },
        ...(method === "POST" ? { body } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new AppError("unavailable", "the non-tax system did not answer", {
        code: "NONTAX_UNAVAILABLE",
        cause: error,
      });
    }
    const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status >= 500) {
      throw new AppError("unavailable", `the non-tax system answered ${res.status}`, {
        code: "NONTAX_UNAVAILABLE",
      });
    }
    return { status: res.status, answer };
  }

  async reportPaid(
    agencyCode: string,
    paymentCode: string,
    result: PaidResult,
  ): Promise<"taken" | "refused"> {
    const { status } = await this.call(agencyCode, `/fin/v1/nontax/notices/${paymentCode}/payment`, result);
    return status === 200 ? "taken" : "refused";
  }

  async applyRefund(
    agencyCode: string,
    paymentCode: string,
    application: RefundApplication,
  ): Promise<RefundDecision> {
    const { status, answer } = await this.call(
      agencyCode,
      `/fin/v1/nontax/notices/${paymentCode}/refunds`,
      application,
    );
    if (status === 200 || status === 201) return decisionOf(answer);
    // It will not take the application (more than paid, not that trade): a refusal, kept.
    return { status: "REJECTED", note: String(answer.code ?? status) };
  }

  async refundDecision(agencyCode: string, refundId: string): Promise<RefundDecision> {
    const { status, answer } = await this.call(
      agencyCode,
      `/fin/v1/nontax/refunds/${refundId}`,
      undefined,
      "GET",
    );
    if (status !== 200) {
      throw new AppError("unavailable", `the non-tax system answered ${status} for refund ${refundId}`, {
        code: "NONTAX_UNAVAILABLE",
      });
    }
    return decisionOf(answer);
  }

  async reportRefunded(
    agencyCode: string,
    refundId: string,
    result: { channelRefundNo: string; refundedAt: string },
  ): Promise<"taken" | "refused"> {
    const { status } = await this.call(agencyCode, `/fin/v1/nontax/refunds/${refundId}/result`, result);
    return status === 200 ? "taken" : "refused";
  }

  async instructClearing(agencyCode: string, instruction: ClearingOrder): Promise<ClearingAnswer> {
    const { status, answer } = await this.call(
      agencyCode,
      "/fin/v1/nontax/clearing-instructions",
      instruction,
    );
    if (status === 200 || status === 201) return clearingAnswerOf(answer);
    // 4xx: it will not take this instruction (an account it does not know, a conflicting repeat).
    return { status: "REFUSED", note: String(answer.code ?? status) };
  }

  async clearingState(agencyCode: string, instructionId: string): Promise<ClearingAnswer> {
    const { status, answer } = await this.call(
      agencyCode,
      `/fin/v1/nontax/clearing-instructions/${instructionId}`,
      undefined,
      "GET",
    );
    if (status !== 200) {
      throw new AppError(
        "unavailable",
        `the non-tax system answered ${status} for instruction ${instructionId}`,
        {
          code: "NONTAX_UNAVAILABLE",
        },
      );
    }
    return clearingAnswerOf(answer);
  }

  async issue(
    agencyCode: string,
    request: {
      bizSerialNo: string;
      payerName: string;
      items: Array<{ itemCode: string; amountFen: number }>;
    },
  ): Promise<{ noticeNo: string; paymentCode: string }> {
    const { status, answer } = await this.call(agencyCode, "/fin/v1/nontax/notices", request);
    if (status !== 200 && status !== 201) {
      throw new AppError(
        "conflict",
        `the non-tax system refused the notice: ${String(answer.code ?? status)}`,
        {
          code: "NONTAX_REFUSED",
        },
      );
    }
    if (
      typeof answer.paymentCode !== "string" ||
      !isValidPaymentCode(answer.paymentCode) ||
      typeof answer.noticeNo !== "string"
    ) {
      throw new AppError("unavailable", "the non-tax system answered a payment code that does not validate", {
        code: "NONTAX_BAD_CODE",
      });
    }
    return { noticeNo: answer.noticeNo, paymentCode: answer.paymentCode };
  }
}

function decisionOf(answer: Record<string, unknown>): RefundDecision {
  switch (answer.status) {
    case "APPROVED":
    case "REFUNDED":
      return { status: "APPROVED" };
    case "REJECTED":
      return { status: "REJECTED", note: String(answer.decisionNote ?? "rejected") };
    default:
      return { status: "PENDING" };
  }
}

function clearingAnswerOf(answer: Record<string, unknown>): ClearingAnswer {
  switch (answer.status) {
    case "DONE":
      return { status: "DONE" };
    case "REFUSED":
      return { status: "REFUSED", note: String(answer.note ?? "refused") };
    default:
      return { status: "ACCEPTED" };
  }
}
