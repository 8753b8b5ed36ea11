import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Certificate } from "@piaoju/gm-crypto";
import { ConfigError, parseConfig, type ServiceModule } from "@piaoju/runtime";
import { ensureEmbeddedServiceTls, loadServiceTls, type ServiceTls } from "@piaoju/service-identity";
import { ReceiptSigner } from "./app/receipt-signer.ts";
import { TrustPublisher } from "./app/trust-publisher.ts";
import { loadServiceConfig, platformServiceConfigSchema, type ServiceConfig } from "./config.ts";
import { consumeReceiptRequests } from "./consumers/receipt-requests.ts";
import { isAgencyKey, keyIdFor, parseKeyMapping } from "./domain/receipt-signing.ts";
import { DEVICE_IDENTITY, type RunningGateway, startSigningGateway } from "./gateway.ts";
import { LocalDevices } from "./local-devices.ts";
import type { GatewayOptionsInput, GatewaySecurity } from "./options.ts";

export { type RunningGateway, startSigningGateway } from "./gateway.ts";
export type { GatewayMode, GatewayOptionsInput } from "./options.ts";

export function gatewayOptions(
  c: ServiceConfig,
  devices: string[],
  embedded: boolean,
  security: GatewaySecurity,
): GatewayOptionsInput {
  const mapping = parseKeyMapping(c.PIAOJU_SIGNING_AGENCY_KEYS);
  return {
    ...security,
    isAgencyKey: (keyId) => isAgencyKey(keyId, mapping, c.PIAOJU_SIGNING_KEY_ID_PATTERN),
    devices,
    mode: c.PIAOJU_SIGNING_GATEWAY_MODE,
    listen: c.PIAOJU_SIGNING_GATEWAY_LISTEN ?? (embedded ? "127.0.0.1:0" : "0.0.0.0:50061"),
    deadlines: {
      defaultMs: c.PIAOJU_SIGNING_GATEWAY_DEADLINE_MS,
      attemptMs: c.PIAOJU_SIGNING_GATEWAY_ATTEMPT_MS,
    },
    health: { intervalMs: c.PIAOJU_SIGNING_GATEWAY_HEALTH_INTERVAL_MS },
    breaker: {
      failureThreshold: c.PIAOJU_SIGNING_GATEWAY_BREAKER_FAILURES,
      openMs: c.PIAOJU_SIGNING_GATEWAY_BREAKER_OPEN_MS,
    },
    batch: {
      enabled: c.PIAOJU_SIGNING_GATEWAY_BATCH,
      threshold: c.PIAOJU_SIGNING_GATEWAY_BATCH_THRESHOLD,
      windowMs: c.PIAOJU_SIGNING_GATEWAY_BATCH_WINDOW_MS,
      maxItems: c.PIAOJU_SIGNING_GATEWAY_BATCH_MAX_ITEMS,
    },
  };
}

/**
 * When the agency CAs are looked for and published: at once (again every 2 s while no device
 * answers), then each minute for CAs of keys imported since, and all of them again each hour.
 */
const TRUST_SCHEDULE = { retryMs: 2_000, refreshMs: 60_000, republishMs: 3_600_000 };

/** The embedded devices' identity, when this process runs them. */
type Security = GatewaySecurity & { deviceTls?: ServiceTls | undefined };

/**
 * The gateway's TLS identity: the mounted one (PIAOJU_SIGNING_GATEWAY_TLS_DIR); embedded without
 * one, its own, made once in the data folder's secrets with the local devices' (loopback only).
 * A cluster without one refuses to start unless plaintext was asked for (development).
 */
export async function gatewaySecurity(config: ServiceConfig, embedded: boolean): Promise<Security> {
  if (config.PIAOJU_SIGNING_GATEWAY_TLS_DIR) {
    return { tls: loadServiceTls(config.PIAOJU_SIGNING_GATEWAY_TLS_DIR) };
  }
  if (config.PIAOJU_SIGNING_GATEWAY_PLAINTEXT) return { plaintext: true };
  if (!embedded) {
    throw new ConfigError([
      "PIAOJU_SIGNING_GATEWAY_TLS_DIR: required in cluster mode (the gateway's certificate from the platform's service CA); " +
        "PIAOJU_SIGNING_GATEWAY_PLAINTEXT=true runs without TLS, for development only",
    ]);
  }
  const dirs = await ensureEmbeddedServiceTls(join(resolve(config.PIAOJU_DATA_DIR), "secrets"), [
    "signing-gateway",
    DEVICE_IDENTITY,
  ]);
  return {
    tls: loadServiceTls(dirs["signing-gateway"] as string),
    deviceTls: loadServiceTls(dirs[DEVICE_IDENTITY] as string),
  };
}

/**
 * Composition root of the signing gateway (签名网关): the gRPC gateway over the configured
 * devices (or, embedded, over software devices it starts itself) and the bus consumer that
 * signs requested receipts.
 */
export const signingGatewayService: ServiceModule = {
  name: "signing-gateway",
  migrationsDir: fileURLToPath(new URL("../prisma/migrations", import.meta.url)),
  config: platformServiceConfigSchema,
  async start(ctx) {
    const config = loadServiceConfig(ctx.env);
    // Refuse to start without the events' sealing key rather than dead-letter every request.
    parseConfig(platformServiceConfigSchema.pick({ PIAOJU_SECRETS_KEY: true }), ctx.env);
    const embedded = ctx.bus.kind === "embedded";
    if (config.PIAOJU_SIGNING_DEV_PROVISION && !embedded) {
      throw new ConfigError([
        "PIAOJU_SIGNING_DEV_PROVISION: development keys are made only in embedded mode, never in a cluster",
      ]);
    }
    const security = await gatewaySecurity(config, embedded);
    let local: LocalDevices | undefined;
    let devices = config.PIAOJU_SIGNING_DEVICES;
    const keystoreDir = join(resolve(config.PIAOJU_DATA_DIR), "signing-gateway", "keystore");
    if (devices.length === 0) {
      if (!embedded)
        throw new ConfigError(["PIAOJU_SIGNING_DEVICES: required in cluster mode (host:port,…)"]);
      if (!config.PIAOJU_SIGNING_KEYSTORE_KEY) {
        throw new ConfigError(["PIAOJU_SIGNING_KEYSTORE_KEY: required for the local signing devices"]);
      }
      local = await LocalDevices.start({
        keystoreDir,
        keystoreKeyHex: config.PIAOJU_SIGNING_KEYSTORE_KEY,
        count: config.PIAOJU_SIGNING_LOCAL_DEVICES,
        workersEach: config.PIAOJU_SIGNING_LOCAL_DEVICE_WORKERS,
        tls: security.deviceTls,
        logger: ctx.logger,
      });
      devices = local.addresses;
    }
    let gateway: RunningGateway;
    try {
      gateway = await startSigningGateway(gatewayOptions(config, devices, embedded, security), ctx.logger);
    } catch (error) {
      await local?.close();
      throw error;
    }
    const mapping = parseKeyMapping(config.PIAOJU_SIGNING_AGENCY_KEYS);
    const provisioner = local;
    const devCaPem = join(keystoreDir, "dev-ca", "ca.crt.pem");
    const trust = new TrustPublisher({
      router: gateway.router,
      db: ctx.db,
      isAgencyKey: (keyId) => isAgencyKey(keyId, mapping, config.PIAOJU_SIGNING_KEY_ID_PATTERN),
      // The local devices' keystore is this service's own; a cluster's devices hold their chains.
      ownCas: () =>
        local && existsSync(devCaPem) ? Certificate.allFromPem(readFileSync(devCaPem, "utf8")) : [],
      published: ctx.outbox.wake,
      logger: ctx.logger,
      deadlineMs: config.PIAOJU_SIGNING_GATEWAY_DEADLINE_MS,
    });
    const signer = new ReceiptSigner({
      router: gateway.router,
      keyIdFor: (agency) => keyIdFor(agency, mapping, config.PIAOJU_SIGNING_KEY_ID_PATTERN),
      provision:
        config.PIAOJU_SIGNING_DEV_PROVISION && provisioner
          ? async (keyId, agency) => {
              await provisioner.provision(keyId, agency);
              trust.nudge();
            }
          : undefined,
      deadlineMs: config.PIAOJU_SIGNING_GATEWAY_DEADLINE_MS,
      logger: ctx.logger,
    });
    const intake = await consumeReceiptRequests({
      bus: ctx.bus,
      db: ctx.db,
      signer,
      clock: () => new Date(),
      published: ctx.outbox.wake,
    });
    trust.start(TRUST_SCHEDULE);
    ctx.logger.info(
      {
        grpc: gateway.address,
        devices,
        local: local !== undefined,
        mode: config.PIAOJU_SIGNING_GATEWAY_MODE,
      },
      "signing gateway started",
    );
    // No readiness check on the devices: every replica shares them, so failing readiness would
    // only swap the gateway's clear UNAVAILABLE for a connection error. Their state is in the
    // metrics (signing_gateway_device_available) and the logs.
    return {
      async stop() {
        await intake.stop();
        await trust.stop();
        await gateway.close();
        await local?.close();
      },
    };
  },
};
