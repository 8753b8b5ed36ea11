import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { createServiceCa, issueServiceCertificate, type ServiceCa } from "./ca.ts";
import { clientCredentials, TLS_CHANNEL_OPTIONS } from "./grpc.ts";
import { loadServiceTls, type ServiceTls, writeServiceTls } from "./tls-files.ts";

/**
 * Tests' service identities: one CA per test process, a TLS dir per identity made on first ask,
 * in a temporary folder. The real CA and certificate code, nothing stubbed.
 */
export interface TestPki {
  ca: ServiceCa;
  dir: string;
  /** The TLS dir of `identity` (ca.crt, tls.crt, tls.key), made on first ask. */
  tlsDir(identity: string): Promise<string>;
  tls(identity: string): Promise<ServiceTls>;
  /** Credentials and channel options for calling `server` as `identity`. */
  client(
    identity: string,
    server: string,
  ): Promise<{ credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions }>;
}

let shared: Promise<TestPki> | undefined;

/** The test process's PKI. */
export function testPki(): Promise<TestPki> {
  shared ??= makeTestPki();
  return shared;
}

export async function makeTestPki(): Promise<TestPki> {
  const ca = await createServiceCa({ name: "Piaoju test service CA" });
  const dir = mkdtempSync(join(tmpdir(), "piaoju-pki-"));
  const made = new Map<string, Promise<string>>();
  const tlsDir = (identity: string): Promise<string> => {
    let found = made.get(identity);
    if (!found) {
      found = issueServiceCertificate(ca, { identity }).then((issued) => {
        const path = join(dir, identity);
        writeServiceTls(path, {
          caPem: ca.certificatePem,
          certificatePem: issued.certificatePem,
          keyPem: issued.keyPem,
        });
        return path;
      });
      made.set(identity, found);
    }
    return found;
  };
  const tls = async (identity: string) => loadServiceTls(await tlsDir(identity));
  return {
    ca,
    dir,
    tlsDir,
    tls,
    async client(identity, server) {
      return {
        credentials: clientCredentials(await tls(identity), [server]),
        options: { ...TLS_CHANNEL_OPTIONS },
      };
    },
  };
}
