import rateLimit from "@fastify/rate-limit";
import type { Database } from "@piaoju/persistence";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/**
 * Limits on lookup routes (verify by check code, H5 pick-up), where every answer is a guess an
 * attacker gets to check: per client address and per authenticated caller (a business app), in a
 * fixed window. @fastify/rate-limit counts; the store is where:
 *
 * - embedded (PGlite, one process): its in-memory store;
 * - cluster (PostgreSQL, several replicas): `PostgresRateLimitStore`, counters in the service's own
 *   database (an UNLOGGED table: counters need no crash safety), so every replica counts against
 *   the same budget. PostgreSQL rather than Redis: every service already has its database, and a
 *   Redis would be one more stateful part to deploy, secure and back up for one counter table.
 *
 * Over the limit: 429 RATE_LIMITED with Retry-After, as a problem document.
 */
export interface LookupLimits {
  /** Requests per window from one client address. */
  perAddress: number;
  /** Requests per window from one authenticated caller (app id), whatever its addresses. */
  perCaller: number;
  windowMs: number;
}

export interface LookupLimiter {
  /** Counts one lookup from this request's address (before authentication: guesses cost even when refused). */
  byAddress(req: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Counts one lookup by an authenticated caller. */
  byCaller(req: FastifyRequest, reply: FastifyReply, caller: string): Promise<void>;
}

const CALLER = Symbol("rate-limit caller");

/** Registers the limiter on a scope (`global: false`: only the routes that call it are limited). */
export async function lookupLimiter(
  scope: FastifyInstance,
  limits: LookupLimits,
  db?: Database,
  namespace = "lookup",
): Promise<LookupLimiter> {
  const store = db?.kind === "postgres" ? postgresRateLimitStore(db) : undefined;
  await scope.register(rateLimit, {
    global: false,
    timeWindow: limits.windowMs,
    ...(store ? { store } : {}),
  });
  if (store) {
    // One row per address or caller seen: windows long past are dropped now and then.
    const pruning = setInterval(
      () => {
        store
          .prune(2 * limits.windowMs)
          .catch((error: unknown) => scope.log.warn({ err: error }, "rate-limit pruning failed"));
      },
      Math.max(limits.windowMs, 60_000),
    );
    pruning.unref();
    scope.addHook("onClose", async () => clearInterval(pruning));
  }
  const byAddress = scope.createRateLimit({
    max: limits.perAddress,
    timeWindow: limits.windowMs,
    keyGenerator: (req) => `${namespace}:addr:${req.ip}`,
  });
  const byCaller = scope.createRateLimit({
    max: limits.perCaller,
    timeWindow: limits.windowMs,
    keyGenerator: (req) => `${namespace}:caller:${(req as unknown as Record<symbol, string>)[CALLER]}`,
  });
  const enforce = (
    result: Awaited<ReturnType<typeof byAddress>>,
    reply: FastifyReply,
    what: string,
  ): void => {
    if (result.isAllowed || !result.isExceeded) return;
    reply.header("retry-after", String(result.ttlInSeconds));
    throw Object.assign(
      new Error(`too many lookups from this ${what}: try again in ${result.ttlInSeconds} s`),
      {
        statusCode: 429,
        code: "RATE_LIMITED",
      },
    );
  };
  return {
    async byAddress(req, reply) {
      enforce(await byAddress(req), reply, "address");
    },
    async byCaller(req, reply, caller) {
      (req as unknown as Record<symbol, string>)[CALLER] = caller;
      enforce(await byCaller(req), reply, "app");
    },
  };
}

type IncrCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/**
 * A @fastify/rate-limit store in PostgreSQL: one row per key, its window's start and count,
 * bumped with one upsert (a new window starts when the old one has passed).
 */
export function postgresRateLimitStore(db: Database) {
  let ready: Promise<unknown> | undefined;
  const ensure = () => {
    ready ??= db.exec(
      `CREATE UNLOGGED TABLE IF NOT EXISTS piaoju_rate_limit (
         key TEXT PRIMARY KEY, window_start TIMESTAMPTZ NOT NULL, count INTEGER NOT NULL)`,
    );
    return ready;
  };
  return class PostgresRateLimitStore {
    incr(key: string, cb: IncrCallback, timeWindow: number): void {
      ensure()
        .then(() =>
          db.query<{ count: number; ttl: string }>(
            `INSERT INTO piaoju_rate_limit AS r (key, window_start, count) VALUES ($1, now(), 1)
             ON CONFLICT (key) DO UPDATE SET
               count = CASE WHEN r.window_start + make_interval(secs => $2 / 1000.0) <= now() THEN 1 ELSE r.count + 1 END,
               window_start = CASE WHEN r.window_start + make_interval(secs => $2 / 1000.0) <= now() THEN now() ELSE r.window_start END
             RETURNING count, (EXTRACT(EPOCH FROM (window_start + make_interval(secs => $2 / 1000.0) - now())) * 1000)::bigint::text AS ttl`,
            [key, timeWindow],
          ),
        )
        .then(([row]) =>
          cb(null, { current: Number(row?.count ?? 1), ttl: Math.max(0, Number(row?.ttl ?? timeWindow)) }),
        )
        .catch((error: Error) => cb(error));
    }

    child(): PostgresRateLimitStore {
      return new PostgresRateLimitStore();
    }

    /** Old windows are dropped now and then; a row is only a key and two numbers. */
    static async prune(olderThanMs: number): Promise<void> {
      await ensure();
      await db.query(
        "DELETE FROM piaoju_rate_limit WHERE window_start < now() - make_interval(secs => $1 / 1000.0)",
        [olderThanMs],
      );
    }
  };
}
