import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { type Bus, KafkaBus } from "@piaoju/bus";
import { createTestDatabase, quoteIdent, withAdmin } from "@piaoju/persistence/testing";
import { type Platform, type ServiceModule, startPlatform } from "./platform.ts";

export const TEST_TOKEN = "t".repeat(40);

export interface TestResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & {
    issues?: Array<{ field: string; rule: string; message: string }>;
    code?: string;
  };
}

export interface TestPlatform {
  platform: Platform;
  /** A bus client of its own (cluster: a separate Kafka client), to publish and watch as other services would. */
  probe: Bus;
  /** The environment the platform was started with (database server and prefix, Kafka namespace…). */
  env: Readonly<Record<string, string>>;
  /** Calls the platform's HTTP API with the internal token and the default caller headers (or these). */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<TestResponse>;
  stop(): Promise<void>;
}

/**
 * Services through the whole frame for a test: cluster mode on a fresh PostgreSQL server
 * database (each service's database gets a unique prefix) and the real Kafka broker, or
 * embedded on PGlite and the embedded bus in a temporary folder. Everything is removed on stop.
 */
export async function startTestPlatform(options: {
  mode: "cluster" | "embedded";
  services: readonly ServiceModule[];
  kafkaBrokers: string;
  caller?: Record<string, string>;
  env?: Record<string, string>;
  spanExporter?: SpanExporter;
}): Promise<TestPlatform> {
  const dataDir = await mkdtemp(join(tmpdir(), "piaoju-test-"));
  const env: Record<string, string> = {
    PIAOJU_INTERNAL_TOKEN: TEST_TOKEN,
    PIAOJU_HTTP_PORT: "0",
    PIAOJU_DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    ...options.env,
  };
  let dropDatabases = async () => {};
  if (options.mode === "cluster") {
    const server = await createTestDatabase({ prefix: "platform_server" });
    const prefix = `t${randomUUID().replaceAll("-", "").slice(0, 10)}_`;
    Object.assign(env, {
      PIAOJU_DATABASE_URL: server.url,
      PIAOJU_DATABASE_PREFIX: prefix,
      KAFKA_BROKERS: options.kafkaBrokers,
      // Test files share the broker: each test platform gets topics and groups of its own.
      PIAOJU_KAFKA_NAMESPACE: prefix.slice(0, -1),
    });
    dropDatabases = async () => {
      for (const s of options.services) {
        const name = quoteIdent(`${prefix}${s.name.replaceAll("-", "_")}`);
        await withAdmin(server.url, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      }
      await server.drop();
    };
  }
  const platform = await startPlatform({
    mode: options.mode,
    services: options.services,
    env,
    ...(options.spanExporter ? { spanExporter: options.spanExporter } : { telemetry: false }),
  });
  const probe =
    options.mode === "cluster"
      ? new KafkaBus({
          brokers: options.kafkaBrokers.split(","),
          clientId: "test-probe",
          namespace: env.PIAOJU_KAFKA_NAMESPACE,
          log: () => () => {},
        })
      : platform.bus;
  const caller = options.caller ?? { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": "*" };
  return {
    platform,
    probe,
    env,
    async call(method, path, body, headers = caller) {
      const res = await fetch(`${platform.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${env.PIAOJU_INTERNAL_TOKEN}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as TestResponse["body"] };
    },
    async stop() {
      if (probe !== platform.bus) await probe.close();
      await platform.stop();
      await dropDatabases();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
