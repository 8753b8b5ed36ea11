import { isIP } from "node:net";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { AssertionVerifier } from "@piaoju/access";
import {
  type Bus,
  EmbeddedBus,
  installEventSealing,
  KafkaBus,
  OutboxRelay,
  platformMigrationsDir,
} from "@piaoju/bus";
import {
  type Database,
  ensureDatabase,
  migrate,
  openDatabase,
  PgliteWorkerPool,
  pgliteVersion,
} from "@piaoju/persistence";
import { Keyring } from "@piaoju/sealing";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { installAssertionVerifier } from "./caller.ts";
import { parseConfig, sharedConfig } from "./config.ts";
import { registerDeadLetterRoutes } from "./dead-letters.ts";
import { createHttpApp, type HealthCheck } from "./http.ts";
import { createLogger, type Logger } from "./logger.ts";
import { startTelemetry, type Telemetry } from "./telemetry.ts";

/** What the frame gives a service: its own database, the bus, a logger, the HTTP server. */
export interface ServiceContext {
  readonly name: string;
  /** The raw environment, for the service to parse its own config from, once, with zod. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly bus: Bus;
  /** The service's own database, migrated; no other service reads it. */
  readonly db: Database;
  /** Tells the outbox relay that a transaction just committed events. */
  readonly outbox: { wake(): void };
  readonly http: FastifyInstance;
}

export interface RunningService {
  readonly checks?: readonly HealthCheck[];
  /** Stop consumers (they commit what they processed); the frame then flushes the outbox. */
  stop(): Promise<void>;
}

/** A service is a module with a composition root: started alone or beside the others. */
export interface ServiceModule {
  readonly name: string;
  /** The service's own migrations (Prisma's folder layout). */
  readonly migrationsDir: string;
  /** The service's own configuration (environment variables), for the catalog (docs/CONFIG.md). */
  readonly config?: z.ZodObject;
  start(context: ServiceContext): Promise<RunningService>;
}

/** What the platform frame reads, whichever services it runs (the catalog's first section). */
export const platformConfig = z.object({
  PIAOJU_HTTP_HOST: z.string().default("127.0.0.1").meta({
    description: "Address the HTTP server listens on (0.0.0.0 in a container).",
  }),
  PIAOJU_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080).meta({
    description: "HTTP port: the business API, the internal API, H5 and probes; 0 takes a free one.",
  }),
  PIAOJU_DATA_DIR: z.string().default(".data").meta({
    description: "Embedded: the data folder (PGlite databases, the bus's log, secrets, keystore).",
  }),
  PIAOJU_PGLITE_TEMPLATE: z
    .string()
    .default(() =>
      join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "piaoju", `pglite-${pgliteVersion}`),
    )
    .meta({
      description:
        "Embedded: where an initialised, empty PGlite cluster is kept, so that each service's new database is a copy of it rather than another initdb. A cache: deleting it costs one initdb.",
      defaultText: "$XDG_CACHE_HOME/piaoju/pglite-<version> (~/.cache when unset)",
    }),
  PIAOJU_PGLITE_WORKERS: z.coerce.number().int().min(0).max(16).default(0).meta({
    description:
      "Embedded: worker threads that run the services' PGlite databases (shared among them), so that the databases use another core than HTTP and crypto; 0 (the default) runs them on the main thread. On 2 cores they free the main thread but add a thread hand-off to every statement, and a receipt is not faster (ADR: PGlite in worker threads).",
  }),
  PIAOJU_INTERNAL_TOKEN: sharedConfig.PIAOJU_INTERNAL_TOKEN,
  PIAOJU_METRICS_TOKEN: z.string().min(32, "at least 32 characters").optional().meta({
    description:
      "When set, /metrics answers only a bearer of this token (a Prometheus with credentials). Unset: anyone reaching the port, and the metrics carry no host name, pid or command line.",
    secret: true,
  }),
  PIAOJU_TRUSTED_PROXIES: z
    .string()
    .refine(
      (v) =>
        v.split(",").every((entry) => {
          const [address, prefix, ...rest] = entry.trim().split("/");
          const family = isIP(address ?? "");
          if (family === 0 || rest.length > 0) return false;
          if (prefix === undefined) return true;
          const bits = Number(prefix);
          return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
        }),
      "addresses or CIDRs, comma-separated (e.g. 10.0.0.0/8,127.0.0.1)",
    )
    .optional()
    .meta({
      description:
        "The reverse proxies (an Ingress controller, a load balancer) whose X-Forwarded-For names the client, as addresses or CIDRs, comma-separated. Lookup limits and the payer's address use the client it names. Unset: the header is ignored and the client is the connection's peer (behind a proxy, every client would share the proxy's budget).",
    }),
  PIAOJU_ASSERTION_PUBLIC_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/=]{40,200}$/, "an Ed25519 public key: SPKI DER in base64")
    .meta({
      description:
        "The gateway's identity-assertion public key (Ed25519, SPKI DER in base64): every service verifies with it who the person or business system behind a call is (ADR 0012). Embedded: made once in .data/secrets.",
    }),
  PIAOJU_DATABASE_URL: z.url().optional().meta({
    description:
      "Cluster: PostgreSQL server URL; each service gets database named PIAOJU_DATABASE_PREFIX + the service name on it. Unset: embedded PGlite.",
    example: "postgresql://piaoju:secret@127.0.0.1:5432/postgres",
  }),
  PIAOJU_DATABASE_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, "lower-case letters, digits and _")
    .default("piaoju_")
    .meta({ description: "Cluster: prefix of each service's database name." }),
  PIAOJU_DATABASE_CREATE: z.enum(["true", "false"]).default("true").meta({
    description:
      'Cluster: CREATE DATABASE a missing service database ("true", for development servers) or refuse to start without it ("false": production, where each service\'s role owns its database and has no CREATEDB; k8s/ sets it).',
  }),
  KAFKA_BROKERS: z.string().optional().meta({
    description: "Cluster: Kafka bootstrap brokers, comma-separated host:port. Unset: the embedded bus.",
    example: "127.0.0.1:9092",
  }),
  PIAOJU_KAFKA_NAMESPACE: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,40}$/, "1-40 letters, digits, _ or -")
    .optional()
    .meta({
      description: "Prefix of this installation's topics and consumer groups on a shared Kafka cluster.",
    }),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional().meta({
    description: "OpenTelemetry collector (OTLP/HTTP) for traces; unset, no export.",
  }),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info")
    .meta({ description: "pino log level of every service in the process." }),
});

/** The platform reads the sealing key when it is set; the services that need it require it. */
const eventSealingConfig = z.object({ PIAOJU_SECRETS_KEY: sharedConfig.PIAOJU_SECRETS_KEY.optional() });

export interface PlatformOptions {
  mode: "embedded" | "cluster";
  services: readonly ServiceModule[];
  env: Readonly<Record<string, string | undefined>>;
  /** Tests collect spans here. */
  spanExporter?: SpanExporter;
  /** Telemetry is per process; an embedding test starting several platforms passes false. */
  telemetry?: boolean;
}

export interface Platform {
  readonly url: string;
  readonly logger: Logger;
  readonly bus: Bus;
  readonly databases: ReadonlyMap<string, Database>;
  stop(): Promise<void>;
}

interface Started {
  module: ServiceModule;
  db: Database;
  relay: OutboxRelay;
  running: RunningService;
}

/**
 * Starts services from the same code in either mode. Embedded: PGlite per service under
 * the data folder and the embedded bus, all in this process. Cluster: a PostgreSQL
 * database per service and Kafka; a process usually runs one service.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const config = parseConfig(platformConfig, options.env);
  const name = options.services.length === 1 ? options.services[0]!.name : "piaoju";
  const logger = createLogger({ name, level: config.LOG_LEVEL });
  const telemetry: Telemetry | undefined =
    options.telemetry === false
      ? undefined
      : startTelemetry({
          serviceName: name,
          ...(config.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
          ...(options.spanExporter ? { spanExporter: options.spanExporter } : {}),
        });
  const dataDir = resolve(config.PIAOJU_DATA_DIR);
  // Events' personal fields are sealed at rest under PIAOJU_SECRETS_KEY (ADR: sealed events): the
  // bus seals them on the way to the outbox and opens them for the handlers, whichever service.
  // Each service that writes or reads such events requires the key in its own configuration.
  const { PIAOJU_SECRETS_KEY: secretsKey } = parseConfig(eventSealingConfig, options.env);
  const uninstallSealing = secretsKey ? installEventSealing(Keyring.parse(secretsKey)) : () => {};

  const bus = await openBus(options.mode, config, dataDir, name, logger);
  const pgliteWorkers = pgliteWorkerPool(options.mode, config);
  const started: Started[] = [];
  /** Opened but whose service has not started yet: closed by hand if start-up fails. */
  const notStarted = new Set<Database>();
  const readiness: HealthCheck[] = [{ name: "bus", check: () => bus.healthy() }];
  const http = createHttpApp({
    logger,
    ...(telemetry ? { telemetry } : {}),
    readiness: () => readiness,
    operatorToken: config.PIAOJU_INTERNAL_TOKEN,
    ...(config.PIAOJU_METRICS_TOKEN ? { metricsToken: config.PIAOJU_METRICS_TOKEN } : {}),
    ...(config.PIAOJU_TRUSTED_PROXIES ? { trustedProxies: config.PIAOJU_TRUSTED_PROXIES } : {}),
  });
  installAssertionVerifier(http, new AssertionVerifier(config.PIAOJU_ASSERTION_PUBLIC_KEY));
  registerDeadLetterRoutes(http, bus, config.PIAOJU_INTERNAL_TOKEN, logger);

  const stopAll = async () => {
    // Stop intake first, then consumers, then publish what the outbox still holds.
    await http.close().catch((error: unknown) => logger.error({ err: error }, "http close failed"));
    for (const s of [...started].reverse()) {
      await s.running
        .stop()
        .catch((error: unknown) => logger.error({ err: error, service: s.module.name }, "stop failed"));
      await s.relay.stop();
    }
    await bus.close();
    for (const s of started) await s.db.close();
    uninstallSealing();
    await telemetry?.shutdown();
  };

  try {
    // Databases open and migrate side by side (PGlite takes a second or more each); the
    // services then start in order. A database that opened is closed if another fails.
    const opened = await Promise.allSettled(
      options.services.map(async (module) => {
        const db = await openServiceDatabase(options.mode, config, dataDir, module.name, pgliteWorkers);
        try {
          await migrate(db, [platformMigrationsDir, module.migrationsDir], {
            log: (msg) => logger.info({ service: module.name }, msg),
          });
        } catch (error) {
          await db.close();
          throw error;
        }
        return db;
      }),
    );
    const failed = opened.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed) {
      for (const o of opened) if (o.status === "fulfilled") await o.value.close();
      throw failed.reason;
    }
    const databases = opened.map((o) => (o as PromiseFulfilledResult<Database>).value);
    for (const db of databases) notStarted.add(db);
    for (const [index, module] of options.services.entries()) {
      const serviceLogger = logger.child({ service: module.name });
      const db = databases[index]!;
      const relay = new OutboxRelay(db, bus, {
        log: (msg, fields) => serviceLogger.warn(fields ?? {}, msg),
      });
      relay.start();
      let running: RunningService;
      try {
        running = await module.start({
          name: module.name,
          env: options.env,
          logger: serviceLogger,
          bus,
          db,
          outbox: { wake: () => relay.wake() },
          http,
        });
      } catch (error) {
        await relay.stop().catch(() => {});
        throw error;
      }
      started.push({ module, db, relay, running });
      notStarted.delete(db);
      readiness.push({ name: `${module.name}.db`, check: () => db.query("SELECT 1").then(() => true) });
      for (const check of running.checks ?? [])
        readiness.push({ ...check, name: `${module.name}.${check.name}` });
    }
    const address = await http.listen({ host: config.PIAOJU_HTTP_HOST, port: config.PIAOJU_HTTP_PORT });
    logger.info(
      { url: address, mode: options.mode, services: options.services.map((s) => s.name) },
      "piaoju ready",
    );
    return {
      url: address,
      logger,
      bus,
      databases: new Map(started.map((s) => [s.module.name, s.db])),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => {});
    for (const db of notStarted) await db.close().catch(() => {});
    throw error;
  }
}

async function openBus(
  mode: PlatformOptions["mode"],
  config: z.infer<typeof platformConfig>,
  dataDir: string,
  clientId: string,
  logger: Logger,
): Promise<Bus> {
  if (mode === "embedded") return EmbeddedBus.open({ dataDir: join(dataDir, "bus") });
  if (!config.KAFKA_BROKERS) throw new Error("KAFKA_BROKERS is required in cluster mode");
  const kafkaLog = logger.child({ component: "kafkajs" });
  return new KafkaBus({
    brokers: config.KAFKA_BROKERS.split(","),
    clientId,
    ...(config.PIAOJU_KAFKA_NAMESPACE ? { namespace: config.PIAOJU_KAFKA_NAMESPACE } : {}),
    // kafkajs logs transient broker states (coordinator loading, rebalancing) as errors; they are retried.
    log: () => (entry) => kafkaLog.debug({ ...entry.log, namespace: entry.namespace }, entry.log.message),
  });
}

/** Embedded: the worker threads the services' databases share (PIAOJU_PGLITE_WORKERS; 0: none, the main thread). */
function pgliteWorkerPool(
  mode: PlatformOptions["mode"],
  config: Pick<z.infer<typeof platformConfig>, "PIAOJU_PGLITE_WORKERS">,
): PgliteWorkerPool | undefined {
  return mode === "embedded" && config.PIAOJU_PGLITE_WORKERS > 0
    ? new PgliteWorkerPool(config.PIAOJU_PGLITE_WORKERS)
    : undefined;
}

async function openServiceDatabase(
  mode: PlatformOptions["mode"],
  config: Omit<z.infer<typeof platformConfig>, "PIAOJU_INTERNAL_TOKEN" | "PIAOJU_ASSERTION_PUBLIC_KEY">,
  dataDir: string,
  service: string,
  workers: PgliteWorkerPool | undefined,
): Promise<Database> {
  if (mode === "embedded") {
    return openDatabase({
      kind: "pglite",
      dataDir: join(dataDir, service, "pg"),
      template: resolve(config.PIAOJU_PGLITE_TEMPLATE),
      ...(workers ? { worker: workers } : {}),
    });
  }
  if (!config.PIAOJU_DATABASE_URL) throw new Error("PIAOJU_DATABASE_URL is required in cluster mode");
  const url = await ensureDatabase(
    config.PIAOJU_DATABASE_URL,
    `${config.PIAOJU_DATABASE_PREFIX}${service.replaceAll("-", "_")}`,
    { create: config.PIAOJU_DATABASE_CREATE === "true" },
  );
  return openDatabase({ kind: "postgres", url });
}

/**
 * Applies the platform's and each service's migrations to the service's database, then closes it:
 * `piaoju migrate apply`, for an operator who migrates before rolling out (a service also migrates
 * itself at start, before it listens).
 */
export async function migrateServices(options: {
  mode: PlatformOptions["mode"];
  services: readonly ServiceModule[];
  env: Readonly<Record<string, string | undefined>>;
  log: (service: string, message: string) => void;
}): Promise<void> {
  // Migrating needs the databases only, not the token or the assertion key the services' APIs check.
  const config = parseConfig(
    platformConfig.omit({ PIAOJU_INTERNAL_TOKEN: true, PIAOJU_ASSERTION_PUBLIC_KEY: true }),
    options.env,
  );
  const dataDir = resolve(config.PIAOJU_DATA_DIR);
  const pgliteWorkers = pgliteWorkerPool(options.mode, config);
  for (const module of options.services) {
    const db = await openServiceDatabase(options.mode, config, dataDir, module.name, pgliteWorkers);
    try {
      await migrate(db, [platformMigrationsDir, module.migrationsDir], {
        log: (msg) => options.log(module.name, msg),
      });
    } finally {
      await db.close();
    }
  }
}
