import { trace } from "@opentelemetry/api";
import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger } from "pino";

/** Never written to logs, wherever they appear in a logged object. */
const redact = [
  "password",
  "*.password",
  "secret",
  "*.secret",
  "*.appSecret",
  "*.privateKey",
  "*.token",
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
];

/** pino, with the active trace and span id on every line so logs join traces. */
export function createLogger(options: {
  name: string;
  level?: string;
  destination?: pino.DestinationStream;
}): Logger {
  const config: LoggerOptions = {
    name: options.name,
    level: options.level ?? "info",
    redact: { paths: redact, censor: "[redacted]" },
    mixin() {
      const span = trace.getActiveSpan()?.spanContext();
      return span ? { traceId: span.traceId, spanId: span.spanId } : {};
    },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
