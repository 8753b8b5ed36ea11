import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { Certificate, generateSm2KeyPair, Sm2PublicKey, sm3, verify, verifyChain } from "@piaoju/gm-crypto";
import type { SigningDeviceClient } from "@piaoju/proto/signing";
import { clientStreamCall, unaryCall } from "@piaoju/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  makeKeystore,
  type RunningTestDevice,
  spawnDevice,
  type TestKeystore,
} from "../../../test/support/signing-device.ts";

const KEY = "agency-110101";
const MAX_PAYLOAD = 1024 * 1024;
const MAX_STREAM = 8 * 1024 * 1024;

let keystore: TestKeystore;
let device: RunningTestDevice;
let client: SigningDeviceClient;
let publicKey: Sm2PublicKey;
let certificate: Buffer;

beforeAll(async () => {
  keystore = makeKeystore();
  device = await spawnDevice(keystore, {
    PIAOJU_SIGNING_DEVICE_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
    PIAOJU_SIGNING_DEVICE_MAX_STREAM_BYTES: String(MAX_STREAM),
    PIAOJU_SIGNING_DEVICE_MAX_BATCH_ITEMS: "50",
  });
  client = device.client;
  const cert = await unaryCall(client, client.GetCertificate, { keyId: KEY });
  publicKey = Sm2PublicKey.fromDer(cert.publicKey);
  certificate = cert.certificate;
});

afterAll(async () => {
  await device?.stop();
  if (keystore) rmSync(keystore.dir, { recursive: true, force: true });
});

/** The gRPC status a call fails with. */
async function failure(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
  } catch (error) {
    const { code, details } = error as { code: number; details: string };
    return { code, details };
  }
  throw new Error("the call succeeded");
}

function opensslVerifies(data: Buffer, signature: Buffer, key: Sm2PublicKey, userId: string): boolean {
  const dir = mkdtempSync(join(tmpdir(), "piaoju-openssl-"));
  try {
    writeFileSync(join(dir, "pub.pem"), key.toPem());
    writeFileSync(join(dir, "data"), data);
    writeFileSync(join(dir, "sig"), signature);
    // pkeyutl prints its verdict and exits 0 only when the signature verifies.
    // biome-ignore format: one option per line reads better
    const out = execFileSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin",
      "-in", "data", "-sigfile", "sig", "-digest", "sm3", "-pkeyopt", `distid:${userId}`], { cwd: dir, encoding: "utf8" });
    return out.includes("Signature Verified Successfully");
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("keys and health", () => {
  it("Health reports serving, its workers, keys and limits", async () => {
    const health = await unaryCall(client, client.Health, {});
    expect(health).toMatchObject({
      status: "SERVING",
      workers: 2,
      keysLoaded: 2,
      capacity: 20_000,
      maxPayloadBytes: MAX_PAYLOAD,
      maxStreamBytes: MAX_STREAM,
      maxBatchItems: 50,
    });
    expect(health.implementation).toMatch(/^piaoju-software-device\//);
  });

  it("ListKeys lists both keys, public information only", async () => {
    const { keys } = await unaryCall(client, client.ListKeys, {});
    expect(keys.map((k) => k.keyId)).toEqual(["agency-110101", "bare"]);
    const [agency, bare] = keys;
    expect(agency).toMatchObject({
      hasCertificate: true,
      subject: expect.stringContaining("CN=agency-110101"),
    });
    expect(agency?.certFingerprint).toBe(sm3(certificate).toString("hex"));
    expect(Sm2PublicKey.fromDer(agency?.publicKey ?? Buffer.alloc(0)).equals(publicKey)).toBe(true);
    expect(bare).toMatchObject({ hasCertificate: false, certFingerprint: "", subject: "", notAfter: "" });
    expect(() => Sm2PublicKey.fromDer(bare?.publicKey ?? Buffer.alloc(0))).not.toThrow();
  });

  it("GetCertificate gives the leaf, the chain (DER and PEM) and the SM3 fingerprint", async () => {
    const cert = await unaryCall(client, client.GetCertificate, { keyId: KEY });
    expect(cert.chain).toHaveLength(2);
    expect(cert.chain[0]?.equals(cert.certificate)).toBe(true);
    expect(cert.fingerprint).toBe(sm3(cert.certificate).toString("hex"));
    const leaf = Certificate.fromDer(cert.certificate);
    const ca = Certificate.fromDer(cert.chain[1] ?? Buffer.alloc(0));
    expect(verifyChain(leaf, [], [ca])).toEqual({ ok: true });
    expect(leaf.publicKey.equals(Sm2PublicKey.fromDer(cert.publicKey))).toBe(true);
    expect(leaf.allows("digitalSignature", "keyEncipherment")).toBe(true);
    expect(cert.chainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it("GetCertificate of a key without certificate is FAILED_PRECONDITION, of an unknown key NOT_FOUND", async () => {
    expect(await failure(unaryCall(client, client.GetCertificate, { keyId: "bare" }))).toEqual({
      code: status.FAILED_PRECONDITION,
      details: 'key "bare" has no certificate on this device',
    });
    expect((await failure(unaryCall(client, client.GetCertificate, { keyId: "nobody" }))).code).toBe(
      status.NOT_FOUND,
    );
  });
});

describe("Sign and Verify", () => {
  const data = Buffer.from("<receipt no='0001'>壹佰元整</receipt>");

  it("signs so that gm-crypto and the openssl CLI verify, with the default and a custom user ID", async () => {
    const signed = await unaryCall(client, client.Sign, { keyId: KEY, data, requestId: "r-1" });
    expect(signed).toMatchObject({
      format: "SIGNATURE_FORMAT_RAW_DER",
      keyId: KEY,
      requestId: "r-1",
      certFingerprint: sm3(certificate).toString("hex"),
    });
    expect(verify(data, signed.signature, publicKey)).toBe(true);
    expect(opensslVerifies(data, signed.signature, publicKey, "1234567812345678")).toBe(true);

    const custom = await unaryCall(client, client.Sign, { keyId: KEY, data, userId: "agency-110101@piaoju" });
    expect(verify(data, custom.signature, publicKey, { userId: "agency-110101@piaoju" })).toBe(true);
    expect(verify(data, custom.signature, publicKey)).toBe(false);
    expect(opensslVerifies(data, custom.signature, publicKey, "agency-110101@piaoju")).toBe(true);
  });

  it("signs r ‖ s on request, and with a key that has no certificate", async () => {
    const raw = await unaryCall(client, client.Sign, { keyId: KEY, data, format: "SIGNATURE_FORMAT_RAW_RS" });
    expect(raw.format).toBe("SIGNATURE_FORMAT_RAW_RS");
    expect(raw.signature).toHaveLength(64);
    expect(verify(data, raw.signature, publicKey, { format: "raw" })).toBe(true);
    const bare = await unaryCall(client, client.Sign, { keyId: "bare", data: Buffer.alloc(0) });
    expect(bare.certFingerprint).toBe("");
  });

  it("verifies against a key id, a certificate and a public key", async () => {
    const { signature } = await unaryCall(client, client.Sign, { keyId: KEY, data, userId: "u-1" });
    const byKey = await unaryCall(client, client.Verify, { keyId: KEY, data, signature, userId: "u-1" });
    expect(byKey).toMatchObject({
      valid: true,
      reason: "",
      signerFingerprint: sm3(certificate).toString("hex"),
    });
    const byCert = await unaryCall(client, client.Verify, { certificate, data, signature, userId: "u-1" });
    expect(byCert).toMatchObject({ valid: true, signerFingerprint: sm3(certificate).toString("hex") });
    const byPublicKey = await unaryCall(client, client.Verify, {
      publicKey: publicKey.toDer(),
      data,
      signature,
      userId: "u-1",
    });
    expect(byPublicKey.valid).toBe(true);
  });

  it("says valid = false with a reason for other data, another user ID, another key", async () => {
    const { signature } = await unaryCall(client, client.Sign, { keyId: KEY, data });
    const cases = [
      { keyId: KEY, data: Buffer.from("other"), signature },
      { keyId: KEY, data, signature, userId: "not-the-signer" },
      { keyId: "bare", data, signature },
      { publicKey: generateSm2KeyPair().publicKey.toDer(), data, signature },
    ];
    for (const request of cases) {
      const answer = await unaryCall(client, client.Verify, request);
      expect(answer.valid).toBe(false);
      expect(answer.reason).toMatch(/does not match/);
    }
  });

  it("verifies signatures made elsewhere (openssl CLI)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "piaoju-openssl-"));
    try {
      const key = generateSm2KeyPair();
      writeFileSync(join(dir, "key.pem"), key.toPem());
      writeFileSync(join(dir, "data"), data);
      // biome-ignore format: one option per line reads better
      execFileSync("openssl", ["pkeyutl", "-sign", "-inkey", "key.pem", "-rawin", "-in", "data", "-out", "sig",
        "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"], { cwd: dir });
      const signature = execFileSync("cat", [join(dir, "sig")]);
      const answer = await unaryCall(client, client.Verify, {
        publicKey: key.publicKey.toDer(),
        data,
        signature,
      });
      expect(answer.valid).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("bad input gets a clear status, never a crash", () => {
  const data = Buffer.from("x");

  it("unknown or missing key id", async () => {
    expect(await failure(unaryCall(client, client.Sign, { keyId: "agency-999999", data }))).toEqual({
      code: status.NOT_FOUND,
      details: 'key_id: no key "agency-999999" on this device',
    });
    expect(await failure(unaryCall(client, client.Sign, { data }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "key_id: required",
    });
    const verifyUnknown = await failure(
      unaryCall(client, client.Verify, { keyId: "nobody", data, signature: Buffer.alloc(70, 1) }),
    );
    expect(verifyUnknown.code).toBe(status.NOT_FOUND);
  });

  it("oversized payload: RESOURCE_EXHAUSTED with the limit in the message", async () => {
    const big = Buffer.alloc(MAX_PAYLOAD + 1);
    const answer = await failure(unaryCall(client, client.Sign, { keyId: KEY, data: big }));
    expect(answer.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(answer.details).toContain(`over the device's limit of ${MAX_PAYLOAD} bytes`);
    // Far over: gRPC's own message limit answers, still RESOURCE_EXHAUSTED.
    const huge = await failure(
      unaryCall(client, client.Sign, { keyId: KEY, data: Buffer.alloc(3 * MAX_PAYLOAD) }),
    );
    expect(huge.code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it("truncated, junk, empty or wrong-length signatures: INVALID_ARGUMENT naming the field", async () => {
    const { signature } = await unaryCall(client, client.Sign, { keyId: KEY, data });
    for (const bad of [signature.subarray(0, signature.length - 5), Buffer.from("not a signature at all")]) {
      const answer = await failure(unaryCall(client, client.Verify, { keyId: KEY, data, signature: bad }));
      expect(answer.code).toBe(status.INVALID_ARGUMENT);
      expect(answer.details).toMatch(/^signature: /);
    }
    const raw = await failure(
      unaryCall(client, client.Verify, {
        keyId: KEY,
        data,
        signature: Buffer.alloc(63, 1),
        format: "SIGNATURE_FORMAT_RAW_RS",
      }),
    );
    expect(raw.code).toBe(status.INVALID_ARGUMENT);
    expect(await failure(unaryCall(client, client.Verify, { keyId: KEY, data }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "signature: required",
    });
  });

  it("malformed public keys and certificates, non-SM2 certificates, no signer", async () => {
    const { signature } = await unaryCall(client, client.Sign, { keyId: KEY, data });
    const badKey = await failure(
      unaryCall(client, client.Verify, { publicKey: Buffer.from([0x30, 0x03, 1, 2, 3]), data, signature }),
    );
    expect(badKey.code).toBe(status.INVALID_ARGUMENT);
    expect(badKey.details).toMatch(/^public_key: /);

    const junkCert = await failure(
      unaryCall(client, client.Verify, { certificate: certificate.subarray(0, 100), data, signature }),
    );
    expect(junkCert.code).toBe(status.INVALID_ARGUMENT);
    expect(junkCert.details).toMatch(/^certificate: /);

    const dir = mkdtempSync(join(tmpdir(), "piaoju-p256-"));
    try {
      // biome-ignore format: one option per line reads better
      execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "k.pem", "-subj", "/CN=not-sm2", "-days", "1", "-outform", "DER", "-out", "c.der"], { cwd: dir, stdio: "ignore" });
      const p256 = execFileSync("cat", [join(dir, "c.der")]);
      const notSm2 = await failure(unaryCall(client, client.Verify, { certificate: p256, data, signature }));
      expect(notSm2.code).toBe(status.INVALID_ARGUMENT);
      expect(notSm2.details).toMatch(/^certificate: .*SM2/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    expect(await failure(unaryCall(client, client.Verify, { data, signature }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "signer: one of key_id, certificate or public_key is required",
    });
  });

  it("user IDs too long for ENTL, unknown formats", async () => {
    const longId = await failure(
      unaryCall(client, client.Sign, { keyId: KEY, data, userId: "a".repeat(8192) }),
    );
    expect(longId).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "user_id: 8192 bytes is longer than 8191 bytes",
    });
    const format = await failure(
      unaryCall(client, client.Sign, {
        keyId: KEY,
        data,
        format: 42 as unknown as "SIGNATURE_FORMAT_RAW_DER",
      }),
    );
    expect(format).toEqual({ code: status.INVALID_ARGUMENT, details: "format: unknown signature format 42" });
  });

  it("the device is still serving after all of that", async () => {
    expect((await unaryCall(client, client.Health, {})).status).toBe("SERVING");
  });
});

describe("SignBatch", () => {
  it("signs every good item and gives each bad item its own status", async () => {
    const items = [
      { keyId: KEY, data: Buffer.from("one"), requestId: "a" },
      { keyId: "nobody", data: Buffer.from("two"), requestId: "b" },
      { keyId: KEY, data: Buffer.alloc(MAX_PAYLOAD + 1), requestId: "c" },
      { keyId: KEY, data: Buffer.from("four"), userId: "u-4", format: "SIGNATURE_FORMAT_RAW_RS" as const },
      { keyId: KEY, data: Buffer.from("five"), userId: "z".repeat(9000) },
    ];
    const { results } = await unaryCall(client, client.SignBatch, { items }, { deadlineMs: 20_000 });
    expect(results.map((r) => [r.index, r.outcome, r.error?.code])).toEqual([
      [0, "signature", undefined],
      [1, "error", status.NOT_FOUND],
      [2, "error", status.RESOURCE_EXHAUSTED],
      [3, "signature", undefined],
      [4, "error", status.INVALID_ARGUMENT],
    ]);
    expect(results[0]?.signature?.requestId).toBe("a");
    expect(verify("one", results[0]?.signature?.signature ?? Buffer.alloc(0), publicKey)).toBe(true);
    expect(
      verify("four", results[3]?.signature?.signature ?? Buffer.alloc(0), publicKey, {
        userId: "u-4",
        format: "raw",
      }),
    ).toBe(true);
    expect(results[1]?.error?.message).toBe('key_id: no key "nobody" on this device');
  });

  it("refuses a batch over the item limit as a whole", async () => {
    const items = Array.from({ length: 51 }, () => ({ keyId: KEY, data: Buffer.from("x") }));
    expect(await failure(unaryCall(client, client.SignBatch, { items }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "items: 51 items is over the device's limit of 50",
    });
  });
});

describe("VerifyBatch", () => {
  it("gives each item the verdict Verify would, and each bad item its own status", async () => {
    const data = Buffer.from("batch verify");
    const { signature } = await unaryCall(client, client.Sign, { keyId: KEY, data, userId: "u-9" });
    const items = [
      { keyId: KEY, data, signature, userId: "u-9", requestId: "good" },
      { keyId: KEY, data: Buffer.from("other"), signature, userId: "u-9" },
      { keyId: "nobody", data, signature },
      { publicKey: publicKey.toDer(), data, signature, userId: "u-9" },
      { keyId: KEY, data, signature: Buffer.alloc(0) },
      { data, signature, userId: "u-9" },
    ];
    const { results } = await unaryCall(client, client.VerifyBatch, { items }, { deadlineMs: 20_000 });
    expect(results.map((r) => [r.index, r.outcome, r.verdict?.valid, r.error?.code])).toEqual([
      [0, "verdict", true, undefined],
      [1, "verdict", false, undefined],
      [2, "error", undefined, status.NOT_FOUND],
      [3, "verdict", true, undefined],
      [4, "error", undefined, status.INVALID_ARGUMENT],
      [5, "error", undefined, status.INVALID_ARGUMENT],
    ]);
    expect(results[0]?.verdict).toMatchObject({
      requestId: "good",
      signerFingerprint: sm3(certificate).toString("hex"),
    });
    expect(results[1]?.verdict?.reason).toMatch(/does not match/);
    expect(results[4]?.error?.message).toBe("signature: required");
    // Each verdict is the one Verify gives for the same item alone.
    for (const [i, item] of items.entries()) {
      const alone = await unaryCall(client, client.Verify, item).then(
        (v) => ({ valid: v.valid, reason: v.reason }),
        (e: { code: number }) => ({ code: e.code }),
      );
      const batched = results[i]!.verdict
        ? { valid: results[i]!.verdict!.valid, reason: results[i]!.verdict!.reason }
        : { code: results[i]!.error!.code };
      expect(batched).toEqual(alone);
    }
  });

  it("refuses a batch over the item limit as a whole", async () => {
    const items = Array.from({ length: 51 }, () => ({
      keyId: KEY,
      data: Buffer.from("x"),
      signature: Buffer.from("y"),
    }));
    expect(await failure(unaryCall(client, client.VerifyBatch, { items }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "items: 51 items is over the device's limit of 50",
    });
  });
});

describe("SignStream", () => {
  it("signs a payload larger than the unary limit, hashed as it arrives", async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(128 * 1024, i));
    const whole = Buffer.concat(chunks);
    expect(whole.length).toBeGreaterThan(MAX_PAYLOAD);
    const signed = await clientStreamCall(client, client.SignStream, async (send) => {
      await send({ header: { keyId: KEY, userId: "stream-user", requestId: "s-1" } });
      for (const chunk of chunks) await send({ chunk });
    });
    expect(signed).toMatchObject({ keyId: KEY, requestId: "s-1", format: "SIGNATURE_FORMAT_RAW_DER" });
    expect(verify(whole, signed.signature, publicKey, { userId: "stream-user" })).toBe(true);
    expect(opensslVerifies(whole, signed.signature, publicKey, "stream-user")).toBe(true);
  });

  it("signs an empty stream (header only) like an empty message", async () => {
    const signed = await clientStreamCall(client, client.SignStream, async (send) => {
      await send({ header: { keyId: KEY, format: "SIGNATURE_FORMAT_RAW_RS" } });
    });
    expect(verify(Buffer.alloc(0), signed.signature, publicKey, { format: "raw" })).toBe(true);
  });

  it("refuses a stream without header, with two headers, for an unknown key, attached PKCS#7, over the limit", async () => {
    const noHeader = await failure(
      clientStreamCall(client, client.SignStream, async (send) => {
        await send({ chunk: Buffer.from("data first") });
      }),
    );
    expect(noHeader).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "header: the first message must be the header",
    });

    const twice = await failure(
      clientStreamCall(client, client.SignStream, async (send) => {
        await send({ header: { keyId: KEY } });
        await send({ header: { keyId: KEY } });
      }),
    );
    expect(twice.code).toBe(status.INVALID_ARGUMENT);

    const empty = await failure(clientStreamCall(client, client.SignStream, async () => {}));
    expect(empty).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "header: the stream ended without a header",
    });

    const unknown = await failure(
      clientStreamCall(client, client.SignStream, async (send) => {
        await send({ header: { keyId: "nobody" } });
        await send({ chunk: Buffer.from("x") });
      }),
    );
    expect(unknown.code).toBe(status.NOT_FOUND);

    const attached = await failure(
      clientStreamCall(client, client.SignStream, async (send) => {
        await send({ header: { keyId: KEY, format: "SIGNATURE_FORMAT_PKCS7_ATTACHED" } });
      }),
    );
    expect(attached.code).toBe(status.INVALID_ARGUMENT);

    const tooLong = await failure(
      clientStreamCall(
        client,
        client.SignStream,
        async (send) => {
          await send({ header: { keyId: KEY } });
          for (let i = 0; i < 20; i++) await send({ chunk: Buffer.alloc(512 * 1024) });
        },
        { deadlineMs: 30_000 },
      ),
    );
    expect(tooLong.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(tooLong.details).toContain(`limit of ${MAX_STREAM} bytes`);
    expect((await unaryCall(client, client.Health, {})).status).toBe("SERVING");
  });
});

describe("under load", () => {
  const data = Buffer.alloc(256, 7);

  /** Health on its own connection, every 20 ms until `done`; the slowest answer and the most in flight. */
  async function probeHealth(
    done: () => boolean,
  ): Promise<{ slowest: number; inFlight: number; answers: number }> {
    const probe = device.connect();
    let slowest = 0;
    let inFlight = 0;
    let answers = 0;
    try {
      while (!done()) {
        const t0 = performance.now();
        const health = await unaryCall(probe, probe.Health, {}, { deadlineMs: 30_000 });
        slowest = Math.max(slowest, performance.now() - t0);
        inFlight = Math.max(inFlight, health.inFlight);
        answers++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      probe.close();
    }
    return { slowest, inFlight, answers };
  }

  it("Health answers at once while 2,000 signs are in flight (40 batches of 50)", async () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ keyId: KEY, data, requestId: String(i) }));
    let finished = false;
    const started = performance.now();
    const batches = Promise.all(
      Array.from({ length: 40 }, () =>
        unaryCall(client, client.SignBatch, { items }, { deadlineMs: 60_000 }),
      ),
    ).finally(() => {
      finished = true;
    });
    const [responses, health] = await Promise.all([batches, probeHealth(() => finished)]);
    const elapsed = (performance.now() - started) / 1000;
    const results = responses.flatMap((r) => r.results);
    expect(results).toHaveLength(2000);
    expect(results.every((r) => r.outcome === "signature")).toBe(true);
    expect(
      results.slice(0, 50).every((r) => verify(data, r.signature?.signature ?? Buffer.alloc(0), publicKey)),
    ).toBe(true);
    expect(health.answers).toBeGreaterThan(1);
    // The SM2 work is on the workers: Health waits for no signature. Shown by Health answering
    // while a whole batch and more was still in flight: queued behind the signatures, it would
    // only ever have seen them done. (Its latency is no longer compared with the run's length:
    // with the native SM2 the run is mostly the main thread decoding the 40 batches, which Health
    // does queue behind, as it should.)
    expect(health.inFlight).toBeGreaterThan(50);
    process.stdout.write(
      `signing-device: 2000 signs in 40 SignBatch calls in ${elapsed.toFixed(2)} s = ${Math.round(2000 / elapsed)}/s; Health slowest ${Math.round(health.slowest)} ms, in flight up to ${health.inFlight}\n`,
    );
  });

  it("2,000 concurrent unary Sign calls all succeed while Health keeps answering", async () => {
    let finished = false;
    const started = performance.now();
    const signs = Promise.all(
      Array.from({ length: 2000 }, (_, i) =>
        unaryCall(client, client.Sign, { keyId: KEY, data, requestId: String(i) }, { deadlineMs: 60_000 }),
      ),
    ).finally(() => {
      finished = true;
    });
    const [results, health] = await Promise.all([signs, probeHealth(() => finished)]);
    const elapsed = (performance.now() - started) / 1000;
    expect(results.every((r, i) => r.requestId === String(i))).toBe(true);
    expect(results.slice(0, 50).every((r) => verify(data, r.signature, publicKey))).toBe(true);
    expect(health.answers).toBeGreaterThan(0);
    // Here Health queues behind the decoding of 2,000 requests (gRPC I/O is the main thread's job),
    // but it still answers before they are all done.
    expect(health.slowest).toBeLessThan(elapsed * 1000);
    process.stdout.write(
      `signing-device: 2000 unary signs in ${elapsed.toFixed(2)} s = ${Math.round(2000 / elapsed)}/s; Health slowest ${Math.round(health.slowest)} ms, in flight up to ${health.inFlight}\n`,
    );
  });
});
