import { randomUUID, timingSafeEqual } from "node:crypto";
import { callbackStringToSign, signCallback } from "@piaoju/business-client";
import { paymentApi } from "@piaoju/contracts";
import { hmacSm3 } from "@piaoju/gm-crypto";
import type { z } from "zod";

/**
 * The traffic police business system's "what is due on this decision" (根据处罚决定书号查询应缴信息),
 * asked when a bank counter queries a decision number. POST to the URL the business system set
 * (`PUT /v1/payment/decision-sources/:appId`), body `{"agencyCode","decisionNo"}`, signed as the
 * result callbacks are (X-Piaoju-Timestamp, X-Piaoju-Delivery = a fresh request id,
 * X-Piaoju-Signature = hex HMAC-SM3 over `POST\nTIMESTAMP\nDELIVERY\nhex(SM3(body))` with the
 * app's secret). The answer is signed the same way under the same request id (X-Piaoju-Signature
 * over its own timestamp, the request's delivery id and its body), and is a payment request as
 * `POST /v1/payments` takes it (serial, decision, payer, items, surcharge, point, bill kind);
 * 404 says the system has no such decision. Anything else, an unsigned answer or no answer: the
 * system is unavailable and nothing is made.
 */
export type DecisionAnswer =
  | { kind: "found"; request: z.infer<typeof paymentApi.createPaymentBody> }
  | { kind: "not-found" }
  | { kind: "unavailable"; reason: string };

export async function queryDecision(
  target: { url: string; secret: string },
  agencyCode: string,
  decisionNo: string,
  timeoutMs: number,
): Promise<DecisionAnswer> {
  const body = Buffer.from(JSON.stringify({ agencyCode, decisionNo }));
  const delivery = randomUUID();
  const timestamp = String(Date.now());
  let res: Response;
  let bytes: Buffer;
  try {
    res = await fetch(target.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-piaoju-timestamp": timestamp,
        "x-piaoju-delivery": delivery,
        "x-piaoju-signature": signCallback(target.secret, timestamp, delivery, body),
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    bytes = Buffer.from(await res.arrayBuffer());
  } catch (error) {
    return { kind: "unavailable", reason: error instanceof Error ? error.message : String(error) };
  }
  const presented = Buffer.from(res.headers.get("x-piaoju-signature") ?? "", "hex");
  const expected = hmacSm3(
    Buffer.from(target.secret, "utf8"),
    callbackStringToSign(res.headers.get("x-piaoju-timestamp") ?? "", delivery, bytes),
  );
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return { kind: "unavailable", reason: `an answer (${res.status}) whose signature does not hold` };
  }
  if (res.status === 404) return { kind: "not-found" };
  if (res.status !== 200) return { kind: "unavailable", reason: `answered ${res.status}` };
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    return { kind: "unavailable", reason: "an answer that is not JSON" };
  }
  const parsed = paymentApi.createPaymentBody.safeParse(json);
  if (!parsed.success) {
    return {
      kind: "unavailable",
      reason: `an answer that is not a payment request: ${parsed.error.issues[0]?.message}`,
    };
  }
  if (parsed.data.decisionNo !== decisionNo) {
    return { kind: "unavailable", reason: "the answer is for another decision" };
  }
  return { kind: "found", request: parsed.data };
}
