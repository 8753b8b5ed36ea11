import type { ServiceTls } from "@piaoju/service-identity";
import { z } from "zod";

/**
 * What the gateway needs to run, validated with zod: where the devices are, how traffic is
 * spread over them, and the time limits. `startSigningGateway` takes this shape (defaults
 * filled in); `config.ts` builds it from PIAOJU_SIGNING_GATEWAY_* variables.
 */

const address = z.string().regex(/^[^\s:]+:\d{1,5}$/, "host:port, e.g. 127.0.0.1:50051");
const ms = z.coerce.number().int().positive();

export const gatewayModes = ["active-standby", "load-balancing"] as const;
export type GatewayMode = (typeof gatewayModes)[number];

export const gatewayOptionsSchema = z.object({
  /** Device addresses in order of preference: the first is the primary in active-standby. */
  devices: z.array(address).min(1, "at least one signing device address"),
  mode: z.enum(gatewayModes).default("active-standby"),
  /** Where the gateway serves piaoju.signing.v1; port 0 takes a free one. */
  listen: address.default("127.0.0.1:0"),
  deadlines: z
    .object({
      /** A call without a deadline of its own gets this one (whole call, retry included). */
      defaultMs: ms.default(5_000),
      /** One attempt on one device; shorter than defaultMs so a hung device leaves time to retry. */
      attemptMs: ms.default(2_000),
      /** A SignStream without a deadline of its own. */
      streamMs: ms.default(120_000),
      /** One Health poll. */
      healthMs: ms.default(500),
    })
    .prefault({}),
  health: z
    .object({
      /** How often each device's Health RPC is polled. */
      intervalMs: ms.default(1_000),
      /** Consecutive failed polls before a device counts as down. */
      unhealthyAfter: ms.default(2),
      /** Consecutive good polls before a device that was down takes traffic again. */
      healthyAfter: ms.default(2),
    })
    .prefault({}),
  breaker: z
    .object({
      /** Consecutive device faults (UNAVAILABLE, DEADLINE_EXCEEDED, transport) that open it. */
      failureThreshold: ms.default(3),
      /** How long it stays open before one probe call is let through. */
      openMs: ms.default(1_000),
    })
    .prefault({}),
  batch: z
    .object({
      enabled: z.boolean().default(true),
      /** Sign calls in the gateway at once from which new small ones are coalesced into SignBatch. */
      threshold: ms.default(8),
      /** How long the first waiting Sign waits for company. */
      windowMs: z.coerce.number().min(0).max(100).default(2),
      /** Most items per SignBatch (kept under every device's max_batch_items). */
      maxItems: ms.max(1000).default(64),
      /** Only Sign calls with at most this much data are batched. */
      maxItemBytes: ms.default(64 * 1024),
    })
    .prefault({}),
});

/**
 * How the gateway authenticates: with `tls` (its own certificate from the platform's service CA)
 * it serves callers by mutual TLS under the signing policy and calls the devices the same way;
 * `plaintext: true` instead (development only) neither encrypts nor authenticates anything.
 */
export interface GatewaySecurity {
  tls?: ServiceTls | undefined;
  plaintext?: boolean | undefined;
  /** Which key ids are agencies' (the policy lets only some callers use them). Default: none. */
  isAgencyKey?: ((keyId: string) => boolean) | undefined;
}

export type GatewayOptionsInput = z.input<typeof gatewayOptionsSchema> & GatewaySecurity;
export type GatewayOptions = z.output<typeof gatewayOptionsSchema>;
