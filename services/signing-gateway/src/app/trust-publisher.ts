import { enqueueEvents } from "@piaoju/bus";
import { AgencyCaPublished, createEnvelope, topics } from "@piaoju/contracts";
import { Certificate } from "@piaoju/gm-crypto";
import type { Database } from "@piaoju/persistence";
import type { GetCertificateResponse, ListKeysResponse } from "@piaoju/proto/signing";
import type { Logger } from "@piaoju/runtime";
import type { Router } from "../router.ts";

/**
 * Publishes the CAs agency signatures chain to (signing.AgencyCaPublished), so that verifiers
 * (delivery's 查验, the gateway's public trust list) learn them from the bus instead of from a
 * file or a variable set by hand, in both modes. The signing gateway owns them: they are the
 * issuers in the chains its devices hold for agency keys (GetCertificate), and, embedded, the
 * development CA of its own keystore. Each CA goes out once per process when first found, and
 * every CA again each `republishMs`, so a consumer whose database is new learns them too.
 */
export interface TrustPublisherDeps {
  router: Router;
  db: Database;
  isAgencyKey: (keyId: string) => boolean;
  /** CAs this gateway holds itself (embedded: the keystore's dev CA), read at each look. */
  ownCas: () => Certificate[];
  published: () => void;
  logger: Logger;
  clock?: () => Date;
  deadlineMs: number;
}

export class TrustPublisher {
  readonly #sent = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(private readonly deps: TrustPublisherDeps) {}

  /** The CAs known now: own ones, then the issuers in the chains of agency keys. */
  async collect(): Promise<Certificate[]> {
    const found = new Map<string, Certificate>();
    for (const ca of this.deps.ownCas()) found.set(ca.fingerprintSm3(), ca);
    const deadline = () => Date.now() + this.deps.deadlineMs;
    const listed = await this.deps.router.unary<ListKeysResponse>("ListKeys", {}, deadline());
    for (const key of listed.keys) {
      if (!key.hasCertificate || !this.deps.isAgencyKey(key.keyId)) continue;
      const answer = await this.deps.router.unary<GetCertificateResponse>(
        "GetCertificate",
        { keyId: key.keyId },
        deadline(),
      );
      // chain: leaf first, then each issuer; the issuers are what a verifier needs to trust.
      for (const der of answer.chain.slice(1)) {
        const cert = Certificate.fromDer(der);
        if (cert.isCa) found.set(cert.fingerprintSm3(), cert);
      }
    }
    return [...found.values()];
  }

  /** Looks once and publishes what was not sent yet (all of it when `again`). Returns how many went out. */
  async publishOnce(again = false): Promise<number> {
    const cas = (await this.collect()).filter((c) => again || !this.#sent.has(c.fingerprintSm3()));
    if (cas.length === 0) return 0;
    const now = (this.deps.clock ?? (() => new Date()))();
    const messages = cas.map((ca) => ({
      topic: topics.signing,
      envelope: createEnvelope(
        AgencyCaPublished,
        { certificate: describeCertificate(ca), publishedAt: now.toISOString() },
        { producer: "signing-gateway", occurredAt: now },
      ),
    }));
    await this.deps.db.transaction((sql) => enqueueEvents(sql, messages));
    for (const ca of cas) this.#sent.add(ca.fingerprintSm3());
    this.deps.published();
    this.deps.logger.info({ cas: cas.map((c) => c.subject.text) }, "agency CA certificates published");
    return cas.length;
  }

  /**
   * Publishes at once (retrying every `retryMs` while no device answers), then looks again each
   * `refreshMs` for CAs of keys added since, and publishes every CA again each `republishMs`.
   */
  start(o: { retryMs: number; refreshMs: number; republishMs: number }): void {
    let lastFull = 0;
    let failingSince: number | undefined;
    const round = async () => {
      const full = Date.now() - lastFull >= o.republishMs;
      try {
        await this.publishOnce(full);
        if (full) lastFull = Date.now();
        failingSince = undefined;
        this.#schedule(round, o.refreshMs);
      } catch (error) {
        // Devices still starting (embedded, they come up in the background) is no news; a minute of it is.
        failingSince ??= Date.now();
        const level = Date.now() - failingSince > 60_000 ? "warn" : "debug";
        this.deps.logger[level]({ err: error }, "agency CA certificates not published yet: retrying");
        this.#schedule(round, o.retryMs);
      }
    };
    this.#schedule(round, 0);
  }

  /** Looks now (after a key was added), outside the schedule. */
  nudge(): void {
    this.#run(() => this.publishOnce(false).then(() => {}));
  }

  #schedule(round: () => Promise<void>, ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#run(round), ms);
    this.#timer.unref();
  }

  #run(work: () => Promise<void>): void {
    const previous = this.#running ?? Promise.resolve();
    this.#running = previous.then(work).catch((error) => {
      this.deps.logger.warn({ err: error }, "agency CA certificates not published");
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}

/** A certificate as the trust events carry it. */
export function describeCertificate(cert: Certificate) {
  return {
    pem: cert.toPem(),
    sm3: cert.fingerprintSm3(),
    subject: cert.subject.text,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
  };
}
