import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { type CryptoOutcome, type FinanceSigner, receiptCrypto } from "../domain/receipt-crypto.ts";

/** Runs receipt crypto off the event loop when it can, inline when it cannot. */
export interface ReceiptCryptoRunner {
  run(document: Buffer, agencySignature: Buffer, at: Date): Promise<CryptoOutcome>;
  readonly workers: number;
  /** Tasks done inline because their worker failed. */
  readonly inlineFallbacks: number;
  close(): Promise<void>;
}

export function inlineCrypto(signer: FinanceSigner): ReceiptCryptoRunner {
  return {
    workers: 0,
    inlineFallbacks: 0,
    run: async (document, agencySignature, at) => receiptCrypto(signer, document, agencySignature, at),
    close: async () => {},
  };
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (o: CryptoOutcome) => void; reject: (e: Error) => void }>;
  dead: boolean;
}

/**
 * SM2 verification and signing take milliseconds each: a pool of worker threads keeps the
 * simulator (and a test that runs it in-process beside the daemon) responsive and uses the
 * other cores. A task whose worker fails is done inline, so a broken worker never loses a receipt.
 */
export function workerCrypto(
  signer: FinanceSigner,
  size = Math.min(4, availableParallelism()),
): ReceiptCryptoRunner {
  const inline = inlineCrypto(signer);
  if (size <= 0) return inline;
  const workerData = {
    keyDer: signer.key.toDer(),
    certificateDer: signer.certificate.toDer(),
    trustedDer: signer.trustedAgencyCas.map((c) => c.toDer()),
  };
  let nextId = 0;
  let inlineFallbacks = 0;
  const slots: Slot[] = Array.from({ length: size }, () => {
    const worker = new Worker(new URL("./crypto-worker-boot.mjs", import.meta.url), { workerData });
    worker.unref();
    const slot: Slot = { worker, pending: new Map(), dead: false };
    worker.on("message", (m: { id?: number; outcome?: CryptoOutcome; error?: string }) => {
      if (m.id === undefined) return;
      const task = slot.pending.get(m.id);
      slot.pending.delete(m.id);
      if (!task) return;
      if (m.error !== undefined || !m.outcome) return task.reject(new Error(m.error ?? "no outcome"));
      const o = m.outcome;
      task.resolve(
        o.ok
          ? {
              ok: true,
              signerDer: Buffer.from(o.signerDer),
              financeSignature: Buffer.from(o.financeSignature),
            }
          : o,
      );
    });
    const fail = (error: Error) => {
      slot.dead = true;
      for (const task of slot.pending.values()) task.reject(error);
      slot.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", () => fail(new Error("crypto worker exited")));
    return slot;
  });

  const pick = (): Slot | undefined =>
    slots.filter((s) => !s.dead).sort((a, b) => a.pending.size - b.pending.size)[0];

  const fallback = (document: Buffer, agencySignature: Buffer, at: Date) => {
    inlineFallbacks++;
    return inline.run(document, agencySignature, at);
  };
  return {
    get workers() {
      return slots.filter((s) => !s.dead).length;
    },
    get inlineFallbacks() {
      return inlineFallbacks;
    },
    async run(document, agencySignature, at) {
      const slot = pick();
      if (!slot) return fallback(document, agencySignature, at);
      const id = nextId++;
      try {
        return await new Promise<CryptoOutcome>((resolve, reject) => {
          slot.pending.set(id, { resolve, reject });
          slot.worker.postMessage({ id, document, agencySignature, at: at.getTime() });
        });
      } catch {
        return fallback(document, agencySignature, at);
      }
    },
    async close() {
      await Promise.all(
        slots.map((s) => {
          s.dead = true;
          return s.worker.terminate();
        }),
      );
    },
  };
}
