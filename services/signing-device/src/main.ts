import { sm2Backend } from "@piaoju/gm-crypto";
import { ConfigError, createLogger, startTelemetry } from "@piaoju/runtime";
import { KeystoreError, loadDeviceConfig, startDevice } from "@piaoju/signing-core";

/**
 * The software signing device, standalone: `tsx services/signing-device/src/main.ts`, configured
 * by PIAOJU_SIGNING_DEVICE_* (see config.ts). Prints `SIGNING_DEVICE_LISTENING port=<n>` on stdout
 * once it serves; logs (JSON) go to stderr so that line is easy to find.
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadDeviceConfig>;
  try {
    config = loadDeviceConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`signing-device: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  // Traces continue the caller's `traceparent`; exported when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const otlpEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const telemetry = startTelemetry({
    serviceName: "signing-device",
    ...(otlpEndpoint ? { otlpEndpoint } : {}),
  });
  const logger = createLogger({
    name: "signing-device",
    level: config.logLevel,
    destination: process.stderr,
  });
  let device: Awaited<ReturnType<typeof startDevice>>;
  try {
    device = await startDevice(config, logger);
  } catch (error) {
    const message =
      error instanceof KeystoreError ? error.message : error instanceof Error ? error.message : String(error);
    logger.fatal({ err: error }, "cannot start the signing device");
    process.stderr.write(`signing-device: cannot start: ${message}\n`);
    process.exit(1);
  }
  // Which SM2 runs the workers: Piaoju's native addon, or Node's OpenSSL when it is not built.
  const sm2 = sm2Backend();
  logger.info(
    { port: device.port, workers: config.workers, listen: config.listen, sm2: sm2.name },
    `signing device serving (SM2: ${sm2.detail})`,
  );
  process.stdout.write(`SIGNING_DEVICE_LISTENING port=${device.port}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "signing device stopping");
    device
      .close()
      .then(() => telemetry.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, "unclean stop");
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

await main();
