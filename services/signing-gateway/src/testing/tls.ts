import { loadSigningProto, type SigningDeviceClient } from "@piaoju/proto/signing";
import { testPki } from "@piaoju/service-identity/testing";
import type { GatewaySecurity } from "../options.ts";

/**
 * The gateway's side of tests' mutual TLS: its own certificate from the test process's service
 * CA (the devices spawned by the device's testing.ts trust the same CA) and clients that call it
 * as a service the signing policy lets sign for agencies (`issuance`), or as another.
 */

/** What startSigningGateway needs to run as `signing-gateway`, with `agency-*` as agency keys. */
export async function gatewaySecurity(): Promise<GatewaySecurity> {
  return {
    tls: await (await testPki()).tls("signing-gateway"),
    isAgencyKey: (keyId) => keyId.startsWith("agency-"),
  };
}

/** A client of the gateway at `address`, calling as `identity` (default issuance). */
export async function gatewayClient(address: string, identity = "issuance"): Promise<SigningDeviceClient> {
  const { credentials, options } = await (await testPki()).client(identity, "signing-gateway");
  return loadSigningProto().newClient(address, credentials, options);
}
