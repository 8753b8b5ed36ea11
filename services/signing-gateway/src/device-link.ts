import * as grpc from "@grpc/grpc-js";
import { loadSigningProto, type SigningDeviceClient } from "@piaoju/proto/signing";
import { GrpcStatus, GrpcStatusError, injectTrace } from "@piaoju/runtime";
import { TLS_CHANNEL_OPTIONS } from "@piaoju/service-identity";
import { CircuitBreaker } from "./breaker.ts";
import type { GatewayOptions } from "./options.ts";

/**
 * One signing device as the gateway sees it: a gRPC channel, its health (polled with the
 * device's own Health RPC), its circuit breaker and the calls it has in flight.
 */

export type UnaryName =
  | "Sign"
  | "Verify"
  | "SignBatch"
  | "VerifyBatch"
  | "MakeEnvelope"
  | "OpenEnvelope"
  | "GetCertificate"
  | "CreateCertificationRequest"
  | "ListKeys"
  | "Health";

/** Codes that say the device (or the way to it) is in trouble, not the request. */
const DEVICE_FAULTS = new Set<number>([GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED]);

export function isDeviceFault(error: unknown): boolean {
  return error instanceof GrpcStatusError && DEVICE_FAULTS.has(error.code);
}

export interface LinkEvents {
  onHealthChange(link: DeviceLink, healthy: boolean, reason: string): void;
}

export interface LinkStats {
  address: string;
  healthy: boolean;
  breaker: string;
  breakerOpened: number;
  inFlight: number;
  calls: number;
  deviceFaults: number;
}

export class DeviceLink {
  readonly client: SigningDeviceClient;
  readonly breaker: CircuitBreaker;
  #healthy = false;
  #okInARow = 0;
  #failedInARow = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #polls = 0;
  inFlight = 0;
  calls = 0;
  deviceFaults = 0;

  constructor(
    readonly address: string,
    readonly index: number,
    private readonly options: GatewayOptions,
    credentials: grpc.ChannelCredentials,
    private readonly events: LinkEvents,
  ) {
    this.client = loadSigningProto().newClient(address, credentials, {
      ...TLS_CHANNEL_OPTIONS,
      // A device that comes back is found again within a second, not after grpc-js's 120 s backoff.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1_000,
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 2_000,
    });
    this.breaker = new CircuitBreaker(options.breaker);
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /** Healthy, and its breaker lets a call through. */
  get available(): boolean {
    return this.#healthy && this.breaker.wouldAllow();
  }

  /** Polls Health until closed; resolves after the first poll so the gateway starts knowing. */
  async startHealthChecks(): Promise<void> {
    await this.#poll();
    const loop = () => {
      if (this.#closed) return;
      this.#timer = setTimeout(() => {
        void this.#poll().finally(loop);
      }, this.options.health.intervalMs);
      this.#timer.unref();
    };
    loop();
  }

  async #poll(): Promise<void> {
    this.#polls += 1;
    try {
      const health = await this.#rawUnary("Health", {}, Date.now() + this.options.deadlines.healthMs);
      const status = (health as { status?: string }).status;
      if (status === "SERVING") this.#healthOk();
      else this.#healthFailed(`Health answered ${status}`);
    } catch (error) {
      this.#healthFailed(error instanceof Error ? error.message : String(error));
    }
  }

  #healthOk(): void {
    this.#failedInARow = 0;
    this.#okInARow += 1;
    // The very first poll decides at once; after that a device earns its way back.
    const needed = this.#polls === 1 ? 1 : this.options.health.healthyAfter;
    if (!this.#healthy && this.#okInARow >= needed) this.#setHealthy(true, "Health answered SERVING");
  }

  #healthFailed(reason: string): void {
    this.#okInARow = 0;
    this.#failedInARow += 1;
    if (this.#healthy && this.#failedInARow >= this.options.health.unhealthyAfter) {
      this.#setHealthy(false, reason);
    }
  }

  /** A call found the device unreachable: stop sending to it now, the health poll brings it back. */
  markDown(reason: string): void {
    this.#okInARow = 0;
    if (this.#healthy) this.#setHealthy(false, reason);
  }

  #setHealthy(healthy: boolean, reason: string): void {
    this.#healthy = healthy;
    this.events.onHealthChange(this, healthy, reason);
  }

  /**
   * One unary call on this device (the caller took the breaker's permission). The device's status
   * comes back as a GrpcStatusError with its code and message unchanged.
   */
  async unary<Res>(method: UnaryName, request: object, deadline: number): Promise<Res> {
    this.inFlight += 1;
    this.calls += 1;
    try {
      const response = await this.#rawUnary<Res>(method, request, deadline);
      this.breaker.onSuccess();
      return response;
    } catch (error) {
      this.#judge(error);
      throw error;
    } finally {
      this.inFlight -= 1;
    }
  }

  /** Books the outcome of a failed call against the device (breaker, health). */
  #judge(error: unknown): void {
    if (isDeviceFault(error)) {
      this.deviceFaults += 1;
      this.breaker.onFailure();
      if ((error as GrpcStatusError).code === GrpcStatus.UNAVAILABLE) {
        this.markDown((error as GrpcStatusError).message);
      }
    } else if (error instanceof GrpcStatusError && error.code === GrpcStatus.CANCELLED) {
      this.breaker.onNeutral();
    } else {
      // The device answered (NOT_FOUND, INVALID_ARGUMENT, …): it works.
      this.breaker.onSuccess();
    }
  }

  #rawUnary<Res>(method: UnaryName, request: object, deadline: number): Promise<Res> {
    const fn = this.client[method] as unknown as (
      request: object,
      metadata: grpc.Metadata,
      options: Partial<grpc.CallOptions>,
      callback: grpc.requestCallback<Res>,
    ) => grpc.ClientUnaryCall;
    return new Promise((resolve, reject) => {
      fn.call(this.client, request, injectTrace(new grpc.Metadata()), { deadline }, (error, response) => {
        if (error) reject(statusErrorOf(error));
        else resolve(response as Res);
      });
    });
  }

  /**
   * A client-streaming SignStream on this device: `write` sends each message (resolving when
   * the stream takes more) and returns; the stream is then ended. Not retried by anyone: the
   * payload is gone once sent.
   */
  async signStream<Req, Res>(
    write: (send: (message: Req) => Promise<void>) => Promise<void>,
    deadline: number,
  ): Promise<Res> {
    this.inFlight += 1;
    this.calls += 1;
    try {
      const response = await new Promise<Res>((resolve, reject) => {
        let settled = false;
        const stream = this.client.SignStream(
          injectTrace(new grpc.Metadata()),
          { deadline },
          (error, response) => {
            settled = true;
            if (error) reject(statusErrorOf(error));
            else resolve(response as Res);
          },
        ) as unknown as grpc.ClientWritableStream<Req>;
        const send = (message: Req) =>
          new Promise<void>((ok) => {
            if (settled || stream.destroyed) return ok();
            if (stream.write(message)) ok();
            else {
              stream.once("drain", () => ok());
              stream.once("status", () => ok());
            }
          });
        write(send).then(
          () => stream.end(),
          (error: unknown) => {
            stream.cancel();
            if (!settled) {
              settled = true;
              reject(error);
            }
          },
        );
      });
      this.breaker.onSuccess();
      return response;
    } catch (error) {
      this.#judge(error);
      throw error;
    } finally {
      this.inFlight -= 1;
    }
  }

  stats(): LinkStats {
    return {
      address: this.address,
      healthy: this.#healthy,
      breaker: this.breaker.state,
      breakerOpened: this.breaker.timesOpened,
      inFlight: this.inFlight,
      calls: this.calls,
      deviceFaults: this.deviceFaults,
    };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.client.close();
  }
}

/** A grpc-js ServiceError as a GrpcStatusError with the device's code and message. */
export function statusErrorOf(error: unknown): GrpcStatusError {
  if (error instanceof GrpcStatusError) return error;
  const e = error as Partial<grpc.ServiceError>;
  if (typeof e.code === "number")
    return new GrpcStatusError(e.code, e.details ?? e.message ?? "", { cause: error });
  return new GrpcStatusError(GrpcStatus.UNAVAILABLE, error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
