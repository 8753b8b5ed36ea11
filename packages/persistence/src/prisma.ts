import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaPGlite } from "pglite-prisma-adapter";
import type { Database, SqlExecutor } from "./database.ts";
import { internalsOf } from "./database.ts";

/**
 * A Prisma client (Prisma 7, driver adapters) on the SAME pool / PGlite instance as `db`: no second pool, and on
 * PGlite Prisma's queries and transactions queue behind the same single connection as db.query()/db.transaction().
 *
 * Pass the service's generated class: `createPrismaClient(db, PrismaClient)`. Call `prisma.$disconnect()` before
 * `db.close()`; $disconnect does not close the shared pool.
 *
 * (The adapter parameter is typed SqlDriverAdapterFactory rather than unknown: a generated PrismaClient's
 * constructor only accepts a real adapter, so `{ adapter: unknown }` would reject it under strict function types.)
 */
export function createPrismaClient<C>(
  db: Database,
  PrismaClient: new (opts: { adapter: SqlDriverAdapterFactory }) => C,
): C {
  const { driver } = internalsOf(db);
  const adapter =
    driver.kind === "postgres"
      ? new PrismaPg(driver.pool, { disposeExternalPool: false })
      : driver.kind === "pglite"
        ? new PrismaPGlite(driver.pglite)
        : // RemotePGlite answers what the adapter calls: query(sql, values, { rowMode, parsers }), exec,
          // transaction(cb) with tx.query/rollback, and throws PGlite's DatabaseError (with its code).
          new PrismaPGlite(driver.pglite as unknown as ConstructorParameters<typeof PrismaPGlite>[0]);
  return new PrismaClient({ adapter });
}

/** What prismaExecutor needs: an interactive transaction client (or a PrismaClient). */
export interface PrismaRawQueryable {
  $queryRawUnsafe(q: string, ...v: unknown[]): Promise<unknown>;
}

/**
 * Raw SQL on a Prisma interactive transaction, e.g. an outbox insert that must commit or roll back with the
 * business rows:
 *
 *   await prisma.$transaction(async (tx) => {
 *     await tx.receipt.create({ data });
 *     await outbox.append(prismaExecutor(tx), event);
 *   });
 *
 * Values come back as Prisma deserialises raw results (bigint as BigInt, numeric as Decimal, timestamps as Date).
 */
export function prismaExecutor(tx: PrismaRawQueryable): SqlExecutor {
  return {
    async query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]> {
      const rows = await tx.$queryRawUnsafe(text, ...(params ?? []));
      return rows as T[];
    },
  };
}

/** Runs work in one database transaction, handing it the service's transaction client and raw SQL on it. */
export type UnitOfWork<Tx> = <T>(work: (tx: Tx, sql: SqlExecutor) => Promise<T>) => Promise<T>;

/**
 * A service's unit of work on its Prisma client: an interactive transaction, with raw SQL (outbox,
 * inbox) on the same transaction. `options` are Prisma's (maxWait, timeout) for services whose
 * transactions queue on a hot row lock.
 */
export function prismaUnitOfWork<Tx extends PrismaRawQueryable>(
  prisma: {
    $transaction<R>(fn: (tx: Tx) => Promise<R>, options?: { maxWait?: number; timeout?: number }): Promise<R>;
  },
  options?: { maxWait?: number; timeout?: number },
): UnitOfWork<Tx> {
  return (work) => prisma.$transaction((tx) => work(tx, prismaExecutor(tx)), options);
}
