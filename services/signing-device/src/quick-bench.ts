import { rmSync } from "node:fs";
import { unaryCall } from "@piaoju/runtime";
import { makeKeystore, spawnDevice } from "../../../test/support/signing-device.ts";

/**
 * A quick loop, not the benchmark: spawns the device (PIAOJU_SIGNING_DEVICE_WORKERS, default 2)
 * and measures signs and verifies per second over gRPC from this one process, unary and batched.
 * `tsx services/signing-device/src/quick-bench.ts [seconds]`
 */

const seconds = Number(process.argv[2] ?? 3);
const KEY = "agency-110101";
const data = Buffer.alloc(256, 7);

const keystore = makeKeystore();
const device = await spawnDevice(keystore, {
  PIAOJU_SIGNING_DEVICE_WORKERS: process.env.PIAOJU_SIGNING_DEVICE_WORKERS ?? "2",
});
const { client } = device;

async function loop(name: string, concurrency: number, once: () => Promise<number>): Promise<void> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const n = await once();
        done += n;
      }
    }),
  );
  const rate = done / ((performance.now() - start) / 1000);
  process.stdout.write(`${name.padEnd(40)} ${Math.round(rate).toLocaleString("en")}/s\n`);
}

try {
  const { signature } = await unaryCall(client, client.Sign, { keyId: KEY, data });
  await loop("warm-up", 64, async () => {
    await unaryCall(client, client.Sign, { keyId: KEY, data });
    return 1;
  });
  await loop("Sign, unary, 256 concurrent", 256, async () => {
    await unaryCall(client, client.Sign, { keyId: KEY, data });
    return 1;
  });
  const items = Array.from({ length: 100 }, () => ({ keyId: KEY, data }));
  await loop("Sign via SignBatch(100), 8 concurrent", 8, async () => {
    const { results } = await unaryCall(client, client.SignBatch, { items }, { deadlineMs: 30_000 });
    return results.length;
  });
  await loop("Verify, unary, 256 concurrent", 256, async () => {
    await unaryCall(client, client.Verify, { keyId: KEY, data, signature });
    return 1;
  });
} finally {
  await device.stop();
  rmSync(keystore.dir, { recursive: true, force: true });
}
