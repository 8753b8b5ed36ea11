import { GrpcStatus, GrpcStatusError } from "@piaoju/runtime";

/** One item's outcome in a batch answer: its value, or the status it would have had alone. */
export interface ItemOutcome<Res> {
  value?: Res | undefined;
  error?: { code: number; message: string } | undefined;
}

export interface CoalescerSettings {
  enabled: boolean;
  /** Calls in the gateway at once from which new small ones wait for company. */
  threshold: number;
  /** How long the first waiting call waits. */
  windowMs: number;
  /** Most items per batch. */
  maxItems: number;
}

interface Waiting<Req, Res> {
  request: Req;
  deadline: number;
  resolve: (response: Res) => void;
  reject: (error: unknown) => void;
}

/**
 * Small unary calls straight through while the gateway is quiet; under load (more than
 * `threshold` in the gateway at once) new ones wait up to `windowMs` and go to the device as one
 * batch call, each caller getting its own item's answer or error. Sign and Verify each have one.
 */
export class Coalescer<Req, Res> {
  #inGateway = 0;
  #waiting: Waiting<Req, Res>[] = [];
  #timer: NodeJS.Timeout | undefined;
  batches = 0;
  batchedItems = 0;

  constructor(
    private readonly settings: CoalescerSettings,
    private readonly single: (request: Req, deadline: number) => Promise<Res>,
    private readonly batch: (requests: Req[], deadline: number) => Promise<ItemOutcome<Res>[]>,
    private readonly onBatch: (items: number) => void = () => {},
  ) {}

  /** `small`: whether this call may be batched at all (e.g. its payload is small). */
  async call(request: Req, deadline: number, small: boolean): Promise<Res> {
    this.#inGateway += 1;
    try {
      const s = this.settings;
      if (!s.enabled || !small || this.#inGateway <= s.threshold) return await this.single(request, deadline);
      return await new Promise<Res>((resolve, reject) => {
        this.#waiting.push({ request, deadline, resolve, reject });
        if (this.#waiting.length >= s.maxItems) this.#flush();
        else this.#timer ??= setTimeout(() => this.#flush(), s.windowMs);
      });
    } finally {
      this.#inGateway -= 1;
    }
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const items = this.#waiting.splice(0, this.settings.maxItems);
    if (this.#waiting.length > 0) this.#timer = setTimeout(() => this.#flush(), 0);
    if (items.length === 0) return;
    this.batches += 1;
    this.batchedItems += items.length;
    this.onBatch(items.length);
    const deadline = Math.min(...items.map((i) => i.deadline));
    this.batch(
      items.map((i) => i.request),
      deadline,
    ).then(
      (outcomes) => {
        items.forEach((item, index) => {
          const outcome = outcomes[index];
          if (outcome?.value !== undefined) item.resolve(outcome.value);
          else if (outcome?.error)
            item.reject(new GrpcStatusError(outcome.error.code, outcome.error.message));
          else
            item.reject(new GrpcStatusError(GrpcStatus.INTERNAL, "the device gave no result for the item"));
        });
      },
      (error: unknown) => {
        for (const item of items) item.reject(error);
      },
    );
  }

  /** Refuses whatever still waits (shutdown). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const item of this.#waiting.splice(0)) {
      item.reject(new GrpcStatusError(GrpcStatus.UNAVAILABLE, "the signing gateway is shutting down"));
    }
  }
}

/** A batch response's results in request order (by `index`, falling back to position). */
export function inRequestOrder<R extends { index: number }>(
  results: readonly R[],
  count: number,
): (R | undefined)[] {
  const byIndex = new Map(results.map((r) => [r.index, r]));
  return Array.from({ length: count }, (_, i) => byIndex.get(i) ?? results[i]);
}
