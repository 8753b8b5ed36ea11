import * as grpc from "@grpc/grpc-js";
import { loadSigningProto, type SigningDeviceClient } from "@piaoju/proto/signing";
import { unaryCall } from "@piaoju/runtime";
import {
  clientCredentials,
  createServiceCa,
  issueServiceCertificate,
  TLS_CHANNEL_OPTIONS,
} from "@piaoju/service-identity";
import { testPki } from "@piaoju/service-identity/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  makeKeystore,
  type RunningTestDevice,
  spawnDevice,
  spawnDeviceExpectingFailure,
  type TestKeystore,
} from "../../../test/support/signing-device.ts";

/**
 * Who reaches a device: only the signing gateway, by a certificate of the platform's service CA
 * (mutual TLS), over a real device process and real gRPC. Every other caller is refused with the
 * status that says why, and nothing is signed for it.
 */

const KEY = "agency-110101";
let keystore: TestKeystore;
let device: RunningTestDevice;
const clients: SigningDeviceClient[] = [];

beforeAll(async () => {
  keystore = makeKeystore();
  device = await spawnDevice(keystore, { PIAOJU_SIGNING_DEVICE_WORKERS: "1" });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await device?.stop();
});

const b = (text: string) => Buffer.from(text);

function client(credentials: grpc.ChannelCredentials): SigningDeviceClient {
  const c = loadSigningProto().newClient(`127.0.0.1:${device.port}`, credentials, { ...TLS_CHANNEL_OPTIONS });
  clients.push(c);
  return c;
}

async function sign(c: SigningDeviceClient): Promise<{ code: number; details?: string }> {
  try {
    await unaryCall(c, c.Sign, { keyId: KEY, data: b("报文") }, { deadlineMs: 5_000 });
    return { code: grpc.status.OK };
  } catch (error) {
    const e = error as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
}

describe("a signing device authenticates every caller by mutual TLS", () => {
  it("signs for the signing gateway, whose certificate the platform's CA issued", async () => {
    const pki = await testPki();
    const c = client(clientCredentials(await pki.tls("signing-gateway"), ["signing-device"]));
    expect(await sign(c)).toEqual({ code: grpc.status.OK });
  });

  it("refuses UNAUTHENTICATED a caller without a certificate, with one from another CA, and with an expired one", async () => {
    const pki = await testPki();
    const ca = b(pki.ca.certificatePem);
    const otherCa = await createServiceCa({ name: "someone else's CA" });
    const foreign = await issueServiceCertificate(otherCa, { identity: "signing-gateway" });
    const expired = await issueServiceCertificate(pki.ca, {
      identity: "signing-gateway",
      notBefore: new Date(Date.now() - 30 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const callers = {
      none: clientCredentials({ ca }, ["signing-device"]),
      foreign: clientCredentials({ ca, cert: b(foreign.certificatePem), key: b(foreign.keyPem) }, [
        "signing-device",
      ]),
      expired: clientCredentials({ ca, cert: b(expired.certificatePem), key: b(expired.keyPem) }, [
        "signing-device",
      ]),
    };
    for (const [name, credentials] of Object.entries(callers)) {
      const outcome = await sign(client(credentials));
      expect({ name, ...outcome }).toEqual({
        name,
        code: grpc.status.UNAUTHENTICATED,
        details: expect.stringContaining("client certificate is required"),
      });
    }
  });

  it("refuses PERMISSION_DENIED a valid certificate of a service the policy does not let call devices, on every RPC", async () => {
    const pki = await testPki();
    const issuance = client(clientCredentials(await pki.tls("issuance"), ["signing-device"]));
    expect(await sign(issuance)).toEqual({
      code: grpc.status.PERMISSION_DENIED,
      details: '"issuance" may not call the signing device',
    });
    await expect(unaryCall(issuance, issuance.Health, {})).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
  });

  it("does not speak plaintext: a caller without TLS never reaches a handler", async () => {
    const outcome = await sign(client(grpc.credentials.createInsecure()));
    expect(outcome.code).toBe(grpc.status.UNAVAILABLE);
  });

  it("will not start without its TLS identity unless plaintext is asked for, and then only on purpose", async () => {
    const refused = await spawnDeviceExpectingFailure(keystore, { PIAOJU_SIGNING_DEVICE_TLS_DIR: "" });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("PIAOJU_SIGNING_DEVICE_TLS_DIR: required");
    const plaintext = await spawnDevice(keystore, {
      PIAOJU_SIGNING_DEVICE_TLS_DIR: "",
      PIAOJU_SIGNING_DEVICE_PLAINTEXT: "true",
      PIAOJU_SIGNING_DEVICE_WORKERS: "1",
    });
    try {
      expect(await sign(plaintext.client)).toEqual({ code: grpc.status.OK });
    } finally {
      await plaintext.stop();
    }
  });
});
