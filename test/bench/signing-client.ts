// The load generator of `pnpm bench:signing`, run on worker threads so that the gateway (on the
// bench's main thread) has a thread of its own, as it would with clients in other processes.
// Each worker opens its own gRPC channel, warms it up, then keeps `concurrency` calls in flight
// for `seconds` and reports how many operations succeeded and each call's latency.
import { parentPort, workerData } from "node:worker_threads";
import { unaryCall } from "@piaoju/runtime";
import { clientCredentials, loadServiceTls, TLS_CHANNEL_OPTIONS } from "@piaoju/service-identity";
import { loadSigningProto } from "../../proto/piaoju/signing/v1/signing.ts";

export type ClientMethod = "SignBatch" | "Sign" | "Verify" | "VerifyBatch" | "MakeEnvelope" | "OpenEnvelope";

export interface ClientJob {
  address: string;
  /** The caller's TLS folder (ca.crt, tls.crt, tls.key): the gateway takes mutual TLS only. */
  tlsDir: string;
  method: ClientMethod;
  request: Record<string, unknown>;
  concurrency: number;
  seconds: number;
  /** For OpenEnvelope: the content length every answer must have. */
  expectLength?: number;
}

export interface ClientResult {
  ops: number;
  failures: number;
  latencies: number[];
  seconds: number;
  firstError?: string;
}

/** How many operations one answer stands for; throws when the answer is wrong. */
function opsOf(job: ClientJob, answer: Record<string, unknown>): number {
  switch (job.method) {
    case "SignBatch":
      return (answer.results as { signature?: unknown }[]).filter((r) => r.signature).length;
    case "Verify":
      if (answer.valid !== true) throw new Error("a valid signature did not verify");
      return 1;
    case "VerifyBatch": {
      const results = answer.results as { verdict?: { valid?: boolean } }[];
      if (!results.every((r) => r.verdict?.valid === true))
        throw new Error("a valid signature did not verify");
      return results.length;
    }
    case "OpenEnvelope":
      if ((answer.content as Uint8Array).length !== job.expectLength)
        throw new Error("the envelope opened to something else");
      return 1;
    default:
      return 1;
  }
}

async function run(job: ClientJob): Promise<ClientResult> {
  const client = loadSigningProto().newClient(
    job.address,
    clientCredentials(loadServiceTls(job.tlsDir), ["signing-gateway"]),
    { ...TLS_CHANNEL_OPTIONS },
  );
  // biome-ignore lint/suspicious/noExplicitAny: one generic loop over six methods of the generated client
  const method = (client as any)[job.method] as Parameters<typeof unaryCall>[1];
  const call = () =>
    unaryCall(client, method, job.request as never, { deadlineMs: 30_000 }) as Promise<
      Record<string, unknown>
    >;
  try {
    const warmEnd = performance.now() + 300;
    await Promise.all(
      Array.from({ length: Math.min(job.concurrency, 32) }, async () => {
        while (performance.now() < warmEnd) await call().catch(() => undefined);
      }),
    );
    // Every worker is warm before any starts: the main thread measures CPU from "go" on.
    parentPort?.postMessage({ type: "ready" });
    await new Promise<void>((go) => parentPort?.once("message", () => go()));
    const latencies: number[] = [];
    let ops = 0;
    let failures = 0;
    let firstError: string | undefined;
    const started = performance.now();
    const end = started + job.seconds * 1000;
    await Promise.all(
      Array.from({ length: job.concurrency }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          try {
            const answer = await call(); // (not `ops += …(await …)`: that reads ops before the await)
            ops += opsOf(job, answer);
            latencies.push(performance.now() - t0);
          } catch (error) {
            failures++;
            firstError ??= error instanceof Error ? error.message : String(error);
          }
        }
      }),
    );
    return {
      ops,
      failures,
      latencies,
      seconds: (performance.now() - started) / 1000,
      ...(firstError ? { firstError } : {}),
    };
  } finally {
    client.close();
  }
}

if (parentPort && workerData) {
  const port = parentPort;
  run(workerData as ClientJob).then(
    (result) => port.postMessage({ type: "result", ...result }),
    (error: unknown) =>
      port.postMessage({
        type: "result",
        ops: 0,
        failures: 1,
        latencies: [],
        seconds: 0,
        firstError: String(error),
      }),
  );
}
