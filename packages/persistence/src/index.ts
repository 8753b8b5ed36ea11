export {
  databaseUrl,
  dumpPglite,
  dumpPostgres,
  existingDatabases,
  loadPglite,
  otherSessions,
  pgliteInUse,
  restorePostgres,
} from "./backup.ts";
export type { Database, DatabaseConfig, SqlExecutor } from "./database.ts";
export { openDatabase, pgliteVersion } from "./database.ts";
export type { MigrateOptions } from "./migrate.ts";
export { MIGRATION_LOCK_KEY, migrate } from "./migrate.ts";
export { PgliteWorkerPool } from "./pglite-thread.ts";
export type { PrismaRawQueryable, UnitOfWork } from "./prisma.ts";
export { createPrismaClient, prismaExecutor, prismaUnitOfWork } from "./prisma.ts";
export { ensureDatabase } from "./provision.ts";
