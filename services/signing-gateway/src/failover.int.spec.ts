import * as grpc from "@grpc/grpc-js";
import { Sm2PublicKey, verify } from "@piaoju/gm-crypto";
import type { GetCertificateResponse } from "@piaoju/proto/signing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  makeKeystore,
  type RunningTestDevice,
  spawnDevice,
  type TestKeystore,
} from "../../../test/support/signing-device.ts";
import { type RunningGateway, startSigningGateway } from "./gateway.ts";
import { longestCallMs, longestGapMs, startSignLoad, until } from "./testing/load.ts";
import { gatewayClient, gatewaySecurity } from "./testing/tls.ts";

const KEY = "agency-110101";
const DEVICE_ENV = { PIAOJU_SIGNING_DEVICE_WORKERS: "1" };

let keystore: TestKeystore;
const devices: RunningTestDevice[] = [];

beforeAll(() => {
  keystore = makeKeystore();
});

afterAll(async () => {
  for (const d of devices) {
    if (d.process.exitCode === null && d.process.signalCode === null) await d.stop().catch(() => {});
  }
});

async function device(env: Record<string, string> = {}): Promise<RunningTestDevice> {
  const d = await spawnDevice(keystore, { ...DEVICE_ENV, ...env });
  devices.push(d);
  return d;
}

async function certificate(gateway: RunningGateway): Promise<GetCertificateResponse> {
  const client = await gatewayClient(gateway.address);
  return new Promise((resolve, reject) =>
    client.GetCertificate({ keyId: KEY }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e, r) => {
      client.close();
      e ? reject(e) : resolve(r as GetCertificateResponse);
    }),
  );
}

describe("signing gateway, active-standby over two real device processes", () => {
  it("loses no request and keeps every signature valid when the primary is SIGKILLed mid-load, and moves back when a primary comes up again", async () => {
    const primary = await device();
    const standby = await device();
    const primaryAddress = `127.0.0.1:${primary.port}`;
    const standbyAddress = `127.0.0.1:${standby.port}`;
    const gateway = await startSigningGateway({
      ...(await gatewaySecurity()),
      devices: [primaryAddress, standbyAddress],
    });
    let stopLoad = async () => {};
    try {
      const publicKey = Sm2PublicKey.fromDer((await certificate(gateway)).publicKey);
      const client = await gatewayClient(gateway.address);
      const load = startSignLoad(client, { keyId: KEY, concurrency: 32 });
      stopLoad = () => load.stop();
      await new Promise((r) => setTimeout(r, 1_500));
      const killedAt = Date.now();
      primary.process.kill("SIGKILL");
      const servedByStandby = () =>
        gateway.stats().switches.some((s) => s.at >= killedAt && s.to === standbyAddress);
      await until(servedByStandby, 10_000, "the switch to the standby");
      await new Promise((r) => setTimeout(r, 1_500));
      await device({ PIAOJU_SIGNING_DEVICE_LISTEN: primaryAddress });
      const restartedAt = Date.now();
      const backOnPrimary = () =>
        gateway.stats().switches.some((s) => s.at >= restartedAt && s.to === primaryAddress);
      await until(backOnPrimary, 15_000, "the switch back to the new primary").catch((error: unknown) => {
        console.log(JSON.stringify(gateway.stats(), null, 1));
        throw error;
      });
      await new Promise((r) => setTimeout(r, 1_000));
      await load.stop();
      client.close();

      const outcomes = load.outcomes;
      const failures = outcomes.filter((o) => o.error);
      const invalid = outcomes.filter((o) => o.signature && !verify(o.data, o.signature, publicKey));
      const stats = gateway.stats();
      const toStandby = stats.switches.find((s) => s.at >= killedAt && s.to === standbyAddress)!;
      const toPrimary = stats.switches.find((s) => s.at >= restartedAt && s.to === primaryAddress)!;
      const duringKill = outcomes.filter((o) => o.startedAt <= toStandby.at + 200 && o.endedAt >= killedAt);
      console.log(
        [
          "failover (active-standby, 2 device processes, 32 concurrent callers, SIGKILL of the primary):",
          `  requests                 ${outcomes.length}`,
          `  failed requests          ${failures.length}`,
          `  signatures verified      ${outcomes.length - failures.length - invalid.length} valid, ${invalid.length} invalid`,
          `  longest request          ${longestCallMs(outcomes)} ms`,
          `  longest pause            ${longestGapMs(outcomes)} ms (no request completed)`,
          `  longest request at kill  ${longestCallMs(duringKill)} ms`,
          `  time to switch           ${toStandby.at - killedAt} ms (SIGKILL → standby active)`,
          `  time to switch back      ${toPrimary.at - restartedAt} ms (new primary listening → primary active)`,
          `  retries on other device  ${stats.retries}; SignBatch calls ${stats.batches} carrying ${stats.batchedItems} signs`,
        ].join("\n"),
      );
      if (failures.length > 0)
        console.log(
          "first failures:",
          failures.slice(0, 5).map((f) => f.error),
        );
      expect(failures).toHaveLength(0);
      expect(invalid).toHaveLength(0);
      expect(outcomes.length).toBeGreaterThan(100);
    } finally {
      await stopLoad();
      await gateway.close();
    }
  }, 240_000);
});
