import { readFile } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import type { Results, Transaction } from "@electric-sql/pglite";
import { messages, TransactionAbortedError } from "@electric-sql/pglite";

/**
 * PGlite on worker threads: the WebAssembly PostgreSQL of each database runs on a worker of a small
 * pool, so the main thread keeps HTTP, crypto and orchestration and the databases use another core
 * (ADR "PGlite in worker threads"). `RemotePGlite` is the part of PGlite's API that database.ts and
 * pglite-prisma-adapter use (query with rowMode/parsers, exec, transaction with query/exec/rollback,
 * close), one message round trip per statement.
 */

type ParserFn = (value: string, typeId: number) => unknown;

interface QueryOptions {
  rowMode?: "array" | "object";
  parsers?: Record<number, ParserFn>;
}

interface SerialisedError {
  name: string;
  message: string;
  stack?: string;
  database?: boolean;
  aborted?: boolean;
  fields: Record<string, string | number>;
}

type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerialisedError };

const WORKER_URL = new URL("./pglite-worker.mjs", import.meta.url);

/**
 * PGlite's WebAssembly, compiled once per process and handed to every worker (V8 shares the
 * compiled code between threads): otherwise each thread compiles the 9 MB module again.
 */
let pgliteModule: Promise<object> | undefined;
/** This package's TypeScript lib has no WebAssembly types (no DOM); Node has the global. */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<object> } })
  .WebAssembly;
function compiledPglite(): Promise<object> {
  pgliteModule ??= readFile(new URL("pglite.wasm", import.meta.resolve("@electric-sql/pglite"))).then(
    (bytes) => wasm.compile(bytes),
  );
  return pgliteModule;
}

/** Rebuilds the worker's error on this thread: a DatabaseError stays one (Prisma's adapter and the bus read `code`). */
function rebuildError(e: SerialisedError): Error {
  let error: Error;
  if (e.aborted) error = new TransactionAbortedError();
  else if (e.database) {
    error = new messages.DatabaseError(e.message, Number(e.fields.length ?? 0), "error");
  } else {
    error = new Error(e.message);
    error.name = e.name;
  }
  Object.assign(error, e.fields);
  error.message = e.message;
  // This thread's stack says who called; the worker's where PGlite threw.
  error.stack = `${error.stack ?? ""}\n    --- in the PGlite worker ---\n${e.stack ?? ""}`;
  return error;
}

/** One worker thread and the databases it holds. */
class PgliteThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 0;
  #nextTx = 0;
  #failure: Error | undefined;
  #exited: Promise<void>;
  databases = 0;

  constructor() {
    this.#worker = new Worker(WORKER_URL, { name: "pglite" });
    this.#worker.unref(); // an idle database keeps no process alive; a pending request refs it
    this.#worker.on("message", (answer: Answer) => {
      const waiting = this.#pending.get(answer.id);
      if (!waiting) return;
      this.#settled(answer.id);
      if (answer.ok) waiting.resolve(answer.value);
      else waiting.reject(rebuildError(answer.error));
    });
    this.#worker.on("error", (error) => this.#fail(error));
    this.#exited = new Promise((resolve) => {
      this.#worker.once("exit", (code) => {
        this.#fail(new Error(`@piaoju/persistence: the PGlite worker thread exited (code ${code})`));
        resolve();
      });
    });
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const waiting = [...this.#pending.values()];
    this.#pending.clear();
    for (const w of waiting) w.reject(this.#failure);
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker.unref();
  }

  newTransactionId(): number {
    this.#nextTx += 1;
    return this.#nextTx;
  }

  call<T>(request: Record<string, unknown>): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = ++this.#nextId;
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        this.#worker.postMessage({ ...request, id });
      } catch (error) {
        // DataCloneError: a parameter that cannot cross threads (a function, a symbol)
        this.#settled(id);
        reject(error as Error);
      }
    });
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate();
    await this.#exited;
  }
}

/**
 * Worker threads shared by the databases of one process (the embedded platform opens six): a
 * database goes to the thread with the fewest databases, a thread is started when there are fewer
 * than `size`, and it ends when its last database closes.
 */
export class PgliteWorkerPool {
  readonly #threads: PgliteThread[] = [];
  #nextDb = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new Error("PgliteWorkerPool: size must be a positive integer");
  }

  async open(dataDir: string | undefined): Promise<RemotePGlite> {
    let thread = this.#threads.reduce<PgliteThread | undefined>(
      (best, t) => (best === undefined || t.databases < best.databases ? t : best),
      undefined,
    );
    if (thread === undefined || (thread.databases > 0 && this.#threads.length < this.size)) {
      thread = new PgliteThread();
      this.#threads.push(thread);
    }
    thread.databases += 1;
    const db = ++this.#nextDb;
    try {
      const module = await compiledPglite();
      await thread.call({ op: "open", db, module, ...(dataDir === undefined ? {} : { dataDir }) });
    } catch (error) {
      await this.#release(thread);
      throw error;
    }
    return new RemotePGlite(thread, db, () => this.#release(thread));
  }

  async #release(thread: PgliteThread): Promise<void> {
    thread.databases -= 1;
    if (thread.databases > 0) return;
    this.#threads.splice(this.#threads.indexOf(thread), 1);
    await thread.terminate();
  }
}

/** A value PGlite would serialise by type, made safe to structured-clone without changing what PGlite writes. */
function cloneable(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map(cloneable);
  const proto = Object.getPrototypeOf(value);
  // A plain object is JSON for PGlite (JSON.stringify): the same text from its JSON round trip.
  if (proto === Object.prototype || proto === null) return JSON.parse(JSON.stringify(value));
  // Any other class instance: PGlite writes String(value) for non-JSON types (e.g. a Decimal).
  return String(value);
}

/** Applies this thread's parser functions to the columns the worker left as text. */
function parse(result: Results, options: QueryOptions | undefined): Results {
  const parsers = options?.parsers;
  if (!parsers) return result;
  const columns = result.fields.flatMap((field, index) => {
    const parser = parsers[field.dataTypeID];
    return parser ? [{ index, name: field.name, parser, typeId: field.dataTypeID }] : [];
  });
  if (columns.length === 0) return result;
  const arrays = options.rowMode === "array";
  for (const row of result.rows as Record<string | number, unknown>[]) {
    for (const c of columns) {
      const key = arrays ? c.index : c.name;
      const value = row[key];
      if (value !== null && value !== undefined) row[key] = c.parser(value as string, c.typeId);
    }
  }
  return result;
}

function request(options: QueryOptions | undefined): Record<string, unknown> {
  return {
    ...(options?.rowMode ? { rowMode: options.rowMode } : {}),
    ...(options?.parsers ? { text: Object.keys(options.parsers).map(Number) } : {}),
  };
}

/** The part of PGlite's interface that this package and pglite-prisma-adapter use, on a worker thread. */
export class RemotePGlite {
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(
    readonly thread: PgliteThread,
    readonly db: number,
    readonly release: () => Promise<void>,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  async query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    return this.#query<T>(undefined, sql, params, options);
  }

  async exec(sql: string, options?: QueryOptions): Promise<Results[]> {
    return this.#exec(undefined, sql, options);
  }

  async #query<T>(
    tx: number | undefined,
    sql: string,
    params: unknown[] | undefined,
    options: QueryOptions | undefined,
  ): Promise<Results<T>> {
    const result = await this.thread.call<Results>({
      op: "query",
      db: this.db,
      ...(tx === undefined ? {} : { tx }),
      sql,
      params: params?.map(cloneable) ?? [],
      ...request(options),
    });
    return parse(result, options) as Results<T>;
  }

  async #exec(tx: number | undefined, sql: string, options: QueryOptions | undefined): Promise<Results[]> {
    const results = await this.thread.call<Results[]>({
      op: "exec",
      db: this.db,
      ...(tx === undefined ? {} : { tx }),
      sql,
      ...request(options),
    });
    return results.map((r) => parse(r, options));
  }

  /**
   * BEGIN on the worker's connection, `callback` with statements pinned to that transaction, then
   * COMMIT (or ROLLBACK when it throws), as PGlite's transaction() does; other queries on this
   * database wait on the worker meanwhile, as they wait on PGlite's mutex in process.
   *
   * The callback starts at once, without waiting for BEGIN's answer: its first statement follows
   * "begin" on the same channel and the worker runs it once the transaction is open (one round
   * trip less per transaction). A failed BEGIN fails the statements and the commit.
   */
  async transaction<T>(callback: (tx: Transaction) => Promise<T>): Promise<T> {
    const txId = this.thread.newTransactionId();
    const begun = this.thread.call({ op: "begin", db: this.db, tx: txId });
    begun.catch(() => {}); // its error also fails the statements and "end", which report it
    // Never call back synchronously: pglite-prisma-adapter's callback reads the promise that
    // transaction() returns, as PGlite's own (which awaits BEGIN first) allows.
    await Promise.resolve();
    let closed = false;
    const check = () => {
      if (closed) throw new Error("Transaction is closed");
    };
    const tx = {
      query: async <R>(sql: string, params?: unknown[], options?: QueryOptions) => {
        check();
        return this.#query<R>(txId, sql, params, options);
      },
      exec: async (sql: string, options?: QueryOptions) => {
        check();
        return this.#exec(txId, sql, options);
      },
      rollback: async () => {
        check();
        await this.thread.call({ op: "rollback", db: this.db, tx: txId });
        closed = true;
      },
      sql: () => Promise.reject(new Error("@piaoju/persistence: tx.sql is not supported on a PGlite worker")),
      listen: () =>
        Promise.reject(new Error("@piaoju/persistence: LISTEN is not supported on a PGlite worker")),
      get closed() {
        return closed;
      },
    } as unknown as Transaction;
    let result: T;
    try {
      result = await callback(tx);
    } catch (error) {
      closed = true;
      await this.thread.call({ op: "end", db: this.db, tx: txId, commit: false }).catch(() => {});
      throw error;
    }
    closed = true;
    await this.thread.call({ op: "end", db: this.db, tx: txId, commit: true });
    return result;
  }

  /** PGlite closes (its data folder is complete on disk) before the promise resolves; the last database ends the thread. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.thread.call({ op: "close", db: this.db });
      } finally {
        this.#closed = true;
        await this.release();
      }
    })();
    return this.#closing;
  }
}
