import { type Emit, FinanceCertificatePublished } from "@piaoju/contracts";
import { Certificate } from "@piaoju/gm-crypto";
import type { SqlExecutor } from "@piaoju/persistence";
import { carriedCertificate } from "../domain/archive.ts";

/**
 * finance-exchange publishes the certificates of finance's it trusts (finance.FinanceCertificatePublished),
 * so verifiers (delivery's 查验, the gateway's public trust list) learn them from the owner: the
 * supervision (监制) certificate of each finance signature it accepted, once per process when first
 * seen, and at start those of the latest supervised receipts; over HTTP also finance's CA, as
 * finance serves it with its signing certificate (GET /fin/v1/public/certificates, the channel
 * every answer comes on; pinned by FINANCE_CERTIFICATE_SM3 when set). Not the ferry's
 * FINANCE_FERRY_TRUSTED_CA: it issues this end's ferry certificate too, which must never pass for
 * finance's signature. Publishing one again changes nothing downstream.
 */
export class FinanceCertificates {
  readonly #published = new Set<string>();

  constructor(private readonly clock: () => Date) {}

  /** In an answer's transaction: the signer certificate of a finance signature just accepted. */
  observe(emit: Emit, financeSignature: string): void {
    const der = carriedCertificate(financeSignature);
    if (!der) return;
    this.#emit(emit, "supervision", Certificate.fromDer(Buffer.from(der, "base64")));
  }

  /** At start: the certificates of the latest supervised receipts. */
  async publishKnown(tx: SqlExecutor, emit: Emit): Promise<number> {
    const before = this.#published.size;
    const rows = await tx.query<{ finance_signature: string }>(
      `SELECT finance_signature FROM supervision_item
        WHERE status = 'SUPERVISED' AND finance_signature IS NOT NULL ORDER BY decided_at DESC LIMIT 200`,
    );
    for (const row of rows) this.observe(emit, row.finance_signature);
    return this.#published.size - before;
  }

  /** Finance's signing certificate and its CA as finance serves them (HTTP transport). */
  learned(emit: Emit, served: { certificate: Certificate; ca: Certificate }): void {
    this.#emit(emit, "ca", served.ca);
    this.#emit(emit, "supervision", served.certificate);
  }

  #emit(emit: Emit, role: "supervision" | "ca", cert: Certificate): void {
    const sm3 = cert.fingerprintSm3();
    if (this.#published.has(sm3)) return;
    this.#published.add(sm3);
    emit(FinanceCertificatePublished, {
      role,
      certificate: {
        pem: cert.toPem(),
        sm3,
        subject: cert.subject.text,
        notBefore: cert.notBefore.toISOString(),
        notAfter: cert.notAfter.toISOString(),
      },
      publishedAt: this.clock().toISOString(),
    });
  }
}

/**
 * Asks finance for its certificates until it answers (finance may start after this service: the
 * embedded runner starts the simulator once the platform is up), then again every `refreshMs`
 * for a rotated one. `pinnedSm3` (FINANCE_CERTIFICATE_SM3), when set, must be the certificate's.
 */
export function learnFinanceCertificates(o: {
  ask: () => Promise<{ certificate: Certificate; ca: Certificate }>;
  publish: (served: { certificate: Certificate; ca: Certificate }) => Promise<unknown>;
  pinnedSm3?: string | undefined;
  onError: (error: unknown) => void;
  retryMs?: number;
  refreshMs?: number;
}): { stop(): Promise<void> } {
  const retryMs = o.retryMs ?? 2_000;
  const refreshMs = o.refreshMs ?? 6 * 3_600_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let delay = retryMs;
  const round = async () => {
    try {
      const served = await o.ask();
      if (o.pinnedSm3 && served.certificate.fingerprintSm3() !== o.pinnedSm3) {
        throw new Error(
          `finance serves certificate ${served.certificate.fingerprintSm3()}, not the pinned ${o.pinnedSm3}`,
        );
      }
      await o.publish(served);
      delay = retryMs;
      schedule(refreshMs);
    } catch (error) {
      o.onError(error);
      delay = Math.min(delay * 2, 60_000);
      schedule(delay);
    }
  };
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = round();
    }, ms);
    timer.unref();
  };
  schedule(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
