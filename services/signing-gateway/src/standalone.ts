import { ConfigError, createLogger, startTelemetry } from "@piaoju/runtime";
import { loadServiceConfig } from "./config.ts";
import { startSigningGateway } from "./gateway.ts";
import { gatewayOptions, gatewaySecurity } from "./main.ts";

/**
 * The gateway alone, without the bus or a database: `tsx services/signing-gateway/src/standalone.ts`
 * with PIAOJU_SIGNING_DEVICES (and the other PIAOJU_SIGNING_GATEWAY_* variables). For a machine
 * that only fronts the devices for other callers, and for load tests. Prints
 * `SIGNING_GATEWAY_LISTENING port=<n>` on stdout; logs go to stderr.
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadServiceConfig>;
  try {
    config = loadServiceConfig(process.env);
    if (config.PIAOJU_SIGNING_DEVICES.length === 0) {
      throw new ConfigError(["PIAOJU_SIGNING_DEVICES: required (host:port,…)"]);
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`signing-gateway: ${error.message}\n`);
    process.exit(2);
  }
  const otlpEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const telemetry = startTelemetry({
    serviceName: "signing-gateway",
    ...(otlpEndpoint ? { otlpEndpoint } : {}),
  });
  const logger = createLogger({
    name: "signing-gateway",
    level: process.env.LOG_LEVEL ?? "info",
    destination: process.stderr,
  });
  let security: Awaited<ReturnType<typeof gatewaySecurity>>;
  try {
    security = await gatewaySecurity(config, false);
  } catch (error) {
    process.stderr.write(`signing-gateway: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const gateway = await startSigningGateway(
    gatewayOptions(config, config.PIAOJU_SIGNING_DEVICES, false, security),
    logger,
  );
  process.stdout.write(`SIGNING_GATEWAY_LISTENING port=${gateway.port}\n`);
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      gateway
        .close()
        .then(() => telemetry.shutdown())
        .then(
          () => process.exit(0),
          () => process.exit(1),
        );
    });
  }
}

await main();
