import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createServiceCa,
  identityOfCertificate,
  issueServiceCertificate,
  type ServiceCa,
  ServiceIdentityError,
} from "./ca.ts";

/**
 * A service's TLS material as files, in the layout of a Kubernetes TLS secret (and of what
 * cert-manager writes), so a mounted secret is used as is:
 *
 *   <dir>/ca.crt   the CA certificate(s) this service trusts for its peers (PEM; during a CA
 *                  rotation both the old and the new CA)
 *   <dir>/tls.crt  its own certificate, leaf first, then the chain
 *   <dir>/tls.key  its private key (PKCS#8 PEM)
 */
export interface ServiceTls {
  /** Where it was read from (for messages). */
  dir: string;
  identity: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  notAfter: Date;
}

function read(dir: string, file: string): Buffer {
  const path = join(dir, file);
  if (!existsSync(path))
    throw new ServiceIdentityError(`${path} is missing (a TLS dir holds ca.crt, tls.crt and tls.key)`);
  return readFileSync(path);
}

/** Reads and checks a TLS dir: the key is the certificate's, the certificate names one identity. */
export function loadServiceTls(dir: string): ServiceTls {
  const ca = read(dir, "ca.crt");
  const cert = read(dir, "tls.crt");
  const key = read(dir, "tls.key");
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new ServiceIdentityError(`${join(dir, "tls.crt")} is not a PEM certificate`, { cause: error });
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) {
      throw new ServiceIdentityError(`${join(dir, "tls.key")} is not the key of ${join(dir, "tls.crt")}`);
    }
  } catch (error) {
    if (error instanceof ServiceIdentityError) throw error;
    throw new ServiceIdentityError(`${join(dir, "tls.key")} is not a PEM private key`, { cause: error });
  }
  const identity = identityOfCertificate(cert);
  if (!identity) {
    throw new ServiceIdentityError(
      `${join(dir, "tls.crt")} names no service identity (a URI subject alternative name spiffe://piaoju/<service>)`,
    );
  }
  return { dir, identity, ca, cert, key, notAfter: new Date(leaf.validTo) };
}

function writeAtomically(path: string, content: string, mode: number): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, path);
}

/** Writes a TLS dir (0700, the key 0600). */
export function writeServiceTls(
  dir: string,
  material: { caPem: string; certificatePem: string; keyPem: string },
): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeAtomically(join(dir, "ca.crt"), material.caPem, 0o644);
  writeAtomically(join(dir, "tls.key"), material.keyPem, 0o600);
  writeAtomically(join(dir, "tls.crt"), material.certificatePem, 0o644);
}

/** Reads a CA kept as `<dir>/ca.crt` + `<dir>/ca.key`. */
export function loadServiceCa(dir: string): ServiceCa {
  return {
    certificatePem: read(dir, "ca.crt").toString("utf8"),
    keyPem: read(dir, "ca.key").toString("utf8"),
  };
}

export function writeServiceCa(dir: string, ca: ServiceCa): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeAtomically(join(dir, "ca.key"), ca.keyPem, 0o600);
  writeAtomically(join(dir, "ca.crt"), ca.certificatePem, 0o644);
}

const RENEW_BEFORE_MS = 30 * 86_400_000;

/**
 * Embedded mode's own service identities, made on first start and kept in the data folder's
 * secrets: a CA in `<secrets>/service-ca/` and a TLS dir per identity in `<secrets>/tls/<identity>/`.
 * A certificate that ends within 30 days (or was issued by another CA) is issued again.
 * Returns each identity's TLS dir.
 */
export async function ensureEmbeddedServiceTls(
  secretsDir: string,
  identities: readonly string[],
): Promise<Record<string, string>> {
  const caDir = join(secretsDir, "service-ca");
  let ca: ServiceCa;
  if (existsSync(join(caDir, "ca.key")) && existsSync(join(caDir, "ca.crt"))) {
    ca = loadServiceCa(caDir);
  } else {
    ca = await createServiceCa({ name: "Piaoju embedded service CA" });
    writeServiceCa(caDir, ca);
  }
  const caCert = new X509Certificate(ca.certificatePem);
  const dirs: Record<string, string> = {};
  for (const identity of identities) {
    const dir = join(secretsDir, "tls", identity);
    dirs[identity] = dir;
    if (current(dir, identity, caCert)) continue;
    const issued = await issueServiceCertificate(ca, { identity, validDays: 365 });
    writeServiceTls(dir, {
      caPem: ca.certificatePem,
      certificatePem: issued.certificatePem,
      keyPem: issued.keyPem,
    });
  }
  return dirs;
}

/** The TLS dir holds a certificate for `identity` from `ca` that is good for more than 30 days. */
function current(dir: string, identity: string, ca: X509Certificate): boolean {
  try {
    const tls = loadServiceTls(dir);
    const leaf = new X509Certificate(tls.cert);
    return (
      tls.identity === identity &&
      leaf.verify(ca.publicKey) &&
      tls.notAfter.getTime() - Date.now() > RENEW_BEFORE_MS &&
      tls.ca.toString("utf8").includes(ca.toString().trim())
    );
  } catch {
    return false;
  }
}
