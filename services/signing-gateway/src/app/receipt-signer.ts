import { TransientError } from "@piaoju/bus";
import type { ReceiptRequested } from "@piaoju/contracts";
import { verifySignedData } from "@piaoju/gm-crypto";
import type { SignResponse } from "@piaoju/proto/signing";
import { GrpcStatusError, type Logger } from "@piaoju/runtime";
import type { z } from "zod";
import { checkDocument, judgeSignFailure, noKeyRefusal } from "../domain/receipt-signing.ts";
import type { Router } from "../router.ts";

/**
 * Signs a requested receipt's document with its agency's key as a detached PKCS#7 SignedData
 * (GM/T 0010), through the gateway's router (so failover, breaker and retry apply). Answers a
 * decision, or throws TransientError when the devices cannot answer now: the bus tries again.
 */

export type ReceiptRequestData = z.infer<(typeof ReceiptRequested)["schema"]>;

export type SigningDecision =
  | { outcome: "SIGNED"; keyId: string; signature: Buffer; certificateSm3: string }
  | { outcome: "REFUSED"; keyId: string | undefined; code: string; reason: string };

export interface ReceiptSignerDeps {
  router: Router;
  keyIdFor(agencyCode: string): string;
  /** Dev/embedded only: makes a key for an agency that has none. */
  provision?: ((keyId: string, agencyCode: string) => Promise<void>) | undefined;
  deadlineMs: number;
  logger: Logger;
}

export class ReceiptSigner {
  constructor(private readonly deps: ReceiptSignerDeps) {}

  async decide(request: ReceiptRequestData): Promise<SigningDecision> {
    const checked = checkDocument(request.document, request.documentSm3);
    if (!checked.ok)
      return { outcome: "REFUSED", keyId: undefined, code: checked.code, reason: checked.reason };
    const keyId = this.deps.keyIdFor(request.agencyCode);
    let provisioned = false;
    for (;;) {
      try {
        const response = await this.#sign(keyId, checked.content, request.receiptId);
        return this.#accept(keyId, checked.content, response);
      } catch (error) {
        if (!(error instanceof GrpcStatusError)) throw error;
        const verdict = judgeSignFailure(error.code, error.message, keyId);
        if (verdict.kind === "retry") {
          throw new TransientError(`signing devices cannot sign now (${verdict.reason})`, { cause: error });
        }
        if (verdict.kind === "refuse") return { outcome: "REFUSED", keyId, ...verdict };
        if (this.deps.provision && !provisioned) {
          await this.deps.provision(keyId, request.agencyCode);
          provisioned = true;
          continue;
        }
        return { outcome: "REFUSED", keyId, ...noKeyRefusal(request.agencyCode, keyId) };
      }
    }
  }

  #sign(keyId: string, content: Buffer, receiptId: string): Promise<SignResponse> {
    return this.deps.router.sign(
      { keyId, data: content, format: "SIGNATURE_FORMAT_PKCS7_DETACHED", requestId: receiptId },
      Date.now() + this.deps.deadlineMs,
    );
  }

  /** Never emits a signature that does not verify over the document: a device fault, tried again. */
  #accept(keyId: string, content: Buffer, response: SignResponse): SigningDecision {
    const check = verifySignedData(response.signature, { content });
    if (!check.valid || !/^[0-9a-f]{64}$/.test(response.certFingerprint)) {
      this.deps.logger.error(
        { keyId, reason: check.reason },
        "a device answered a signature that does not verify",
      );
      throw new TransientError(
        `the device's SignedData does not verify: ${check.reason ?? "no certificate"}`,
      );
    }
    // A signature under a certificate out of validity would be rejected by finance: refuse now.
    const now = new Date();
    if (check.signer && !check.signer.isValidAt(now)) {
      return {
        outcome: "REFUSED",
        keyId,
        code: "CERTIFICATE_NOT_VALID",
        reason: `the certificate of key ${keyId} is valid from ${check.signer.notBefore.toISOString()} to ${check.signer.notAfter.toISOString()}, not now`,
      };
    }
    return {
      outcome: "SIGNED",
      keyId,
      signature: response.signature,
      certificateSm3: response.certFingerprint,
    };
  }
}
