import * as grpc from "@grpc/grpc-js";
import type { SignatureFormat, SigningDeviceClient, SignResponse } from "@piaoju/proto/signing";

/** A closed-loop load generator for tests: `concurrency` callers, each signing one after the other. */

export interface SignOutcome {
  data: Buffer;
  startedAt: number;
  endedAt: number;
  signature?: Buffer;
  error?: { code: number; details: string };
}

export interface Load {
  outcomes: SignOutcome[];
  stop(): Promise<void>;
}

export function signCall(
  client: SigningDeviceClient,
  request: { keyId: string; data: Buffer; format?: SignatureFormat; userId?: string },
  deadlineMs = 5_000,
): Promise<SignResponse> {
  return new Promise((resolve, reject) =>
    client.Sign(request, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) =>
      error ? reject(error) : resolve(response as SignResponse),
    ),
  );
}

export function startSignLoad(
  client: SigningDeviceClient,
  options: { keyId: string; concurrency: number; deadlineMs?: number },
): Load {
  const outcomes: SignOutcome[] = [];
  let running = true;
  let n = 0;
  const caller = async () => {
    while (running) {
      const data = Buffer.from(`receipt document #${n++} ${"x".repeat(200)}`);
      const outcome: SignOutcome = { data, startedAt: Date.now(), endedAt: 0 };
      try {
        const response = await signCall(client, { keyId: options.keyId, data }, options.deadlineMs);
        outcome.signature = response.signature;
      } catch (error) {
        const e = error as grpc.ServiceError;
        outcome.error = { code: e.code, details: e.details };
      }
      outcome.endedAt = Date.now();
      outcomes.push(outcome);
    }
  };
  const callers = Array.from({ length: options.concurrency }, caller);
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(callers);
    },
  };
}

/** The longest time no call completed, between the first and the last completion. */
export function longestGapMs(outcomes: readonly SignOutcome[]): number {
  const ends = outcomes.map((o) => o.endedAt).sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < ends.length; i++) gap = Math.max(gap, (ends[i] as number) - (ends[i - 1] as number));
  return gap;
}

export function longestCallMs(outcomes: readonly SignOutcome[]): number {
  return outcomes.reduce((m, o) => Math.max(m, o.endedAt - o.startedAt), 0);
}

export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
