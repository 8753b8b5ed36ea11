import { parseConfig, platformConfig, sharedConfig } from "@piaoju/runtime";
import { z } from "zod";
import { gatewayModes } from "./options.ts";

/** The signing gateway's configuration, from PIAOJU_SIGNING_* variables (README has the table). */

const ms = z.coerce.number().int().positive();
const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", ""], { error: "true or false" })
    .optional()
    .transform((v) => (v === undefined || v === "" ? fallback : v === "true" || v === "1"));

export const serviceConfigSchema = z.object({
  PIAOJU_SIGNING_DEVICES: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? "")
        .split(",")
        .map((a) => a.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, "each device is host:port")))
    .meta({
      description:
        "Signing device addresses host:port, comma-separated, primary first; required in a cluster. Unset in embedded mode: local software devices.",
      example: "signing-device-a:50051,signing-device-b:50051",
    }),
  PIAOJU_SIGNING_GATEWAY_MODE: z
    .enum(gatewayModes)
    .default("active-standby")
    .meta({ description: "active-standby (the first device while it is healthy) or load-balancing." }),
  PIAOJU_SIGNING_GATEWAY_LISTEN: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, "host:port, e.g. 0.0.0.0:50061")
    .optional()
    .meta({
      description:
        "Where the gateway serves piaoju.signing.v1 to other services. Unset: 0.0.0.0:50061 in a cluster; embedded, a free loopback port.",
    }),
  PIAOJU_SIGNING_GATEWAY_DEADLINE_MS: ms
    .default(5_000)
    .meta({ description: "Deadline of a call that brings none of its own, retries included." }),
  PIAOJU_SIGNING_GATEWAY_ATTEMPT_MS: ms
    .default(2_000)
    .meta({ description: "Time for one attempt on one device." }),
  PIAOJU_SIGNING_GATEWAY_HEALTH_INTERVAL_MS: ms.default(1_000).meta({
    description:
      "Health poll period per device. A failing call counts against the device's breaker at once; the poll finds a device that came back.",
  }),
  PIAOJU_SIGNING_GATEWAY_BREAKER_FAILURES: ms
    .default(3)
    .meta({ description: "Consecutive device faults that open the device's circuit breaker." }),
  PIAOJU_SIGNING_GATEWAY_BREAKER_OPEN_MS: ms
    .default(1_000)
    .meta({ description: "How long a breaker stays open before the half-open probe." }),
  PIAOJU_SIGNING_GATEWAY_BATCH: flag(true).meta({
    description: "Coalesce small Sign calls into SignBatch under load.",
  }),
  PIAOJU_SIGNING_GATEWAY_BATCH_THRESHOLD: ms
    .default(8)
    .meta({ description: "Sign calls in the gateway from which new ones are batched." }),
  PIAOJU_SIGNING_GATEWAY_BATCH_WINDOW_MS: z.coerce
    .number()
    .min(0)
    .max(100)
    .default(2)
    .meta({ description: "How long the first waiting Sign waits for company." }),
  PIAOJU_SIGNING_GATEWAY_BATCH_MAX_ITEMS: ms
    .max(1000)
    .default(64)
    .meta({ description: "Items per SignBatch (at most the devices' max_batch_items)." }),
  PIAOJU_SIGNING_KEY_ID_PATTERN: z.string().includes("{agencyCode}").default("agency-{agencyCode}").meta({
    description:
      "Key id of an agency that PIAOJU_SIGNING_AGENCY_KEYS does not name; {agencyCode} is replaced.",
  }),
  PIAOJU_SIGNING_AGENCY_KEYS: z.string().optional().meta({
    description: "Explicit agency → key id pairs, comma-separated.",
    example: "110101=agency-110101-2026,110102=other",
  }),
  PIAOJU_SIGNING_LOCAL_DEVICES: ms.max(8).default(2).meta({
    description: "Local software devices the gateway starts when PIAOJU_SIGNING_DEVICES is unset (embedded).",
  }),
  PIAOJU_SIGNING_LOCAL_DEVICE_WORKERS: ms
    .max(64)
    .default(1)
    .meta({ description: "Worker threads per local device." }),
  PIAOJU_SIGNING_KEYSTORE_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{32}$/, "32 hex characters (a 16-byte SM4 key)")
    .optional()
    .meta({
      description:
        "SM4 key (32 hex) sealing the local devices' keystore; the embedded runner keeps it in .data/secrets.",
      secret: true,
    }),
  PIAOJU_SIGNING_GATEWAY_TLS_DIR: z
    .string()
    .optional()
    .transform((v) => v || undefined)
    .meta({
      description:
        "The gateway's mutual-TLS identity (ca.crt, tls.crt, tls.key; a mounted Kubernetes TLS secret). Embedded and unset: made in the data folder's secrets on first start. Required in a cluster unless PIAOJU_SIGNING_GATEWAY_PLAINTEXT.",
    }),
  PIAOJU_SIGNING_GATEWAY_PLAINTEXT: flag(false).meta({
    description: "Development only: serve and call the devices without TLS or authentication.",
  }),
  PIAOJU_SIGNING_DEV_PROVISION: flag(false).meta({
    description: "Make a development key for an agency that has none (embedded only; refused on Kafka).",
  }),
  PIAOJU_DATA_DIR: platformConfig.shape.PIAOJU_DATA_DIR,
});

export type ServiceConfig = z.output<typeof serviceConfigSchema>;

/**
 * What the gateway needs besides, as a service of the platform (not standalone, which has no bus):
 * the key its events' personal fields are sealed with, for it reads each receipt's document from
 * issuance.ReceiptRequested (ADR: sealed events).
 */
export const platformServiceConfigSchema = serviceConfigSchema.extend({
  PIAOJU_SECRETS_KEY: sharedConfig.PIAOJU_SECRETS_KEY,
});

export function loadServiceConfig(env: Readonly<Record<string, string | undefined>>): ServiceConfig {
  return parseConfig(serviceConfigSchema, env);
}
