// The PGlite databases of one worker thread (see pglite-thread.ts, which starts it and speaks to it).
// Plain JavaScript on purpose: a worker gets neither vitest's nor tsx's TypeScript loader for free.
//
// One request = one message { id, op, db, ... }; one answer = { id, ok, value | error }. Each
// request calls the PGlite method as soon as it arrives, in arrival order, so PGlite's own mutexes
// order and serialise the work exactly as they do on the main thread: a query waits for a running
// transaction, statements of a transaction run on it in the order they were sent.
import { parentPort } from "node:worker_threads";
import { messages, PGlite } from "@electric-sql/pglite";

const INT8 = 20;
const asText = (value) => value;

/** db id → { pglite, txs: Map<tx id, { tx, finish, done }> } */
const databases = new Map();
/** The transaction callback rejects with this when the main thread's callback threw: ROLLBACK, not an error. */
const ABORT = Symbol("abort");

/** Parsers that keep the given types as PostgreSQL's text: the main thread parses them with its own functions. */
const textParsersCache = new Map();
function textParsers(oids) {
  if (!oids || oids.length === 0) return undefined;
  const key = oids.join(",");
  let parsers = textParsersCache.get(key);
  if (!parsers) {
    parsers = Object.fromEntries(oids.map((oid) => [oid, asText]));
    textParsersCache.set(key, parsers);
  }
  return parsers;
}

function database(id) {
  const found = databases.get(id);
  if (!found) throw new Error("@piaoju/persistence: this PGlite database is closed");
  return found;
}

/** The open transaction `txId` once its BEGIN ran (statements sent right after "begin" wait here, in order). */
function transactionOf(db, txId) {
  const entry = db.txs.get(txId);
  if (!entry) return Promise.reject(new Error("Transaction is closed"));
  return entry.ready;
}

/** The connection to run a statement on: the pinned transaction, or the database (which queues behind one). */
function target(request) {
  const db = database(request.db);
  return request.tx === undefined ? db.pglite : transactionOf(db, request.tx);
}

function options(request) {
  const parsers = textParsers(request.text);
  if (!parsers && !request.rowMode) return undefined;
  return { ...(request.rowMode ? { rowMode: request.rowMode } : {}), ...(parsers ? { parsers } : {}) };
}

/** What crosses back: the results without PGlite's extras (blob), which structured clone may not carry. */
function result(r) {
  return {
    rows: r.rows,
    fields: r.fields,
    ...(r.affectedRows === undefined ? {} : { affectedRows: r.affectedRows }),
  };
}

const ops = {
  async open(request) {
    if (databases.has(request.db)) throw new Error(`database ${request.db} is already open`);
    const pglite = await PGlite.create({
      ...(request.dataDir === undefined ? {} : { dataDir: request.dataDir }),
      ...(request.module ? { pgliteWasmModule: request.module } : {}),
      // node-postgres' convention for raw queries: int8 stays a string (see database.ts).
      parsers: { [INT8]: asText },
    });
    databases.set(request.db, { pglite, txs: new Map() });
    return null;
  },
  // Outside a transaction the PGlite call is made before anything awaits, so calls reach PGlite's
  // mutex in arrival order; inside one they wait for BEGIN first, in arrival order too.
  query(request) {
    const on = target(request);
    const run = (c) => c.query(request.sql, request.params, options(request)).then(result);
    return on instanceof Promise ? on.then(run) : run(on);
  },
  exec(request) {
    const on = target(request);
    const run = (c) => c.exec(request.sql, options(request)).then((rs) => rs.map(result));
    return on instanceof Promise ? on.then(run) : run(on);
  },
  /**
   * Opens transaction `request.tx` (the main thread numbers them, so that it can send the first
   * statements without waiting for this answer): PGlite's transaction() holds the connection until
   * "end" settles its callback, committing or rolling back.
   */
  begin(request) {
    const db = database(request.db);
    if (db.txs.has(request.tx)) throw new Error(`transaction ${request.tx} exists`);
    let opened;
    const ready = new Promise((resolve, reject) => {
      opened = { resolve, reject };
    });
    ready.catch(() => {}); // whoever waits on it sees the error
    const entry = { ready, finish: undefined, done: undefined };
    db.txs.set(request.tx, entry);
    entry.done = db.pglite.transaction((tx) => {
      const hold = new Promise((resolve, reject) => {
        entry.finish = { resolve, reject };
      });
      opened.resolve(tx);
      return hold;
    });
    // A BEGIN that fails rejects before the callback ran; afterwards opened.reject does nothing.
    entry.done.catch((error) => opened.reject(error));
    return ready.then(() => null);
  },
  async rollback(request) {
    const tx = await transactionOf(database(request.db), request.tx);
    await tx.rollback();
    return null;
  },
  async end(request) {
    const db = database(request.db);
    const entry = db.txs.get(request.tx);
    if (!entry) throw new Error("Transaction is closed");
    db.txs.delete(request.tx);
    try {
      await entry.ready;
    } catch (error) {
      if (request.commit) throw error; // BEGIN failed: nothing to roll back
      return null;
    }
    if (request.commit) entry.finish.resolve();
    else entry.finish.reject(ABORT);
    try {
      await entry.done;
    } catch (error) {
      if (error !== ABORT) throw error;
    }
    return null;
  },
  async close(request) {
    const db = databases.get(request.db);
    if (!db) return null;
    databases.delete(request.db);
    if (!db.pglite.closed) await db.pglite.close();
    return null;
  },
};

/** An error as plain data: PostgreSQL's fields (code, detail, constraint, ...) survive, the main thread rebuilds the class. */
function serialiseError(error) {
  if (!(error instanceof Error)) return { name: "Error", message: String(error), fields: {} };
  const fields = {};
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === "string" || typeof value === "number") fields[key] = value;
  }
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    database: error instanceof messages.DatabaseError,
    aborted: error.constructor?.name === "TransactionAbortedError",
    fields,
  };
}

parentPort.on("message", (request) => {
  let work;
  try {
    work = Promise.resolve(ops[request.op](request));
  } catch (error) {
    work = Promise.reject(error);
  }
  work.then(
    (value) => parentPort.postMessage({ id: request.id, ok: true, value }),
    (error) => parentPort.postMessage({ id: request.id, ok: false, error: serialiseError(error) }),
  );
});
