import { availableParallelism } from "node:os";
import { ConfigError, parseConfig, platformConfig } from "@piaoju/runtime";
import { loadServiceTls, ServiceIdentityError, type ServiceTls } from "@piaoju/service-identity";
import { z } from "zod";

const positiveInt = z.coerce.number().int().positive();

/** The device's configuration, from the environment. The keystore key is never logged. */
export const deviceConfigSchema = z.object({
  PIAOJU_SIGNING_DEVICE_LISTEN: z
    .string()
    .regex(/^[^\s]+:\d{1,5}$/, "host:port, e.g. 127.0.0.1:50051")
    .default("127.0.0.1:50051")
    .meta({
      description:
        "host:port the device listens on; port 0 takes a free one (printed as SIGNING_DEVICE_LISTENING port=<n>).",
    }),
  PIAOJU_SIGNING_DEVICE_KEYSTORE_DIR: z.string().min(1, "the keystore directory is required").meta({
    description: "The device's keystore directory (a persistent volume).",
    example: "/var/lib/piaoju/keystore",
  }),
  PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY: z
    .string({ error: "required: the keystore's SM4 key, 32 hex characters" })
    .regex(/^[0-9a-fA-F]{32}$/, "must be 32 hex characters (a 16-byte SM4 key)")
    .meta({ description: "SM4 key (32 hex characters) sealing the keystore; never logged.", secret: true }),
  PIAOJU_SIGNING_DEVICE_WORKERS: positiveInt
    .max(256)
    .default(availableParallelism())
    .meta({ description: "Worker threads doing SM2.", defaultText: "the number of CPUs" }),
  PIAOJU_SIGNING_DEVICE_MAX_PAYLOAD_BYTES: positiveInt.default(4 * 1024 * 1024).meta({
    description:
      "Largest data/content/envelope in one Sign, Verify, SignBatch item, MakeEnvelope or OpenEnvelope.",
  }),
  PIAOJU_SIGNING_DEVICE_MAX_STREAM_BYTES: positiveInt
    .default(1024 * 1024 * 1024)
    .meta({ description: "Largest total of one SignStream." }),
  PIAOJU_SIGNING_DEVICE_MAX_BATCH_ITEMS: positiveInt
    .default(1000)
    .meta({ description: "Most items in one SignBatch." }),
  PIAOJU_SIGNING_DEVICE_CAPACITY: positiveInt
    .default(20_000)
    .meta({ description: "Most operations queued or running at once; more get RESOURCE_EXHAUSTED." }),
  PIAOJU_SIGNING_DEVICE_TLS_DIR: z
    .string()
    .optional()
    .transform((v) => v || undefined)
    .meta({
      description:
        "The device's mutual-TLS identity (ca.crt, tls.crt, tls.key; a mounted Kubernetes TLS secret): it serves only callers with a certificate from that CA, and of them only what the signing policy grants. Required unless PIAOJU_SIGNING_DEVICE_PLAINTEXT=true.",
    }),
  PIAOJU_SIGNING_DEVICE_PLAINTEXT: z
    .enum(["true", "false"])
    .default("false")
    .meta({ description: "Development only: serve without TLS, to anyone who reaches the port." }),
  LOG_LEVEL: platformConfig.shape.LOG_LEVEL,
});

export type DeviceConfigEnv = z.infer<typeof deviceConfigSchema>;

export interface DeviceConfig {
  listen: string;
  keystoreDir: string;
  keystoreKey: Buffer;
  workers: number;
  maxPayloadBytes: number;
  maxStreamBytes: number;
  maxBatchItems: number;
  capacity: number;
  logLevel: string;
  /** Mutual TLS; undefined only when plaintext was allowed explicitly. */
  tls?: ServiceTls | undefined;
}

export function loadDeviceConfig(env: Record<string, string | undefined>): DeviceConfig {
  const c = parseConfig(deviceConfigSchema, env);
  let tls: ServiceTls | undefined;
  if (c.PIAOJU_SIGNING_DEVICE_TLS_DIR) {
    try {
      tls = loadServiceTls(c.PIAOJU_SIGNING_DEVICE_TLS_DIR);
    } catch (error) {
      if (!(error instanceof ServiceIdentityError)) throw error;
      throw new ConfigError([`PIAOJU_SIGNING_DEVICE_TLS_DIR: ${error.message}`]);
    }
  } else if (c.PIAOJU_SIGNING_DEVICE_PLAINTEXT !== "true") {
    throw new ConfigError([
      "PIAOJU_SIGNING_DEVICE_TLS_DIR: required (the device's certificate from the platform's service CA); " +
        "PIAOJU_SIGNING_DEVICE_PLAINTEXT=true serves without TLS, for development only",
    ]);
  }
  return {
    tls,
    listen: c.PIAOJU_SIGNING_DEVICE_LISTEN,
    keystoreDir: c.PIAOJU_SIGNING_DEVICE_KEYSTORE_DIR,
    keystoreKey: Buffer.from(c.PIAOJU_SIGNING_DEVICE_KEYSTORE_KEY, "hex"),
    workers: c.PIAOJU_SIGNING_DEVICE_WORKERS,
    maxPayloadBytes: c.PIAOJU_SIGNING_DEVICE_MAX_PAYLOAD_BYTES,
    maxStreamBytes: c.PIAOJU_SIGNING_DEVICE_MAX_STREAM_BYTES,
    maxBatchItems: c.PIAOJU_SIGNING_DEVICE_MAX_BATCH_ITEMS,
    capacity: c.PIAOJU_SIGNING_DEVICE_CAPACITY,
    logLevel: c.LOG_LEVEL,
  };
}
