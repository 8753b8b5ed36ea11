import * as grpc from "@grpc/grpc-js";
import { verifySignedData } from "@piaoju/gm-crypto";
import { loadSigningProto, type SigningDeviceClient, type SignResponse } from "@piaoju/proto/signing";
import { clientStreamCall, unaryCall } from "@piaoju/runtime";
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
  type TestKeystore,
} from "../../../test/support/signing-device.ts";
import { type RunningGateway, startSigningGateway } from "./gateway.ts";
import { gatewayClient, gatewaySecurity } from "./testing/tls.ts";

/**
 * Who may sign through the signing gateway, over a real device process and real gRPC with mutual
 * TLS both ways (callers → gateway, gateway → device): callers are the identities in their
 * certificates, and the signing policy lets only the receipt signers use an agency's key.
 */

const AGENCY_KEY = "agency-110101";
/** A key on the device that is no agency's (makeKeystore's `bare`, with no certificate). */
const OTHER_KEY = "bare";
let keystore: TestKeystore;
let device: RunningTestDevice;
let gateway: RunningGateway;
const clients: SigningDeviceClient[] = [];

beforeAll(async () => {
  keystore = makeKeystore();
  device = await spawnDevice(keystore, { PIAOJU_SIGNING_DEVICE_WORKERS: "1" });
  gateway = await startSigningGateway({
    ...(await gatewaySecurity()),
    devices: [`127.0.0.1:${device.port}`],
  });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await gateway?.close();
  await device?.stop();
});

async function as(identity: string): Promise<SigningDeviceClient> {
  const c = await gatewayClient(gateway.address, identity);
  clients.push(c);
  return c;
}

function withCredentials(credentials: grpc.ChannelCredentials): SigningDeviceClient {
  const c = loadSigningProto().newClient(gateway.address, credentials, { ...TLS_CHANNEL_OPTIONS });
  clients.push(c);
  return c;
}

async function outcome(call: Promise<unknown>): Promise<{ code: number; details?: string }> {
  try {
    await call;
    return { code: grpc.status.OK };
  } catch (error) {
    const e = error as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
}

const data = Buffer.from("<Receipt>120.00</Receipt>");
const sign = (c: SigningDeviceClient, keyId: string) =>
  unaryCall<object, SignResponse>(c, c.Sign, { keyId, data, format: "SIGNATURE_FORMAT_PKCS7_DETACHED" });

describe("the signing gateway authenticates callers by mutual TLS and applies the signing policy", () => {
  it("lets issuance sign with an agency's key (through a device that serves only the gateway)", async () => {
    const response = await sign(await as("issuance"), AGENCY_KEY);
    expect(verifySignedData(response.signature, { content: data })).toMatchObject({ valid: true });
  });

  it("refuses UNAUTHENTICATED a caller without a certificate, with one from another CA, and with an expired one", async () => {
    const pki = await testPki();
    const ca = Buffer.from(pki.ca.certificatePem);
    const foreign = await issueServiceCertificate(await createServiceCa(), { identity: "issuance" });
    const expired = await issueServiceCertificate(pki.ca, {
      identity: "issuance",
      notBefore: new Date(Date.now() - 30 * 86_400_000),
      notAfter: new Date(Date.now() - 60_000),
    });
    const pair = (c: { certificatePem: string; keyPem: string }) => ({
      ca,
      cert: Buffer.from(c.certificatePem),
      key: Buffer.from(c.keyPem),
    });
    for (const [name, credentials] of Object.entries({
      none: clientCredentials({ ca }, ["signing-gateway"]),
      foreign: clientCredentials(pair(foreign), ["signing-gateway"]),
      expired: clientCredentials(pair(expired), ["signing-gateway"]),
    })) {
      const result = await outcome(sign(withCredentials(credentials), AGENCY_KEY));
      expect({ name, code: result.code }).toEqual({ name, code: grpc.status.UNAUTHENTICATED });
    }
  });

  it("refuses PERMISSION_DENIED a valid certificate of a service not allowed an agency's key, on Sign, SignBatch and SignStream", async () => {
    const reporting = await as("reporting");
    expect(await outcome(sign(reporting, AGENCY_KEY))).toEqual({
      code: grpc.status.PERMISSION_DENIED,
      details: '"reporting" may not call the signing gateway',
    });
    // Delivery signs receipt PDFs with agency keys (ADR signed-receipt-pdf), and no other key.
    const delivery = await as("delivery");
    expect((await outcome(sign(delivery, AGENCY_KEY))).code).toBe(grpc.status.OK);
    expect(await outcome(sign(delivery, OTHER_KEY))).toEqual({
      code: grpc.status.PERMISSION_DENIED,
      details: `"delivery" may not use key "${OTHER_KEY}" (Sign)`,
    });
    const issuance = await as("issuance");
    expect(await outcome(sign(issuance, OTHER_KEY))).toEqual({
      code: grpc.status.PERMISSION_DENIED,
      details: `"issuance" may not use key "${OTHER_KEY}" (Sign)`,
    });
    const batch = unaryCall(issuance, issuance.SignBatch, {
      items: [
        { keyId: AGENCY_KEY, data },
        { keyId: OTHER_KEY, data },
      ],
    });
    expect((await outcome(batch)).code).toBe(grpc.status.PERMISSION_DENIED);
    const stream = (keyId: string) =>
      clientStreamCall(issuance, issuance.SignStream, async (send) => {
        await send({ header: { keyId, format: "SIGNATURE_FORMAT_RAW_DER" } });
        await send({ chunk: data });
      });
    expect((await outcome(stream(OTHER_KEY))).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(await outcome(stream(AGENCY_KEY))).toEqual({ code: grpc.status.OK });
    // Reading public things is open to a caller the gateway admits.
    expect(await outcome(unaryCall(issuance, issuance.GetCertificate, { keyId: AGENCY_KEY }))).toEqual({
      code: grpc.status.OK,
    });
  });

  it("will not call a device whose certificate names another service", async () => {
    const impostor = await startSigningGateway({
      ...(await gatewaySecurity()),
      // The gateway itself, pretending to be a device: its certificate says signing-gateway.
      devices: [gateway.address],
      health: { intervalMs: 100 },
    });
    try {
      const c = await gatewayClient(impostor.address);
      clients.push(c);
      const result = await outcome(sign(c, AGENCY_KEY));
      expect(result.code).toBe(grpc.status.UNAVAILABLE);
      expect(impostor.stats().devices[0]?.healthy).toBe(false);
    } finally {
      await impostor.close();
    }
  });
});
