import * as grpc from "@grpc/grpc-js";
import { parseSignedData, Sm2PublicKey, verify } from "@piaoju/gm-crypto";
import type {
  GetCertificateResponse,
  SigningDeviceClient,
  SignResponse,
  VerifyResponse,
} from "@piaoju/proto/signing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  makeKeystore,
  type RunningTestDevice,
  spawnDevice,
  type TestKeystore,
} from "../../../test/support/signing-device.ts";
import { type RunningGateway, startSigningGateway } from "./gateway.ts";
import type { GatewayOptionsInput } from "./options.ts";
import { signCall, startSignLoad, until } from "./testing/load.ts";
import { gatewayClient, gatewaySecurity } from "./testing/tls.ts";

/**
 * The gateway's rules, each over real device processes and real gRPC on 127.0.0.1. A hung
 * device is a real one stopped with SIGSTOP (its socket stays open, nothing answers).
 */

const KEY = "agency-110101";
let keystore: TestKeystore;
let a: RunningTestDevice;
let b: RunningTestDevice;
let publicKey: Sm2PublicKey;
const addressOf = (d: RunningTestDevice) => `127.0.0.1:${d.port}`;
const running: Array<{ gateway: RunningGateway; client: SigningDeviceClient }> = [];

beforeAll(async () => {
  keystore = makeKeystore();
  [a, b] = await Promise.all([
    spawnDevice(keystore, { PIAOJU_SIGNING_DEVICE_WORKERS: "1" }),
    spawnDevice(keystore, { PIAOJU_SIGNING_DEVICE_WORKERS: "1" }),
  ]);
});

afterAll(async () => {
  for (const { gateway, client } of running) {
    client.close();
    await gateway.close();
  }
  for (const d of [a, b]) {
    d?.process.kill("SIGCONT");
    await d?.stop();
  }
});

async function gatewayOver(options: GatewayOptionsInput) {
  // Routing, not the signing policy, is under test here (access.int.spec.ts tests that): every
  // key counts as an agency's, so the devices' own statuses reach the caller.
  const gateway = await startSigningGateway({
    ...(await gatewaySecurity()),
    isAgencyKey: () => true,
    ...options,
  });
  const client = await gatewayClient(gateway.address);
  running.push({ gateway, client });
  if (!publicKey) {
    const cert = await unary<GetCertificateResponse>(client, "GetCertificate", { keyId: KEY });
    publicKey = Sm2PublicKey.fromDer(cert.publicKey);
  }
  return { gateway, client };
}

function unary<Res>(
  client: SigningDeviceClient,
  method: "GetCertificate" | "Verify" | "Sign" | "ListKeys",
  request: object,
  deadlineMs = 5_000,
): Promise<Res> {
  const fn = client[method] as unknown as (
    r: object,
    m: grpc.Metadata,
    o: Partial<grpc.CallOptions>,
    cb: grpc.requestCallback<Res>,
  ) => void;
  return new Promise((resolve, reject) =>
    fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (e, r) =>
      e ? reject(e) : resolve(r as Res),
    ),
  );
}

async function statusOf(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
  return { code: grpc.status.OK, details: "" };
}

/** Runs `fn` with device `d` frozen (SIGSTOP), thawing it whatever happens. */
async function whileHung<T>(d: RunningTestDevice, fn: () => Promise<T>): Promise<T> {
  d.process.kill("SIGSTOP");
  try {
    return await fn();
  } finally {
    d.process.kill("SIGCONT");
  }
}

const calls = (g: RunningGateway, d: RunningTestDevice) =>
  g.stats().devices.find((s) => s.address === addressOf(d))!;

describe("signing gateway rules", () => {
  it("is the device API: a caller gets the device's own status and message for bad input, and nothing is retried", async () => {
    const { gateway, client } = await gatewayOver({ devices: [addressOf(a), addressOf(b)] });
    const before = gateway.stats().devices.reduce((n, d) => n + d.calls, 0);
    const unknownKey = await statusOf(
      unary(client, "Sign", { keyId: "agency-999999", data: Buffer.from("x") }),
    );
    expect(unknownKey.code).toBe(grpc.status.NOT_FOUND);
    expect(unknownKey.details).toContain("agency-999999");
    const truncated = await statusOf(
      unary(client, "Verify", {
        keyId: KEY,
        data: Buffer.from("x"),
        signature: Buffer.from([0x30, 0x45, 0x02]),
      }),
    );
    expect(truncated.code).toBe(grpc.status.INVALID_ARGUMENT);
    const noCertificate = await statusOf(
      unary(client, "Sign", {
        keyId: "bare",
        data: Buffer.from("x"),
        format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
      }),
    );
    expect(noCertificate.code).toBe(grpc.status.FAILED_PRECONDITION);
    const oversized = await statusOf(
      unary(client, "Sign", { keyId: KEY, data: Buffer.alloc(4 * 1024 * 1024 + 1) }, 20_000),
    );
    expect(oversized.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(oversized.details).toContain("limit");
    const wrongUserId = await unary<SignResponse>(client, "Sign", {
      keyId: KEY,
      data: Buffer.from("y"),
      userId: "alice",
    });
    const verdict = await unary<VerifyResponse>(client, "Verify", {
      keyId: KEY,
      data: Buffer.from("y"),
      signature: wrongUserId.signature,
    });
    expect(verdict.valid).toBe(false);
    // Four refusals and two good calls, one device call each (RESOURCE_EXHAUSTED "over the limit"
    // would be the same on the other device; it was retried there once, which is allowed).
    const after = gateway.stats().devices.reduce((n, d) => n + d.calls, 0);
    expect(after - before).toBeLessThanOrEqual(7);
    expect(gateway.stats().retries).toBeLessThanOrEqual(1);
  });

  it("passes the caller's PKCS#7 profile to the device (the finance peer's identifiers, ADR 0019)", async () => {
    const { client } = await gatewayOver({ devices: [addressOf(a)] });
    const signed = await unary<SignResponse>(client, "Sign", {
      keyId: KEY,
      data: Buffer.from("z"),
      format: "SIGNATURE_FORMAT_PKCS7_DETACHED",
      profile: "PKCS7_PROFILE_GMT0010",
    });
    expect(parseSignedData(signed.signature).signers[0]?.signatureAlgorithm).toBe("1.2.156.10197.1.301.1");
  });

  it("load-balancing spreads calls over both devices by the fewest in flight, every signature valid", async () => {
    const { gateway, client } = await gatewayOver({
      devices: [addressOf(a), addressOf(b)],
      mode: "load-balancing",
      batch: { enabled: false },
    });
    const load = startSignLoad(client, { keyId: KEY, concurrency: 16 });
    await new Promise((r) => setTimeout(r, 2_000));
    await load.stop();
    const [onA, onB] = [calls(gateway, a).calls, calls(gateway, b).calls];
    console.log(
      `load-balancing: ${load.outcomes.length} signs, device A ${onA} calls, device B ${onB} calls`,
    );
    expect(load.outcomes.filter((o) => o.error)).toHaveLength(0);
    expect(load.outcomes.every((o) => verify(o.data, o.signature!, publicKey))).toBe(true);
    expect(Math.min(onA, onB)).toBeGreaterThan((onA + onB) * 0.2);
  });

  it("coalesces concurrent Verify calls into VerifyBatch under load, each caller getting its own verdict or error", async () => {
    const { gateway, client } = await gatewayOver({
      devices: [addressOf(a), addressOf(b)],
      batch: { threshold: 4, windowMs: 2 },
    });
    const signed = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const data = Buffer.from(`document ${i}`);
        return { data, signature: (await signCall(client, { keyId: KEY, data })).signature };
      }),
    );
    const verifyCall = (request: { keyId: string; data: Buffer; signature: Buffer }) =>
      new Promise<{ valid?: boolean; code?: number }>((resolve) =>
        client.Verify(request, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
          resolve(error ? { code: error.code } : { valid: response!.valid }),
        ),
      );
    // 48 callers, 8 calls each; every third item has the wrong data, every tenth an unknown key.
    const outcomes: {
      expected: { valid?: boolean; code?: number };
      got: { valid?: boolean; code?: number };
    }[] = [];
    let n = 0;
    const caller = async () => {
      for (let k = 0; k < 8; k++) {
        const i = n++;
        const item = signed[i % signed.length]!;
        const unknownKey = i % 10 === 9;
        const wrongData = !unknownKey && i % 3 === 2;
        const request = {
          keyId: unknownKey ? `agency-nope-${i}` : KEY,
          data: wrongData ? Buffer.from(`not ${i}`) : item.data,
          signature: item.signature,
        };
        const expected = unknownKey ? { code: grpc.status.NOT_FOUND } : { valid: !wrongData };
        outcomes.push({ expected, got: await verifyCall(request) });
      }
    };
    await Promise.all(Array.from({ length: 48 }, caller));
    const stats = gateway.stats();
    console.log(
      `verify batching: ${outcomes.length} verifies, ${stats.verifyBatches} VerifyBatch calls carrying ${stats.verifiedBatchedItems}`,
    );
    expect(stats.verifyBatches).toBeGreaterThan(0);
    expect(outcomes).toHaveLength(48 * 8);
    expect(outcomes.filter((o) => JSON.stringify(o.got) !== JSON.stringify(o.expected))).toEqual([]);
  });

  it("coalesces concurrent small Sign calls into SignBatch under load and maps each item's result back to its caller", async () => {
    const { gateway, client } = await gatewayOver({
      devices: [addressOf(a), addressOf(b)],
      batch: { threshold: 4, windowMs: 2 },
    });
    const load = startSignLoad(client, { keyId: KEY, concurrency: 48 });
    // Bad items ride in the same batches: each gets its own NOT_FOUND, the others their signatures.
    const bad = Array.from({ length: 20 }, (_, i) =>
      statusOf(signCall(client, { keyId: `agency-nope-${i}`, data: Buffer.from("x") })),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    const badOutcomes = await Promise.all(bad);
    await load.stop();
    const stats = gateway.stats();
    console.log(
      `batching: ${load.outcomes.length} signs, ${stats.batches} SignBatch calls carrying ${stats.batchedItems} signs (${(stats.batchedItems / Math.max(1, stats.batches)).toFixed(1)} per batch)`,
    );
    expect(stats.batches).toBeGreaterThan(0);
    expect(load.outcomes.filter((o) => o.error)).toHaveLength(0);
    expect(load.outcomes.every((o) => verify(o.data, o.signature!, publicKey))).toBe(true);
    expect(badOutcomes.map((o) => o.code)).toEqual(badOutcomes.map(() => grpc.status.NOT_FOUND));
  });

  it("ends a call to a hung device at the caller's deadline, or at the gateway's default deadline when the caller set none", async () => {
    const { client } = await gatewayOver({
      devices: [addressOf(a)],
      deadlines: { defaultMs: 600, attemptMs: 5_000 },
      health: { intervalMs: 60_000 },
    });
    await whileHung(a, async () => {
      const withDeadline = await statusOf(unary(client, "Sign", { keyId: KEY, data: Buffer.from("d") }, 400));
      expect(withDeadline.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      const withoutDeadline = await statusOf(
        new Promise((resolve, reject) =>
          client.Sign({ keyId: KEY, data: Buffer.from("d") }, new grpc.Metadata(), {}, (e, r) =>
            e ? reject(e) : resolve(r),
          ),
        ),
      );
      expect(withoutDeadline.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    });
  });

  it("retries an idempotent call once, on the other device only; a SignStream (not replayable) is not retried", async () => {
    const { gateway, client } = await gatewayOver({
      devices: [addressOf(a), addressOf(b)],
      deadlines: { attemptMs: 300, defaultMs: 5_000 },
      health: { intervalMs: 60_000 },
      breaker: { failureThreshold: 100 },
      batch: { enabled: false },
    });
    await whileHung(a, async () => {
      const signed = await unary<SignResponse>(client, "Sign", { keyId: KEY, data: Buffer.from("r") });
      expect(verify(Buffer.from("r"), signed.signature, publicKey)).toBe(true);
      expect(calls(gateway, a).calls).toBe(1);
      expect(calls(gateway, b).calls).toBe(1);
      expect(gateway.stats().retries).toBe(1);

      const streamed = await statusOf(
        new Promise((resolve, reject) => {
          const stream = client.SignStream(new grpc.Metadata(), { deadline: Date.now() + 1_000 }, (e, r) =>
            e ? reject(e) : resolve(r),
          );
          stream.write({ header: { keyId: KEY } });
          stream.write({ chunk: Buffer.from("streamed") });
          stream.end();
        }),
      );
      expect(streamed.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(calls(gateway, a).calls).toBe(2);
      expect(calls(gateway, b).calls).toBe(1);
    });

    // With one device there is no other device: a failure is answered, not retried on the same one.
    const single = await gatewayOver({
      devices: ["127.0.0.1:1"],
      health: { intervalMs: 60_000 },
    });
    const down = await statusOf(unary(single.client, "Sign", { keyId: KEY, data: Buffer.from("z") }));
    expect(down.code).toBe(grpc.status.UNAVAILABLE);
    expect(single.gateway.stats().devices[0]!.calls).toBe(1);
  });

  it("opens a device's breaker after consecutive faults (no more calls to it), then closes it after one good half-open probe", async () => {
    const { gateway, client } = await gatewayOver({
      devices: [addressOf(a), addressOf(b)],
      mode: "load-balancing",
      deadlines: { attemptMs: 200 },
      health: { intervalMs: 60_000 },
      breaker: { failureThreshold: 3, openMs: 1_000 },
      batch: { enabled: false },
    });
    await whileHung(a, async () => {
      for (let i = 0; i < 12; i++) {
        const signed = await unary<SignResponse>(client, "Sign", { keyId: KEY, data: Buffer.from(`b${i}`) });
        expect(verify(Buffer.from(`b${i}`), signed.signature, publicKey)).toBe(true);
      }
      const stateA = calls(gateway, a);
      expect(stateA).toMatchObject({ breaker: "open", breakerOpened: 1, calls: 3, deviceFaults: 3 });
    });
    // Thawed: after openMs one probe reaches it, succeeds, and the breaker closes.
    await until(
      () => {
        void unary(client, "Sign", { keyId: KEY, data: Buffer.from("p") }).catch(() => {});
        return calls(gateway, a).breaker === "closed";
      },
      15_000,
      "the breaker to close",
    );
    expect(calls(gateway, a).calls).toBeGreaterThan(3);
    expect(calls(gateway, a).breakerOpened).toBe(1);
  });
});
