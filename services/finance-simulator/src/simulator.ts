import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Certificate, type DevCa } from "@piaoju/gm-crypto";
import { type Database, migrate, openDatabase } from "@piaoju/persistence";
import { createHttpApp, createLogger } from "@piaoju/runtime";
import { KEYRING_PATTERN, Keyring, LEGACY_FORMATS, SealError, Sealer } from "@piaoju/sealing";
import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import { type agencyUpsert, type baseDataUpsert, type Faults, faults as faultsSchema } from "./api.ts";
import { bindCertificate, upsertAgency, upsertBaseData } from "./app/base-data.ts";
import type { SimContext, Stats } from "./app/context.ts";
import { type ReceiptCryptoRunner, workerCrypto } from "./app/crypto-pool.ts";
import { loadOrCreateIdentity } from "./app/identity.ts";
import { resealStale } from "./app/reseal.ts";
import { type AdminClient, type AgencyClient, createAdminClient, createAgencyClient } from "./client.ts";
import { adminRoutes } from "./http/admin-routes.ts";
import { agencyRoutes } from "./http/agency-routes.ts";
import { FaultSwitch, installFaults } from "./http/faults.ts";

export * from "./api.ts";
export type { AdminClient, AgencyClient, Reply } from "./client.ts";
export { createAdminClient, createAgencyClient } from "./client.ts";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../prisma/migrations", import.meta.url));

/** Agencies (and their base data and certificates) to create at start: the test environment's fixture. */
export interface Seed {
  agencies: Array<
    z.input<typeof agencyUpsert> & {
      agencyCode: string;
      baseData?: z.input<typeof baseDataUpsert>;
      /** Agency signing certificates to bind (PEM, issued by a trusted CA). */
      certificatePems?: string[];
    }
  >;
}

export interface FinanceSimulatorOptions {
  /** PostgreSQL URL of the simulator's own database (migrated at start). */
  databaseUrl?: string;
  /** PGlite data folder when there is no databaseUrl; neither: PGlite in memory. */
  dataDir?: string;
  host?: string;
  /** Agency/public listener port; 0 (default) picks a free one. */
  port?: number;
  /** Admin listener port; 0 (default) picks a free one. */
  adminPort?: number;
  /** Default: 32 random hex characters. */
  adminToken?: string;
  /** 32 hex digits: the SM4 key sealing secrets at rest. Pass the same one to restart on the same database. */
  masterKey?: string;
  /** Approve stock applications at once (default true). */
  autoApprove?: boolean;
  /** First number issued for each bill code (default 1). */
  firstNumber?: number;
  /** CA certificates (PEM) whose agency certificates are trusted besides finance's own CA. */
  agencyCaPems?: string[];
  faults?: z.input<typeof faultsSchema>;
  seed?: Seed;
  /** Worker threads for SM2 checks and signatures (default 2; 0: on the event loop). */
  cryptoWorkers?: number;
  /** pino level, default "warn". */
  logLevel?: string;
}

export interface FinanceSimulator {
  /** Agency + public API, e.g. http://127.0.0.1:7400 */
  url: string;
  adminUrl: string;
  adminToken: string;
  financeCertificate: Certificate;
  financeCertificatePem: string;
  /** Finance's CA: issues agency certificates in tests (`ca.issue({ subject: { organizationalUnit: agencyCode } ... })`). */
  ca: DevCa;
  admin: AdminClient;
  /** A signed client for one agency. */
  agency(agencyCode: string, secret: string): AgencyClient;
  setFaults(faults: z.input<typeof faultsSchema>): Promise<Faults>;
  clearFaults(): Promise<Faults>;
  close(): Promise<void>;
}

/** Starts the simulator: database, identity, the agency listener and the admin listener. */
export async function startFinanceSimulator(
  options: FinanceSimulatorOptions = {},
): Promise<FinanceSimulator> {
  const host = options.host ?? "127.0.0.1";
  const logger = createLogger({ name: "finance-simulator", level: options.logLevel ?? "warn" });
  const masterKey = options.masterKey ?? randomBytes(16).toString("hex");
  if (!KEYRING_PATTERN.test(masterKey))
    throw new Error(
      "masterKey must be 32 hex digits (an SM4 key), or several comma-separated, current first",
    );
  const sealer = new Sealer(Keyring.parse(masterKey), { legacy: [LEGACY_FORMATS.financeSimulator] });
  const adminToken = options.adminToken ?? randomBytes(16).toString("hex");
  if (adminToken.length < 16) throw new Error("adminToken must be at least 16 characters");

  const db: Database = options.databaseUrl
    ? await openDatabase({ kind: "postgres", url: options.databaseUrl })
    : await openDatabase({ kind: "pglite", ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
  const apps: FastifyInstance[] = [];
  let crypto: ReceiptCryptoRunner | undefined;
  try {
    await migrate(db, MIGRATIONS_DIR, { log: (msg) => logger.info(msg) });
    const resealed = await resealStale(db, sealer).catch((error: unknown) => {
      throw error instanceof SealError
        ? new Error("cannot open the stored secrets: is this the master key the database was made with?", {
            cause: error,
          })
        : error;
    });
    if (resealed > 0) logger.info({ resealed }, "sealed values sealed again in the current format and key");
    const identity = await loadOrCreateIdentity(db, sealer);
    const stats: Stats = { resubmissions: 0, faultErrors: 0, faultLostReplies: 0, faultUnavailable: 0 };
    const trustedAgencyCas = [
      identity.ca.certificate,
      ...(options.agencyCaPems ?? []).flatMap((pem) => Certificate.allFromPem(pem)),
    ];
    crypto = workerCrypto(
      { key: identity.key, certificate: identity.certificate, trustedAgencyCas },
      options.cryptoWorkers ?? 2,
    );
    const ctx: SimContext = {
      db,
      sealer,
      identity,
      trustedAgencyCas,
      autoApprove: options.autoApprove ?? true,
      firstNumber: BigInt(options.firstNumber ?? 1),
      stats,
      crypto,
    };
    if (options.seed) await applySeed(ctx, options.seed);

    const readiness = () => [
      { name: "database", check: async () => (await db.query("SELECT 1")).length === 1 },
    ];
    const faults = new FaultSwitch();
    const agencyApp = createHttpApp({ logger, readiness, bodyLimit: 64 * 1024 * 1024 });
    apps.push(agencyApp);
    installFaults(agencyApp, faults, stats);
    agencyRoutes(agencyApp, ctx);
    await agencyApp.listen({ host, port: options.port ?? 0 });
    const port = portOf(agencyApp);

    const adminApp = createHttpApp({ logger, readiness });
    apps.push(adminApp);
    adminRoutes(adminApp, ctx, faults, adminToken);
    await adminApp.listen({ host, port: options.adminPort ?? 0 });

    const listener = agencyListener(agencyApp, host, port);
    faults.onDownChange((down) => (down === "refused" ? listener.close() : listener.open()));
    if (options.faults) await faults.set(faultsSchema.parse(options.faults));

    const url = `http://${host}:${port}`;
    const adminUrl = `http://${host}:${portOf(adminApp)}`;
    const admin = createAdminClient({ adminUrl, token: adminToken });
    let closing: Promise<void> | undefined;
    return {
      url,
      adminUrl,
      adminToken,
      financeCertificate: identity.certificate,
      financeCertificatePem: identity.certificate.toPem(),
      ca: identity.ca,
      admin,
      agency: (agencyCode, secret) => createAgencyClient({ url, agencyCode, secret }),
      setFaults: (next) => faults.set(faultsSchema.parse(next)),
      clearFaults: () => faults.set(faultsSchema.parse({})),
      close() {
        closing ??= (async () => {
          await listener.open();
          await Promise.all(apps.map((app) => app.close()));
          await crypto?.close();
          await db.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await Promise.all(apps.map((app) => app.close().catch(() => {})));
    await crypto?.close().catch(() => {});
    await db.close().catch(() => {});
    throw error;
  }
}

function portOf(app: FastifyInstance): number {
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("listener has no port");
  return address.port;
}

/** Closing and reopening the agency port (the "refused" fault) without stopping the process. */
function agencyListener(app: FastifyInstance, host: string, port: number) {
  let closed = false;
  return {
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        app.server.close(() => resolve());
        app.server.closeAllConnections();
      });
    },
    async open(): Promise<void> {
      if (!closed) return;
      await new Promise<void>((resolve, reject) => {
        app.server.once("error", reject);
        app.server.listen(port, host, () => {
          app.server.off("error", reject);
          resolve();
        });
      });
      closed = false;
    },
  };
}

async function applySeed(ctx: SimContext, seed: Seed): Promise<void> {
  for (const { agencyCode, baseData, certificatePems, ...agency } of seed.agencies) {
    await upsertAgency(ctx, agencyCode, { ...agency });
    if (baseData) {
      await upsertBaseData(ctx, agencyCode, {
        billKinds: (baseData.billKinds ?? []).map((k) => ({ ...k, enabled: k.enabled ?? true })),
        incomeItems: (baseData.incomeItems ?? []).map((i) => ({ ...i, enabled: i.enabled ?? true })),
        regions: (baseData.regions ?? []).map((r) => ({ ...r, enabled: r.enabled ?? true })),
      });
    }
    for (const certificatePem of certificatePems ?? [])
      await bindCertificate(ctx, agencyCode, { certificatePem });
  }
}
