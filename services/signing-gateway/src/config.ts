import { parseConfig } from "@piaoju/runtime";
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
  /** Device addresses, comma-separated, primary first. Unset in embedded mode: local devices. */
  PIAOJU_SIGNING_DEVICES: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? "")
        .split(",")
        .map((a) => a.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, "each device is host:port"))),
  PIAOJU_SIGNING_GATEWAY_MODE: z.enum(gatewayModes).default("active-standby"),
  /**
   * Where the gateway serves piaoju.signing.v1 to other services. Unset: 0.0.0.0:50061 in a
   * cluster; embedded, a free loopback port (several embedded platforms may share a machine).
   */
  PIAOJU_SIGNING_GATEWAY_LISTEN: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, "host:port, e.g. 0.0.0.0:50061")
    .optional(),
  PIAOJU_SIGNING_GATEWAY_DEADLINE_MS: ms.default(5_000),
  PIAOJU_SIGNING_GATEWAY_ATTEMPT_MS: ms.default(2_000),
  PIAOJU_SIGNING_GATEWAY_HEALTH_INTERVAL_MS: ms.default(200),
  PIAOJU_SIGNING_GATEWAY_BREAKER_FAILURES: ms.default(3),
  PIAOJU_SIGNING_GATEWAY_BREAKER_OPEN_MS: ms.default(1_000),
  PIAOJU_SIGNING_GATEWAY_BATCH: flag(true),
  PIAOJU_SIGNING_GATEWAY_BATCH_THRESHOLD: ms.default(8),
  PIAOJU_SIGNING_GATEWAY_BATCH_WINDOW_MS: z.coerce.number().min(0).max(100).default(2),
  PIAOJU_SIGNING_GATEWAY_BATCH_MAX_ITEMS: ms.max(1000).default(64),
  /** Key id of an agency when the mapping has none; `{agencyCode}` is replaced. */
  PIAOJU_SIGNING_KEY_ID_PATTERN: z.string().includes("{agencyCode}").default("agency-{agencyCode}"),
  /** Explicit agency → key id pairs: `110101=agency-110101-2026,110102=other`. */
  PIAOJU_SIGNING_AGENCY_KEYS: z.string().optional(),
  /** Local software devices (embedded, or when PIAOJU_SIGNING_DEVICES is unset): how many, workers each. */
  PIAOJU_SIGNING_LOCAL_DEVICES: ms.max(8).default(2),
  PIAOJU_SIGNING_LOCAL_DEVICE_WORKERS: ms.max(64).default(1),
  /** The local devices' keystore key (32 hex); the embedded runner keeps it in .data/secrets. */
  PIAOJU_SIGNING_KEYSTORE_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{32}$/, "32 hex characters (a 16-byte SM4 key)")
    .optional(),
  /**
   * The gateway's mutual-TLS identity (ca.crt, tls.crt, tls.key; a mounted Kubernetes TLS secret):
   * it serves callers with certificates from that CA under the signing policy, and presents it to
   * the devices, whose certificates must name `signing-device`. Embedded and unset: made in the
   * data folder's secrets on first start. In a cluster required unless PIAOJU_SIGNING_GATEWAY_PLAINTEXT.
   */
  PIAOJU_SIGNING_GATEWAY_TLS_DIR: z
    .string()
    .optional()
    .transform((v) => v || undefined),
  /** Development only: serve and call the devices without TLS or authentication. */
  PIAOJU_SIGNING_GATEWAY_PLAINTEXT: flag(false),
  /** Make a development key for an agency that has none (embedded/dev only; refused on Kafka). */
  PIAOJU_SIGNING_DEV_PROVISION: flag(false),
  PIAOJU_DATA_DIR: z.string().default(".data"),
});

export type ServiceConfig = z.output<typeof serviceConfigSchema>;

export function loadServiceConfig(env: Readonly<Record<string, string | undefined>>): ServiceConfig {
  return parseConfig(serviceConfigSchema, env);
}
