import type * as grpc from "@grpc/grpc-js";
import type { SigningDeviceHandlers } from "@piaoju/proto/signing";
import { GrpcStatus, GrpcStatusError, type Logger } from "@piaoju/runtime";
import { type AuthenticatedCall, requireCaller } from "@piaoju/service-identity";

/**
 * Who may call piaoju.signing.v1, and with which keys: the one place this is decided, applied by
 * the devices (to the gateway) and by the signing gateway (to its callers). Callers are service
 * identities from their mutual-TLS certificate, never something they say.
 *
 * Methods that use a key's private half (Sign, SignBatch, SignStream, OpenEnvelope,
 * CreateCertificationRequest) need a grant
 * for that key; the others (Verify, VerifyBatch, MakeEnvelope, GetCertificate, ListKeys, Health) only read
 * public things and are open to every caller the endpoint admits. Everything not granted is
 * refused (PERMISSION_DENIED).
 */

export type SigningEndpoint = "device" | "gateway";
export type SigningMethod =
  | "Sign"
  | "SignBatch"
  | "SignStream"
  | "OpenEnvelope"
  | "CreateCertificationRequest"
  | "Verify"
  | "VerifyBatch"
  | "MakeEnvelope"
  | "GetCertificate"
  | "ListKeys"
  | "Health";

const PRIVATE_KEY_METHODS: ReadonlySet<SigningMethod> = new Set([
  "Sign",
  "SignBatch",
  "SignStream",
  "OpenEnvelope",
  "CreateCertificationRequest",
]);

/** `agency`: a key the gateway's agency mapping names (PIAOJU_SIGNING_KEY_ID_PATTERN / _AGENCY_KEYS). */
export type KeyScope = "any" | "agency";

export interface SigningGrant {
  endpoint: SigningEndpoint;
  /** The caller's service identity. */
  caller: string;
  /** Keys whose private half the caller may use; undefined: public methods only. */
  keys?: KeyScope;
}

export const SIGNING_POLICY: readonly SigningGrant[] = [
  // A device serves only the signing gateway, which applies this policy to its own callers first.
  { endpoint: "device", caller: "signing-gateway", keys: "any" },
  // Receipts are signed for agencies by the signing gateway (its receipt signer, another replica)
  // and by issuance; nobody else may use an agency's key.
  { endpoint: "gateway", caller: "signing-gateway", keys: "agency" },
  { endpoint: "gateway", caller: "issuance", keys: "agency" },
  // Delivery signs the receipt PDF (adbe.pkcs7.detached) with the agency key that signed the
  // receipt: the signed attributes of a CMS over its own rendering of a receipt it keeps, once
  // per receipt and state (ADR signed-receipt-pdf); never bytes a caller of delivery chose.
  { endpoint: "gateway", caller: "delivery", keys: "agency" },
  // A service that only verifies, seals envelopes or reads certificates gets a grant without
  // `keys`, e.g. { endpoint: "gateway", caller: "reporting" }.
];

export type Decision = { allowed: true } | { allowed: false; reason: string };

export interface AccessQuestion {
  endpoint: SigningEndpoint;
  caller: string;
  method: SigningMethod;
  /** The keys the call would use (empty for methods that use none). */
  keyIds: readonly string[];
}

/** The policy's answer. `isAgencyKey` says which key ids belong to agencies at this endpoint. */
export function decide(
  question: AccessQuestion,
  isAgencyKey: (keyId: string) => boolean,
  policy: readonly SigningGrant[] = SIGNING_POLICY,
): Decision {
  const grants = policy.filter((g) => g.endpoint === question.endpoint && g.caller === question.caller);
  if (grants.length === 0) {
    return { allowed: false, reason: `"${question.caller}" may not call the signing ${question.endpoint}` };
  }
  if (!PRIVATE_KEY_METHODS.has(question.method)) return { allowed: true };
  for (const keyId of question.keyIds) {
    const granted = grants.some((g) => g.keys === "any" || (g.keys === "agency" && isAgencyKey(keyId)));
    if (!granted) {
      return {
        allowed: false,
        reason: `"${question.caller}" may not use key "${keyId}" (${question.method})`,
      };
    }
  }
  return { allowed: true };
}

type AnyCall = AuthenticatedCall & { request?: unknown; metadata: grpc.Metadata };

function keyIdsOf(method: SigningMethod, request: unknown): string[] {
  const r = request as { keyId?: string; items?: Array<{ keyId?: string }> } | undefined;
  if (method === "SignBatch") return [...new Set((r?.items ?? []).map((i) => i.keyId ?? ""))];
  if (method === "Sign" || method === "OpenEnvelope") return [r?.keyId ?? ""];
  return [];
}

const HANDLER_METHODS: Record<keyof SigningDeviceHandlers, SigningMethod> = {
  sign: "Sign",
  verify: "Verify",
  signBatch: "SignBatch",
  verifyBatch: "VerifyBatch",
  signStream: "SignStream",
  makeEnvelope: "MakeEnvelope",
  openEnvelope: "OpenEnvelope",
  getCertificate: "GetCertificate",
  createCertificationRequest: "CreateCertificationRequest",
  listKeys: "ListKeys",
  health: "Health",
};

export interface GuardOptions {
  endpoint: SigningEndpoint;
  isAgencyKey: (keyId: string) => boolean;
  logger: Logger;
  policy?: readonly SigningGrant[];
}

/**
 * The handlers, each first authenticating the caller (UNAUTHENTICATED without a valid
 * certificate) and asking the policy (PERMISSION_DENIED). SignStream names its key in the
 * stream's first message: that message is checked before the handler sees it.
 */
export function guardHandlers(handlers: SigningDeviceHandlers, options: GuardOptions): SigningDeviceHandlers {
  const refuse = (call: AnyCall, method: SigningMethod, keyIds: string[]): GrpcStatusError | undefined => {
    const caller = requireCaller(call);
    if ("refusal" in caller) {
      options.logger.warn(
        { method, peer: call.getPeer() },
        "signing call without a valid client certificate refused",
      );
      return new GrpcStatusError(caller.refusal.code, caller.refusal.details);
    }
    const decision = decide(
      { endpoint: options.endpoint, caller: caller.identity, method, keyIds },
      options.isAgencyKey,
      options.policy,
    );
    if (decision.allowed) return undefined;
    options.logger.warn({ method, caller: caller.identity, keyIds }, "signing call refused by policy");
    return new GrpcStatusError(GrpcStatus.PERMISSION_DENIED, decision.reason);
  };
  const asStatus = (error: GrpcStatusError) => ({
    code: error.code,
    details: error.message,
  });
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(HANDLER_METHODS) as [
    keyof SigningDeviceHandlers,
    SigningMethod,
  ][]) {
    const handler = handlers[name] as unknown as (
      call: AnyCall,
      callback: grpc.sendUnaryData<unknown>,
    ) => void;
    if (method === "SignStream") {
      guarded[name] = (call: AnyCall & AsyncIterable<unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const first = refuse(call, method, []);
        if (first) return callback(asStatus(first));
        handler(
          checkedStream(call, (message) => {
            const m = message as { part?: string; header?: { keyId?: string } };
            return m.part === "header" ? refuse(call, method, [m.header?.keyId ?? ""]) : undefined;
          }),
          callback,
        );
      };
    } else {
      guarded[name] = (call: AnyCall, callback: grpc.sendUnaryData<unknown>) => {
        const refusal = refuse(call, method, keyIdsOf(method, call.request));
        if (refusal) return callback(asStatus(refusal));
        handler(call, callback);
      };
    }
  }
  return guarded as unknown as SigningDeviceHandlers;
}

/** The call, its messages checked as the handler reads them; a refusal ends the reading with that status. */
function checkedStream<C extends AsyncIterable<unknown>>(
  call: C,
  check: (message: unknown) => GrpcStatusError | undefined,
): C {
  return new Proxy(call, {
    get(target, property) {
      if (property === Symbol.asyncIterator) {
        return async function* () {
          for await (const message of target) {
            const refusal = check(message);
            if (refusal) throw refusal;
            yield message;
          }
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
