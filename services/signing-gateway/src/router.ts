import type * as grpc from "@grpc/grpc-js";
import { metrics, type ObservableResult } from "@opentelemetry/api";
import type {
  SignBatchResponse,
  SignRequestInput,
  SignResponse,
  VerifyBatchResponse,
  VerifyRequestInput,
  VerifyResponse,
} from "@piaoju/proto/signing";
import { GrpcStatus, GrpcStatusError, type Logger } from "@piaoju/runtime";
import { Coalescer, inRequestOrder } from "./coalescer.ts";
import { DeviceLink, isDeviceFault, type LinkStats, type UnaryName } from "./device-link.ts";
import type { GatewayOptions } from "./options.ts";

/**
 * Where each call goes, and what happens when it fails there.
 *
 * - active-standby: every call to the first available device in configured order (the primary
 *   while it is healthy and its breaker closed), so a device's caches and the operators' picture
 *   stay simple; load-balancing: the available device with the fewest calls in flight.
 * - idempotent calls that fail with a device fault (UNAVAILABLE, DEADLINE_EXCEEDED) or an
 *   overloaded device (RESOURCE_EXHAUSTED) are tried again once on each OTHER device, never on
 *   the same one, within the caller's deadline; each attempt has its own shorter deadline so a
 *   hung device leaves time for the retry.
 * - small Sign (Verify) calls arriving while many are in flight are coalesced into one SignBatch
 *   (VerifyBatch).
 */

const meter = metrics.getMeter("@piaoju/signing-gateway");
const callCounter = meter.createCounter("signing_gateway_device_calls_total", {
  description: "Calls the gateway made to devices, by device, method and outcome",
});
const retryCounter = meter.createCounter("signing_gateway_retries_total", {
  description: "Idempotent calls retried on another device",
});
const switchCounter = meter.createCounter("signing_gateway_switches_total", {
  description: "Times the active device changed (active-standby)",
});
const deviceHealthy = meter.createObservableGauge("signing_gateway_device_available", {
  description: "1 when a device is healthy and its breaker lets calls through, else 0",
});
const breakerOpens = meter.createObservableCounter("signing_gateway_breaker_opened_total", {
  description: "Times a device's circuit breaker opened",
});
const batchItems = meter.createHistogram("signing_gateway_batch_items", {
  description: "Calls coalesced per batch call (SignBatch, VerifyBatch), by method",
});

/** Retrying these on another device is safe (the proto: signing twice is harmless). */
const IDEMPOTENT: ReadonlySet<UnaryName> = new Set<UnaryName>([
  "Sign",
  "Verify",
  "SignBatch",
  "VerifyBatch",
  "GetCertificate",
  "CreateCertificationRequest",
  "ListKeys",
  "Health",
  "MakeEnvelope",
  "OpenEnvelope",
]);

/** Worth another device: the device is down, hung or full. Anything else is the answer. */
function retryable(error: unknown): boolean {
  return (
    isDeviceFault(error) || (error instanceof GrpcStatusError && error.code === GrpcStatus.RESOURCE_EXHAUSTED)
  );
}

/** Below this much time left, a retry could not finish: the caller gets the first error. */
const MIN_RETRY_MS = 20;

export interface SwitchEvent {
  at: number;
  from: string | undefined;
  to: string;
}

export interface GatewayStats {
  mode: GatewayOptions["mode"];
  devices: LinkStats[];
  retries: number;
  /** Sign calls coalesced: SignBatch calls made, and the Sign calls they carried. */
  batches: number;
  batchedItems: number;
  /** Verify calls coalesced likewise into VerifyBatch. */
  verifyBatches: number;
  verifiedBatchedItems: number;
  switches: SwitchEvent[];
}

export class Router {
  readonly links: DeviceLink[];
  #rr = 0;
  #active: DeviceLink | undefined;
  readonly #signs: Coalescer<SignRequestInput, SignResponse>;
  readonly #verifies: Coalescer<VerifyRequestInput, VerifyResponse>;
  readonly #switches: SwitchEvent[] = [];
  #retries = 0;

  constructor(
    private readonly options: GatewayOptions,
    private readonly logger: Logger,
    credentials: grpc.ChannelCredentials,
  ) {
    const settings = options.batch;
    this.#signs = new Coalescer(
      settings,
      (request, deadline) => this.unary<SignResponse>("Sign", request, deadline),
      async (items, deadline) => {
        const response = await this.unary<SignBatchResponse>("SignBatch", { items }, deadline);
        return inRequestOrder(response.results, items.length).map((r) => ({
          value: r?.signature,
          error: r?.error,
        }));
      },
      (n) => batchItems.record(n, { method: "SignBatch" }),
    );
    this.#verifies = new Coalescer(
      settings,
      (request, deadline) => this.unary<VerifyResponse>("Verify", request, deadline),
      async (items, deadline) => {
        const response = await this.unary<VerifyBatchResponse>("VerifyBatch", { items }, deadline);
        return inRequestOrder(response.results, items.length).map((r) => ({
          value: r?.verdict,
          error: r?.error,
        }));
      },
      (n) => batchItems.record(n, { method: "VerifyBatch" }),
    );
    this.links = options.devices.map(
      (address, index) =>
        new DeviceLink(address, index, options, credentials, {
          onHealthChange: (link, healthy, reason) =>
            logger[healthy ? "info" : "warn"](
              { device: link.address, healthy, reason },
              healthy ? "signing device healthy" : "signing device down",
            ),
        }),
    );
  }

  readonly #observe = (result: ObservableResult) => {
    for (const link of this.links) result.observe(link.available ? 1 : 0, { device: link.address });
  };
  readonly #observeOpens = (result: ObservableResult) => {
    for (const link of this.links) result.observe(link.breaker.timesOpened, { device: link.address });
  };

  async start(): Promise<void> {
    deviceHealthy.addCallback(this.#observe);
    breakerOpens.addCallback(this.#observeOpens);
    await Promise.all(this.links.map((link) => link.startHealthChecks()));
  }

  /** Picks a device not yet tried and takes its breaker's permission; undefined when none can take it. */
  #pick(tried: ReadonlySet<DeviceLink>): DeviceLink | undefined {
    const untried = this.links.filter((l) => !tried.has(l));
    // Healthy devices first; when none is known healthy (start-up, stale health) try the rest
    // whose breaker allows, rather than refusing a call a device might answer.
    let candidates = untried.filter((l) => l.available);
    if (candidates.length === 0) candidates = untried.filter((l) => l.breaker.wouldAllow());
    if (this.options.mode === "load-balancing") {
      const offset = this.#rr++;
      candidates = candidates
        .map((link, i) => ({ link, order: (i + offset) % candidates.length }))
        .sort((a, b) => a.link.inFlight - b.link.inFlight || a.order - b.order)
        .map((c) => c.link);
    }
    for (const link of candidates) {
      if (link.breaker.tryAcquire()) {
        // A half-open probe is not a switch yet: the device is active again once its breaker closes.
        // A retry counts when the active device is down: traffic has moved with it.
        const fresh = tried.size === 0 || !this.#active?.available;
        if (this.options.mode === "active-standby" && fresh && link.breaker.state === "closed") {
          this.#noteActive(link);
        }
        return link;
      }
    }
    return undefined;
  }

  #noteActive(link: DeviceLink): void {
    if (this.#active === link) return;
    const event = { at: Date.now(), from: this.#active?.address, to: link.address };
    this.#active = link;
    this.#switches.push(event);
    if (this.#switches.length > 1000) this.#switches.shift();
    if (event.from !== undefined) {
      switchCounter.add(1);
      this.logger.warn(event, "active signing device changed");
    }
  }

  /** A unary call with deadline, breaker and (for idempotent methods) retry on another device. */
  async unary<Res>(method: UnaryName, request: object, deadline: number): Promise<Res> {
    const tried = new Set<DeviceLink>();
    let lastError: unknown;
    for (;;) {
      const link = this.#pick(tried);
      if (!link) {
        throw (
          lastError ??
          new GrpcStatusError(GrpcStatus.UNAVAILABLE, "no signing device is available (all are down or open)")
        );
      }
      tried.add(link);
      const now = Date.now();
      if (deadline - now <= 0) {
        throw new GrpcStatusError(GrpcStatus.DEADLINE_EXCEEDED, "the call's deadline passed in the gateway");
      }
      const attemptDeadline = Math.min(deadline, now + this.options.deadlines.attemptMs);
      try {
        const response = await link.unary<Res>(method, request, attemptDeadline);
        callCounter.add(1, { device: link.address, method, outcome: "ok" });
        return response;
      } catch (error) {
        const code = error instanceof GrpcStatusError ? error.code : GrpcStatus.UNKNOWN;
        callCounter.add(1, { device: link.address, method, outcome: String(code) });
        lastError = error;
        if (!IDEMPOTENT.has(method) || !retryable(error) || deadline - Date.now() < MIN_RETRY_MS) throw error;
        if (tried.size >= this.links.length) throw error;
        this.#retries += 1;
        retryCounter.add(1, { method });
        this.logger.debug({ method, device: link.address, code }, "retrying on another device");
      }
    }
  }

  /** SignStream on one device (no retry: the stream's payload cannot be sent again). */
  async signStream<Req, Res>(
    write: (send: (message: Req) => Promise<void>) => Promise<void>,
    deadline: number,
  ): Promise<Res> {
    const link = this.#pick(new Set());
    if (!link) throw new GrpcStatusError(GrpcStatus.UNAVAILABLE, "no signing device is available");
    return link.signStream<Req, Res>(write, deadline);
  }

  /** Sign: straight through while the gateway is quiet, coalesced into SignBatch under load. */
  sign(request: SignRequestInput, deadline: number): Promise<SignResponse> {
    const small = (request.data?.length ?? 0) <= this.options.batch.maxItemBytes;
    return this.#signs.call(request, deadline, small);
  }

  /** Verify: the same, into VerifyBatch. */
  verify(request: VerifyRequestInput, deadline: number): Promise<VerifyResponse> {
    const size = (request.data?.length ?? 0) + (request.signature?.length ?? 0);
    return this.#verifies.call(request, deadline, size <= this.options.batch.maxItemBytes);
  }

  stats(): GatewayStats {
    return {
      mode: this.options.mode,
      devices: this.links.map((l) => l.stats()),
      retries: this.#retries,
      batches: this.#signs.batches,
      batchedItems: this.#signs.batchedItems,
      verifyBatches: this.#verifies.batches,
      verifiedBatchedItems: this.#verifies.batchedItems,
      switches: [...this.#switches],
    };
  }

  close(): void {
    deviceHealthy.removeCallback(this.#observe);
    breakerOpens.removeCallback(this.#observeOpens);
    this.#signs.close();
    this.#verifies.close();
    for (const link of this.links) link.close();
  }
}
