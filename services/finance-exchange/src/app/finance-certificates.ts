import { type Emit, FinanceCertificatePublished } from "@piaoju/contracts";
import { Certificate } from "@piaoju/gm-crypto";
import type { SqlExecutor } from "@piaoju/persistence";
import { carriedCertificate } from "../domain/archive.ts";

/**
 * finance-exchange publishes the certificates of finance's it trusts (finance.FinanceCertificatePublished),
 * so verifiers (delivery's 查验, the gateway's public trust list) learn them from the owner: the
 * supervision (监制) certificate of each finance signature it accepted, once per process when first
 * seen, and, at start, those of the latest supervised receipts and finance's CA when configured
 * (the ferry's FINANCE_FERRY_TRUSTED_CA). Publishing one again changes nothing downstream.
 */
export class FinanceCertificates {
  readonly #published = new Set<string>();

  constructor(
    private readonly clock: () => Date,
    private readonly configuredCas: Certificate[] = [],
  ) {}

  /** In an answer's transaction: the signer certificate of a finance signature just accepted. */
  observe(emit: Emit, financeSignature: string): void {
    const der = carriedCertificate(financeSignature);
    if (!der) return;
    this.#emit(emit, "supervision", Certificate.fromDer(Buffer.from(der, "base64")));
  }

  /** At start: finance's configured CA and the certificates of the latest supervised receipts. */
  async publishKnown(tx: SqlExecutor, emit: Emit): Promise<number> {
    const before = this.#published.size;
    for (const ca of this.configuredCas) this.#emit(emit, "ca", ca);
    const rows = await tx.query<{ finance_signature: string }>(
      `SELECT finance_signature FROM supervision_item
        WHERE status = 'SUPERVISED' AND finance_signature IS NOT NULL ORDER BY decided_at DESC LIMIT 200`,
    );
    for (const row of rows) this.observe(emit, row.finance_signature);
    return this.#published.size - before;
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
