import type { IncomingMessage, ServerResponse } from "node:http";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";

export interface Telemetry {
  /** Serves metrics in the Prometheus text format. */
  metricsHandler(req: IncomingMessage, res: ServerResponse): void;
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry once per process: traces (to OTLP when an endpoint is
 * configured, to `spanExporter` in tests) and metrics read by Prometheus from the
 * platform's own HTTP port. Trace context crosses HTTP, the bus and gRPC through W3C
 * headers, propagated by the platform's own hooks (see http.ts, @piaoju/bus).
 */
export function startTelemetry(options: {
  serviceName: string;
  version?: string;
  otlpEndpoint?: string;
  spanExporter?: SpanExporter;
}): Telemetry {
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  // With no processor at all the SDK installs no tracer provider, and every trace id is zero:
  // the no-op one keeps real ids in logs and problem details when nothing exports.
  const spanProcessors: SpanProcessor[] = [keepIds];
  if (options.otlpEndpoint) {
    spanProcessors.push(
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.otlpEndpoint}/v1/traces` })),
    );
  }
  if (options.spanExporter) spanProcessors.push(new SimpleSpanProcessor(options.spanExporter));
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.version ?? "0.1.0",
    }),
    metricReaders: [prometheus],
    // No host, process or OS detectors: /metrics (target_info) would show the host name, the pid and
    // the command line to whoever reaches it (issue 9, class 10). Service name and version suffice.
    autoDetectResources: false,
    resourceDetectors: [],
    spanProcessors,
    // The platform propagates context itself; no monkey-patching of modules.
    instrumentations: [],
  });
  sdk.start();
  return {
    metricsHandler: (req, res) => prometheus.getMetricsRequestHandler(req, res),
    shutdown: () => sdk.shutdown(),
  };
}

const keepIds: SpanProcessor = {
  onStart: () => {},
  onEnd: () => {},
  forceFlush: async () => {},
  shutdown: async () => {},
};
