import { Worker } from "node:worker_threads";
import type { Logger } from "@piaoju/runtime";
import type { FromWorker, Op, OpResult, ToWorker, WorkerInit } from "./ops.ts";

/**
 * The SM2 worker pool. The main thread only queues ops; ops that arrive in the same turn of the
 * event loop are sent together, in chunks of up to `chunkOps` ops (and about `chunkBytes` of
 * payload), so one postMessage carries many signatures. Each worker has at most `chunksPerWorker`
 * chunks outstanding: enough to stay busy between messages, few enough that the queue stays here,
 * where Health can see it and the capacity limit applies.
 */

const RESOURCE_EXHAUSTED = 8;
const INTERNAL = 13;
const UNAVAILABLE = 14;

export interface PoolOptions {
  workers: number;
  /** Most ops accepted at once (queued + running); above it: RESOURCE_EXHAUSTED. */
  capacity: number;
  init: WorkerInit;
  logger: Logger;
  chunkOps?: number;
  chunkBytes?: number;
  chunksPerWorker?: number;
}

interface Pending {
  op: Op;
  resolve: (result: OpResult) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  outstanding: Map<number, Pending[]>;
  ops: number;
}

export class PoolFullError extends Error {}

const WORKER_URL = new URL("./worker.ts", import.meta.url);

/**
 * Under tsx the worker's `.ts` needs tsx's loader, and Node 20 does not apply a `--import`
 * given in `execArgv` before the worker's entry is loaded: a tiny ESM entry registers tsx's
 * hooks first and then imports the worker.
 */
function spawnWorker(init: WorkerInit): Worker {
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const entry = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(WORKER_URL.href)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(entry)}`), {
    workerData: init,
    name: "sm2-worker",
  });
}

export class WorkerPool {
  readonly #options: Required<PoolOptions>;
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #inFlight = 0;
  #nextChunk = 1;
  #scheduled = false;
  #closing = false;
  /** SPKI DER of each key, as the workers reported it. */
  publicKeys = new Map<string, Uint8Array>();

  private constructor(options: PoolOptions) {
    this.#options = { chunkOps: 64, chunkBytes: 1 << 20, chunksPerWorker: 2, ...options };
  }

  /** Starts the workers and waits until every one has loaded the keystore (or one refuses it). */
  static async start(options: PoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    try {
      await Promise.all(Array.from({ length: options.workers }, () => pool.#addWorker()));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  #addWorker(): Promise<void> {
    return new Promise((resolve, reject) => {
      const slot: Slot = {
        worker: spawnWorker(this.#options.init),
        ready: false,
        outstanding: new Map(),
        ops: 0,
      };
      this.#slots.push(slot);
      slot.worker.on("message", (message: FromWorker) => {
        if (message.type === "ready") {
          slot.ready = true;
          for (const { keyId, publicKey } of message.keys) this.publicKeys.set(keyId, publicKey);
          resolve();
          this.#dispatch();
        } else if (message.type === "failed") {
          reject(new Error(message.message));
        } else {
          const batch = slot.outstanding.get(message.chunk);
          slot.outstanding.delete(message.chunk);
          if (batch) {
            slot.ops -= batch.length;
            this.#inFlight -= batch.length;
            batch.forEach((pending, i) => {
              pending.resolve(
                message.results[i] ?? {
                  ok: false,
                  code: INTERNAL,
                  message: "internal error",
                  internal: "no result",
                },
              );
            });
          }
          this.#dispatch();
        }
      });
      slot.worker.on("error", (error) => {
        this.#options.logger.error({ err: error }, "SM2 worker failed");
        if (!slot.ready) reject(error);
      });
      slot.worker.on("exit", (code) => {
        const index = this.#slots.indexOf(slot);
        if (index >= 0) this.#slots.splice(index, 1);
        for (const batch of slot.outstanding.values()) {
          this.#inFlight -= batch.length;
          for (const pending of batch) {
            pending.resolve({
              ok: false,
              code: INTERNAL,
              message: "internal error",
              internal: "worker exited",
            });
          }
        }
        slot.outstanding.clear();
        if (!slot.ready) reject(new Error(`SM2 worker exited (code ${code}) before it loaded the keystore`));
        else if (!this.#closing) {
          this.#options.logger.error({ code }, "SM2 worker exited; starting another");
          this.#addWorker().catch((error: unknown) =>
            this.#options.logger.error({ err: error }, "cannot restart an SM2 worker"),
          );
        }
      });
    });
  }

  get stats(): { inFlight: number; queueDepth: number; workers: number; capacity: number } {
    return {
      inFlight: this.#inFlight,
      queueDepth: this.#queue.length,
      workers: this.#slots.filter((s) => s.ready).length,
      capacity: this.#options.capacity,
    };
  }

  /** Runs one op. Refused at once (RESOURCE_EXHAUSTED) when the device is at capacity. */
  run(op: Op): Promise<OpResult> {
    return this.runAll([op]).then((results) => results[0] as OpResult);
  }

  /** Runs ops together (all accepted or all refused, so a batch never half-enters the queue). */
  runAll(ops: Op[]): Promise<OpResult[]> {
    if (this.#closing) {
      return Promise.resolve(
        ops.map(() => ({ ok: false, code: UNAVAILABLE, message: "the device is shutting down" })),
      );
    }
    if (this.#inFlight + ops.length > this.#options.capacity) {
      const message = `the device is at capacity (${this.#inFlight} operations in flight, limit ${this.#options.capacity}); retry later`;
      return Promise.resolve(ops.map(() => ({ ok: false, code: RESOURCE_EXHAUSTED, message })));
    }
    this.#inFlight += ops.length;
    const promises = ops.map((op) => new Promise<OpResult>((resolve) => this.#queue.push({ op, resolve })));
    if (!this.#scheduled) {
      this.#scheduled = true;
      // Let the ops of every request read in this turn join the queue first: fewer, fuller chunks.
      setImmediate(() => {
        this.#scheduled = false;
        this.#dispatch();
      });
    }
    return Promise.all(promises);
  }

  #dispatch(): void {
    const { chunkOps, chunkBytes, chunksPerWorker } = this.#options;
    while (this.#queue.length > 0) {
      let slot: Slot | undefined;
      for (const candidate of this.#slots) {
        if (!candidate.ready || candidate.outstanding.size >= chunksPerWorker) continue;
        if (!slot || candidate.ops < slot.ops) slot = candidate;
      }
      if (!slot) return;
      // Spread a short queue over the idle workers instead of giving it all to one.
      const idle = this.#slots.filter((s) => s.ready && s.outstanding.size < chunksPerWorker).length;
      const fair = Math.max(1, Math.ceil(this.#queue.length / idle));
      const batch: Pending[] = [];
      let bytes = 0;
      while (this.#queue.length > 0 && batch.length < Math.min(chunkOps, fair)) {
        const next = this.#queue[0] as Pending;
        const size = opBytes(next.op);
        if (batch.length > 0 && bytes + size > chunkBytes) break;
        batch.push(next);
        this.#queue.shift();
        bytes += size;
      }
      const chunk = this.#nextChunk++;
      slot.outstanding.set(chunk, batch);
      slot.ops += batch.length;
      const message: ToWorker = { type: "run", chunk, ops: batch.map((p) => p.op) };
      slot.worker.postMessage(message);
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    for (const pending of this.#queue.splice(0)) {
      this.#inFlight--;
      pending.resolve({ ok: false, code: UNAVAILABLE, message: "the device is shutting down" });
    }
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
  }
}

function opBytes(op: Op): number {
  switch (op.kind) {
    case "sign":
      return op.data.length;
    case "signDigest":
      return op.digest.length;
    case "verify":
      return op.data.length + op.signature.length;
    case "signPkcs7":
      return (op.data?.length ?? 0) + (op.digest?.length ?? 0);
    case "verifyPkcs7":
      return op.data.length + op.signature.length;
    case "signXml":
      return op.data.length;
    case "makeCsr":
      return 0;
    case "verifyXml":
      return op.document.length;
    case "makeEnvelope":
      return op.content.length + op.recipients.reduce((sum, cert) => sum + cert.length, 0);
    case "openEnvelope":
      return op.envelope.length;
  }
}
