import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { ASSERTION_HEADER, type AssertedIdentity, AssertionSigner } from "@piaoju/access";
import { allPowerful, TEST_ASSERTION_KEYS, testSigner } from "@piaoju/access/testing";
import { type Bus, KafkaBus } from "@piaoju/bus";
import { createTestDatabase, quoteIdent, withAdmin } from "@piaoju/persistence/testing";
import { type Platform, type ServiceModule, startPlatform } from "./platform.ts";

export const TEST_TOKEN = "t".repeat(40);
/** The sealing key a test platform uses unless the test names its own (PIAOJU_SECRETS_KEY). */
export const TEST_SECRETS_KEY = "5e".repeat(16);
export { TEST_ASSERTION_KEYS };
/** The environment a process a test spawns needs to verify (and, as the gateway, sign) the test's assertions. */
export const TEST_ASSERTION_ENV = {
  PIAOJU_ASSERTION_PUBLIC_KEY: TEST_ASSERTION_KEYS.publicKey,
  PIAOJU_ASSERTION_KEY: TEST_ASSERTION_KEYS.privateKey,
};

/**
 * Who a test call is made as: an identity the gateway would assert (signed here with the test
 * key), or the short form `{ "x-piaoju-actor": name, "x-piaoju-agencies": code | "*" }`, which
 * becomes an identity with every permission over that agency (tests of a service's mechanics).
 * Other headers pass through as they are.
 */
export type TestCaller = Record<string, string> | AssertedIdentity;

const signer = testSigner();

/** A platform started as `piaoju start` makes its own assertion key: tests sign with it from the data folder. */
export async function signerOf(dataDir: string): Promise<AssertionSigner> {
  return new AssertionSigner((await readFile(join(dataDir, "secrets", "assertion-key"), "utf8")).trim());
}

/** The headers of a call as `who`, through the gateway: the platform's token and a signed assertion. */
export function callerHeaders(
  who: TestCaller,
  method: string,
  url: string,
  by: AssertionSigner = signer,
): Record<string, string> {
  const target = new URL(url, "http://platform.invalid");
  const htu = `${target.pathname}${target.search}`;
  if ("grants" in who) {
    return { [ASSERTION_HEADER]: by.sign(who as AssertedIdentity, { method, url: htu }) };
  }
  const { "x-piaoju-actor": actor, "x-piaoju-agencies": agencies, ...rest } = who as Record<string, string>;
  if (actor === undefined) return rest;
  const identity = allPowerful(
    actor,
    agencies === undefined || agencies === "*" ? "*" : agencies.split(",")[0]!.trim(),
  );
  return { ...rest, [ASSERTION_HEADER]: by.sign(identity, { method, url: htu }) };
}

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
  call(method: string, path: string, body?: unknown, headers?: TestCaller): Promise<TestResponse>;
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
  caller?: TestCaller;
  env?: Record<string, string>;
  spanExporter?: SpanExporter;
}): Promise<TestPlatform> {
  const dataDir = await mkdtemp(join(tmpdir(), "piaoju-test-"));
  const env: Record<string, string> = {
    PIAOJU_INTERNAL_TOKEN: TEST_TOKEN,
    PIAOJU_ASSERTION_PUBLIC_KEY: TEST_ASSERTION_KEYS.publicKey,
    PIAOJU_ASSERTION_KEY: TEST_ASSERTION_KEYS.privateKey,
    PIAOJU_HTTP_PORT: "0",
    PIAOJU_DATA_DIR: dataDir,
    PIAOJU_SECRETS_KEY: TEST_SECRETS_KEY,
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
  const caller: TestCaller = options.caller ?? { "x-piaoju-actor": "zhang.san", "x-piaoju-agencies": "*" };
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
          ...callerHeaders(headers, method, path),
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
