export * from "./caller.ts";
export * from "./config.ts";
export * from "./errors.ts";
export * from "./grpc.ts";
export * from "./http.ts";
export * from "./logger.ts";
export * from "./platform.ts";
export * from "./telemetry.ts";
